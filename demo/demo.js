// ringcast demo chat (GET /demo on the WebSocket port, while ws.servePages is on; README.md).
//
// One user per page: ?mid=…&room=… (room "lobby" when missing). It uses @ringcast/client, served by
// the same server at /ringcast-client.js, and shows:
//   - room messages: op 4 to the built-in Demo/Say (src/upstream/demo-say.ts), which pushes them to
//     the sender's room as op 1100 {"from", "text", "room", "ts"};
//   - direct messages: reliable sends (op 110) to a mid, each with its delivery state
//       sent       handed to the SDK (it retries over reconnects)
//       stored     op 111 code 0: durable in the recipient's inbox
//       delivered  the recipient's page got it (a receipt it sends back)
//       read       the recipient's SDK acked it (op 113; a receipt sent on the SDK's ack event)
//     Receipts are reliable messages of their own (op 1101, JSON {"state", "ids"}), not shown.
//   - the room's online count (each heartbeat reply) and a banner while disconnected.
// Element ids are a contract (tests and users): #message, #to, #send, #messages.
import { RingcastClient } from '/ringcast-client.js';

const CHAT_OP = 1000;
const RECEIPT_OP = 1101;
const SAY_OP = 1100;
const ORDER = { sent: 0, stored: 1, delivered: 2, read: 3 };

const $ = (id) => document.getElementById(id);
const list = $('messages');
const decoder = new TextDecoder();

const params = new URLSearchParams(location.search);
let mid = Number(params.get('mid'));
if (!Number.isSafeInteger(mid) || mid <= 0) {
  mid = 1000 + Math.floor(Math.random() * 9000);
  params.set('mid', String(mid));
  history.replaceState(null, '', `${location.pathname}?${params}`);
}
const room = params.get('room') || 'lobby';
// A device key per tab (kept over reloads), so the server keeps this tab's read position.
const keyItem = `ringcast-demo-key:${mid}`;
const key = sessionStorage.getItem(keyItem) ?? `demo-${mid}-${Math.random().toString(36).slice(2, 10)}`;
sessionStorage.setItem(keyItem, key);
const wsPath = document.querySelector('meta[name="ringcast-ws-path"]')?.content || '/sub';

$('me').textContent = String(mid);
$('room').textContent = room;
document.title = `ringcast demo: ${mid} in ${room}`;

const client = new RingcastClient({
  url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${wsPath}`,
  auth: { mid, key, room_id: room, platform: 'web', accepts: [] },
  heartbeatMs: 5000, // the online count comes with each heartbeat reply
  reconnect: { minDelayMs: 300, maxDelayMs: 5000, resetAfterMs: 10000 },
  store: `ringcast-demo-seq:${key}`, // resume after a reload without a message twice
});
window.ringcastDemo = { client, mid, key, room };

// ---- the list ----

function item(kind, who, text, mine) {
  const li = document.createElement('li');
  li.className = mine ? 'mine' : '';
  li.dataset.kind = kind;
  const meta = document.createElement('span');
  meta.className = 'meta';
  const k = document.createElement('span');
  k.className = 'kind';
  k.textContent = kind;
  meta.append(k, who);
  const body = document.createElement('span');
  body.className = 'text';
  body.textContent = text;
  li.append(meta, body);
  list.append(li);
  li.scrollIntoView({ block: 'end' });
  return li;
}

function note(text) {
  const li = document.createElement('li');
  li.className = 'system';
  li.textContent = text;
  list.append(li);
}

let errorTimer = 0;
function showError(text) {
  const el = $('error');
  el.textContent = text;
  el.hidden = false;
  clearTimeout(errorTimer);
  errorTimer = setTimeout(() => (el.hidden = true), 8000);
}

// ---- direct messages and their delivery states ----

/** My direct messages by clientMsgId: their list item and state. */
const outgoing = new Map();
let counter = 0;

function setState(entry, state) {
  if (entry.state === 'failed' || (state !== 'failed' && ORDER[state] <= ORDER[entry.state])) return;
  entry.state = state;
  entry.li.dataset.state = state;
  entry.li.dataset.history = entry.li.dataset.history ? `${entry.li.dataset.history} ${state}` : state;
  entry.badge.textContent = state;
}

function sendDirect(to, text) {
  const clientMsgId = `${key}-${Date.now().toString(36)}-${++counter}`;
  const li = item('direct', `you → ${to}`, text, true);
  li.dataset.id = clientMsgId;
  const badge = document.createElement('span');
  badge.className = 'delivery';
  li.querySelector('.meta').append(badge);
  const entry = { li, badge, state: '' };
  outgoing.set(clientMsgId, entry);
  setState(entry, 'sent');
  client.send({ to, op: CHAT_OP, body: text, clientMsgId }).then(
    () => setState(entry, 'stored'),
    (err) => {
      setState(entry, 'failed');
      entry.badge.textContent = `failed: ${err.message}`;
      showError(`message to ${to} not sent: ${err.message}`);
    },
  );
}

/** Receipts waiting to go, by the mid to tell: delivered now (a microtask), read on the SDK's ack. */
const deliveredDue = new Map();
let unread = []; // { from, seq, id }
let receiptsQueued = false;

function receipt(to, state, ids) {
  client.send({ to, op: RECEIPT_OP, body: JSON.stringify({ state, ids }) }).catch((err) => {
    if (client.state !== 'closed') showError(`receipt to ${to} not sent: ${err.message}`);
  });
}

function flushDelivered() {
  receiptsQueued = false;
  for (const [to, ids] of deliveredDue) receipt(to, 'delivered', ids);
  deliveredDue.clear();
}

client.on('message', (m) => {
  if (m.op === RECEIPT_OP) {
    let r;
    try {
      r = JSON.parse(decoder.decode(m.body));
    } catch {
      return;
    }
    for (const id of Array.isArray(r.ids) ? r.ids : []) {
      const entry = outgoing.get(id);
      if (entry !== undefined && (r.state === 'delivered' || r.state === 'read')) setState(entry, r.state);
    }
    return;
  }
  const text = decoder.decode(m.body);
  if (m.op !== CHAT_OP) {
    item('message', `op ${m.op} from ${m.from}`, text, false);
    return;
  }
  const li = item('direct', `${m.from} → you`, text, m.from === mid);
  li.dataset.seq = String(m.seq);
  if (m.clientMsgId === '') return;
  const due = deliveredDue.get(m.from) ?? [];
  due.push(m.clientMsgId);
  deliveredDue.set(m.from, due);
  unread.push({ from: m.from, seq: m.seq, id: m.clientMsgId });
  if (!receiptsQueued) {
    receiptsQueued = true;
    queueMicrotask(flushDelivered);
  }
});

client.on('ack', (seq) => {
  const read = new Map();
  unread = unread.filter((u) => {
    if (u.seq > seq) return true;
    read.set(u.from, [...(read.get(u.from) ?? []), u.id]);
    return false;
  });
  for (const [to, ids] of read) receipt(to, 'read', ids);
});

// ---- room messages ----

client.on('push', (p) => {
  const text = decoder.decode(p.body);
  if (p.op !== SAY_OP) {
    item('push', `op ${p.op}`, text, false);
    return;
  }
  let said;
  try {
    said = JSON.parse(text);
  } catch {
    item('push', `op ${p.op}`, text, false);
    return;
  }
  item('room', said.from === mid ? `you in ${said.room}` : `${said.from} in ${said.room}`, String(said.text), said.from === mid);
});

async function sayToRoom(text) {
  try {
    const reply = await client.request('Demo/Say', text);
    if (reply.status !== 200) showError(`room message refused: ${reply.status} ${decoder.decode(reply.body)}`);
  } catch (err) {
    showError(`room message not sent: ${err.message}`);
  }
}

// ---- online count, state, banner ----

client.on('count', (n) => ($('online').textContent = String(n)));

const banner = $('banner');
const bannerText = $('banner-text');
const reconnect = $('reconnect');
client.on('state', (state, info) => {
  const el = $('state');
  el.textContent = state;
  el.className = `state-${state}`;
  banner.classList.toggle('closed', state === 'closed');
  reconnect.hidden = state !== 'closed';
  if (state === 'connected') {
    banner.hidden = true;
    return;
  }
  banner.hidden = false;
  const why = info.code !== 0 ? ` (${info.code}${info.reason ? `: ${info.reason}` : ''})` : '';
  if (state === 'connecting') bannerText.textContent = `Connecting${info.attempt > 1 ? `, attempt ${info.attempt}` : ''}…`;
  else if (state === 'disconnected') bannerText.textContent = `Disconnected${why}: reconnecting in ${Math.round((info.delayMs ?? 0) / 100) / 10} s…`;
  else bannerText.textContent = `Disconnected${why}; the server said not to reconnect by itself.`;
});

function connect() {
  client.connect().catch((err) => note(`not connected: ${err.message}`));
}
reconnect.addEventListener('click', connect);

// ---- compose ----

function send() {
  const input = $('message');
  const text = input.value;
  if (text.trim() === '') return;
  const toText = $('to').value.trim();
  if (toText === '') {
    void sayToRoom(text);
  } else {
    const to = Number(toText);
    if (!Number.isSafeInteger(to) || to <= 0) {
      showError(`recipient "${toText}" is not a mid (a positive integer); leave it empty for the room`);
      return;
    }
    sendDirect(to, text);
  }
  input.value = '';
  input.focus();
}
$('send').addEventListener('click', send);
$('message').addEventListener('keydown', (e) => {
  if (e.key === 'Enter') send();
});

connect();
