/**
 * One load-generator process (forked by generator.ts): opens its share of goim connections over
 * WebSocket or TCP, authenticates each into its room, heartbeats every `heartbeatMs` (one interval
 * timer for the process, connections spread over it), and for every pushed packet (op 9 unpacked)
 * parses the body's stream seq and send time: delivered, duplicates (per-connection bitset), missing
 * (against the pusher's counts at the end), latency into a log histogram. Talks to the parent by IPC.
 */
import net from 'node:net';
import { WebSocket } from 'ws';
import { decodeBatch, decodeFrame, encodePacket, GoimStreamDecoder, Op, PacketHandler } from '../../src/codec.js';
import { Histogram, nowMs, parseBody, parsed } from '../../test/helpers/load.js';
import { ClientInit, FinalReport, FromClient, PUSH_OP, ROOM_TYPE, ToClient } from './common.js';

function send(msg: FromClient): void {
  process.send?.(msg);
}

let init: ClientInit;
let ws: (WebSocket | null)[] = [];
let tcp: (net.Socket | null)[] = [];
let authed: Uint8Array;
let delivered: Uint32Array;
let unique: Uint32Array;
let dups: Uint32Array;
let lastSeq: Uint32Array;
let outOfOrder = 0;
let seen: Uint8Array[] = [];
let totalDelivered = 0;
let malformed = 0;
let open = 0;
let dropped = 0;
let stopping = false;
const hist = new Histogram();
let measureFrom = Infinity;
let measureTo = Infinity;

// Connect bookkeeping
let goMs = 0;
let lastAuthMs = 0;
let settled = 0;
let okCount = 0;
let errCount = 0;
const errorSamples: string[] = [];
let nextToStart = 0;
let inFlight = 0;

// Current connection and frame arrival time, for the allocation-free packet handler.
let cur = 0;
let frameNow = 0;

const HEARTBEAT = encodePacket(Op.Heartbeat, 0, null);

const onPacket: PacketHandler = (_ver, op, _seq, buf, off, len) => {
  if (op === PUSH_OP) {
    onPush(cur, buf, off, len);
  } else if (op === Op.Raw) {
    decodeBatch(buf, off, len, onPacket);
  } else if (op === Op.AuthReply) {
    onAuthed(cur);
  } else if (op === Op.DisconnectReply) {
    // the close follows
  }
};

function onPush(i: number, buf: Uint8Array, off: number, len: number): void {
  if (!parseBody(buf, off, len)) {
    malformed++;
    return;
  }
  const s = parsed.streamSeq;
  delivered[i]!++;
  totalDelivered++;
  let bits = seen[i]!;
  const byte = s >>> 3;
  if (byte >= bits.length) {
    let n = bits.length * 2;
    while (n <= byte) n *= 2;
    const grown = new Uint8Array(n);
    grown.set(bits);
    bits = seen[i] = grown;
  }
  const mask = 1 << (s & 7);
  if ((bits[byte]! & mask) !== 0) dups[i]!++;
  else {
    bits[byte]! |= mask;
    unique[i]!++;
  }
  if (s < lastSeq[i]!) outOfOrder++;
  lastSeq[i] = s;
  const t = parsed.sendMs;
  if (t >= measureFrom && t < measureTo) hist.record((frameNow - t) * 1000);
}

function onAuthed(i: number): void {
  if (authed[i] !== 0) return;
  authed[i] = 1;
  okCount++;
  lastAuthMs = nowMs();
  settle();
}

function onFail(i: number, why: string): void {
  if (authed[i] === 1) {
    authed[i] = 2;
    open--;
    if (!stopping) dropped++;
    return;
  }
  if (authed[i] !== 0) return;
  authed[i] = 3;
  errCount++;
  if (errorSamples.length < 5) errorSamples.push(why);
  settle();
}

function settle(): void {
  settled++;
  inFlight--;
  startMore();
  if (settled === init.count) {
    send({ type: 'connected', ok: okCount, errors: errCount, goMs, lastAuthMs, errorSamples });
  }
}

function authBody(g: number): Buffer {
  return encodePacket(
    Op.Auth,
    1,
    Buffer.from(JSON.stringify({ mid: g + 1, key: `${init.keyPrefix}${g}`, room_id: `${ROOM_TYPE}://${g % init.rooms}`, platform: 'web', accepts: [PUSH_OP] })),
  );
}

function startMore(): void {
  while (inFlight < init.connectConcurrency && nextToStart < init.count) {
    const i = nextToStart++;
    inFlight++;
    if (init.kind === 'ws') connectWs(i);
    else connectTcp(i);
  }
}

function connectWs(i: number): void {
  const g = init.firstIndex + i;
  const w = new WebSocket(`ws://${init.host}:${init.port}${init.path}`, { perMessageDeflate: false, handshakeTimeout: 30_000 });
  w.binaryType = 'nodebuffer';
  ws[i] = w;
  w.on('open', () => {
    open++;
    w.send(authBody(g));
  });
  w.on('message', (data: Buffer) => {
    cur = i;
    frameNow = nowMs();
    decodeFrame(data, 1 << 26, onPacket);
  });
  w.on('error', (err) => onFail(i, err.message));
  w.on('close', () => {
    if (authed[i] === 0) open--;
    onFail(i, 'closed before auth');
  });
}

function connectTcp(i: number): void {
  const g = init.firstIndex + i;
  const s = net.connect({ host: init.host, port: init.port });
  tcp[i] = s;
  const dec = new GoimStreamDecoder(1 << 26);
  s.on('connect', () => {
    open++;
    s.setNoDelay(true);
    s.write(authBody(g));
  });
  s.on('data', (chunk: Buffer) => {
    cur = i;
    frameNow = nowMs();
    if (dec.push(chunk, onPacket) !== 0) s.destroy();
  });
  s.on('error', (err) => onFail(i, err.message));
  s.on('close', () => {
    if (authed[i] === 0) open--;
    onFail(i, 'closed before auth');
  });
}

let hbTick = 0;
function heartbeat(): void {
  const slots = Math.max(1, Math.round(init.heartbeatMs / 1000));
  const slot = hbTick++ % slots;
  for (let i = slot; i < init.count; i += slots) {
    if (authed[i] !== 1) continue;
    const w = ws[i];
    if (w) {
      if (w.readyState === WebSocket.OPEN) w.send(HEARTBEAT);
    } else tcp[i]?.write(HEARTBEAT);
  }
}

function finish(roomExpected: Record<string, number> | null, keyExpected: number[] | null): FinalReport {
  let uniq = 0;
  let dup = 0;
  let missing = 0;
  let connsMissing = 0;
  for (let i = 0; i < init.count; i++) {
    const g = init.firstIndex + i;
    uniq += unique[i]!;
    dup += dups[i]!;
    let expected = 0;
    if (roomExpected !== null) expected = roomExpected[String(g % init.rooms)] ?? 0;
    if (keyExpected !== null) expected = keyExpected[i] ?? 0;
    const m = Math.max(0, expected - unique[i]!);
    missing += m;
    if (m > 0) connsMissing++;
  }
  return {
    type: 'final',
    delivered: totalDelivered,
    unique: uniq,
    duplicates: dup,
    missing,
    connsMissing,
    outOfOrder,
    dropped,
    malformed,
    hist: Array.from(hist.counts),
    histMax: hist.max,
    histSum: hist.sum,
  };
}

function stop(): void {
  stopping = true;
  for (const w of ws) w?.terminate();
  for (const s of tcp) s?.destroy();
  setTimeout(() => process.exit(0), 50);
}

process.on('message', (msg: ToClient) => {
  switch (msg.type) {
    case 'init':
      init = msg;
      ws = new Array<WebSocket | null>(init.count).fill(null);
      tcp = new Array<net.Socket | null>(init.count).fill(null);
      authed = new Uint8Array(init.count);
      delivered = new Uint32Array(init.count);
      unique = new Uint32Array(init.count);
      dups = new Uint32Array(init.count);
      lastSeq = new Uint32Array(init.count);
      seen = Array.from({ length: init.count }, () => new Uint8Array(16));
      setInterval(heartbeat, 1000);
      setInterval(() => send({ type: 'progress', delivered: totalDelivered, open, dropped }), 1000);
      send({ type: 'ready' });
      break;
    case 'go':
      goMs = nowMs();
      if (init.count === 0) send({ type: 'connected', ok: 0, errors: 0, goMs, lastAuthMs: goMs, errorSamples });
      startMore();
      break;
    case 'measure':
      measureFrom = msg.fromMs;
      measureTo = msg.toMs;
      break;
    case 'mark':
      send({ type: 'mark', id: msg.id, delivered: totalDelivered });
      break;
    case 'finish':
      send(finish(msg.roomExpected, msg.keyExpected));
      break;
    case 'stop':
      stop();
      break;
  }
});
process.on('disconnect', () => stop());
