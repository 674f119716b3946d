/**
 * actors/connection.ts: the session state machine over an in-memory transport (handshake → auth →
 * open → close), held early packets, op 6 before every close, records addressed to the connection,
 * and the session-extension hooks.
 */
import assert from 'node:assert/strict';
import type { AuthRequest, AuthResult } from '../../src/auth/index.js';
import { ST_SLOW_CLOSED } from '../../src/layout.js';
import { MessageKind } from '../../src/messages.js';
import { ExtOp, Op } from '../../src/ops.js';
import { encodeKick } from '../../src/router-records.js';
import type { Session, SessionExtension } from '../../src/session.js';
import { ConnectionActor, ConnState } from '../../actors/connection.js';
import { FakeTransport, settle, testWorker, type ContextOptions } from './fakes.js';

const enc = new TextEncoder();

function auth(c: ConnectionActor, body: object, seq = 1): void {
  const b = enc.encode(JSON.stringify(body));
  c.onPacket(1, Op.Auth, seq, b, 0, b.length);
}

function packet(c: ConnectionActor, op: number, seq: number, body = ''): void {
  const b = enc.encode(body);
  c.onPacket(1, op, seq, b, 0, b.length);
}

function open(opts: ContextOptions = {}, protocol: 'tcp' | 'ws' | 'mars' = 'tcp') {
  const w = testWorker(opts);
  const t = new FakeTransport(protocol);
  const c = ConnectionActor.accept(w.ctx, t);
  return { ...w, t, c };
}

/** An authenticator whose answer the test gives. */
function deferredAuth(): { authenticate: (req: AuthRequest) => Promise<AuthResult>; resolve: (r: AuthResult) => void } {
  let resolve!: (r: AuthResult) => void;
  return { authenticate: () => new Promise<AuthResult>((r) => (resolve = r)), resolve: (r) => resolve(r) };
}

describe('unit: connection actor', () => {
  it('handshake → auth → open: op 8 with the seq, indexed by key, in its room, registered with its shard and the key directory', async () => {
    const { c, t, registry, system } = open();
    assert.equal(c.state, ConnState.Handshake);
    assert.equal(registry.byId.get(c.id), c, 'admitted at accept');
    auth(c, { mid: 42, key: 'k1', room_id: 'live://1', platform: 'ios' }, 7);
    assert.equal(c.state, ConnState.Authenticating);
    await settle();
    assert.equal(c.state, ConnState.Open);
    assert.deepEqual(t.packets.map((p) => [p.op, p.seq]), [[Op.AuthReply, 7]]);
    assert.equal(registry.byKey.get('k1'), c);
    assert.equal(registry.rooms.localCount('live://1'), 1);
    assert.equal(system.take(MessageKind.RouterRegister).length, 1);
    assert.equal(system.take(MessageKind.KeyRegister).length, 1);
  });

  it('holds packets that come while auth is in progress and answers them after op 8, in order', async () => {
    const a = deferredAuth();
    const { c, t } = open({ authenticate: a.authenticate });
    auth(c, { mid: 1, key: 'early' }, 1);
    packet(c, Op.Heartbeat, 2);
    packet(c, ExtOp.JoinRooms, 3, 'live://9');
    assert.equal(t.packets.length, 0, 'nothing answered before the auth reply');
    a.resolve({ ok: true, mid: 1, rooms: [] });
    await settle();
    assert.deepEqual(t.packets.map((p) => [p.op, p.seq]), [[Op.AuthReply, 1], [Op.HeartbeatReply, 2], [ExtOp.JoinRoomsReply, 3]]);
    assert.equal(t.packets[2]!.body.toString(), 'live://9');
  });

  it('closes a client that sends more than 8 packets before the auth reply', () => {
    const a = deferredAuth();
    const { c, t } = open({ authenticate: a.authenticate });
    auth(c, { mid: 1, key: 'chatty' });
    for (let i = 0; i < 9; i++) packet(c, Op.Heartbeat, i);
    assert.equal(c.state, ConnState.Closing);
    assert.match(t.closedWith ?? '', /more than 8 packets/);
  });

  for (const protocol of ['tcp', 'mars'] as const) {
    it(`${protocol}: a first packet that is not auth gets op 6 400 and then the close`, () => {
      const { c, t } = open({}, protocol);
      packet(c, Op.Heartbeat, 5);
      assert.deepEqual(t.disconnects(), [{ code: 400, reason: 'first packet must be auth (op 7), got op 2' }]);
      assert.deepEqual(t.events, ['packet:6', 'close'], 'op 6 before the close');
    });
  }

  it('ws: a first packet that is not auth closes with the reason in the close frame (no op 6)', () => {
    const { c, t } = open({}, 'ws');
    packet(c, Op.Heartbeat, 5);
    assert.equal(t.packets.length, 0);
    assert.equal(t.closedWith, 'first packet must be auth (op 7), got op 2');
  });

  it('a refused auth gets op 6 {code, reason} with the auth seq, then the close; nothing is registered', async () => {
    const { c, t, registry, system } = open({ authenticate: async () => ({ ok: false, code: 401, reason: 'invalid token signature' }) });
    auth(c, { mid: 1, key: 'k', token: 'x' }, 9);
    await settle();
    assert.deepEqual(t.packets.map((p) => [p.op, p.seq]), [[Op.DisconnectReply, 9]]);
    assert.deepEqual(t.disconnects(), [{ code: 401, reason: 'invalid token signature' }]);
    assert.deepEqual(t.events, ['packet:6', 'close']);
    assert.equal(registry.byKey.get('k'), undefined);
    assert.equal(system.take(MessageKind.RouterRegister).length, 0);
  });

  it('heartbeat: op 3 with the room count; no heartbeat in time: op 6 4004 then close; the socket close releases everything', async () => {
    const { c, t, wheel, registry, system } = open();
    auth(c, { mid: 3, key: 'hb', room_id: 'live://2' });
    await settle();
    packet(c, Op.Heartbeat, 4);
    const hb = t.packets.at(-1)!;
    assert.equal(hb.op, Op.HeartbeatReply);
    assert.equal(hb.body.readInt32BE(0), 1, 'one member in live://2');
    for (let i = 0; i < 150 && c.state === ConnState.Open; i++) wheel.tick(); // 10 ms ticks past the 1 s deadline
    assert.equal(t.disconnects().at(-1)?.code, 4004);
    assert.deepEqual(t.events.slice(-2), ['packet:6', 'close']);
    c.onClose();
    assert.equal(c.state, ConnState.Closed);
    assert.equal(registry.byId.size, 0);
    assert.equal(registry.rooms.localCount('live://2'), 0);
    assert.equal(system.take(MessageKind.RouterUnregister).length, 1);
    assert.equal(system.take(MessageKind.KeyUnregister).length, 1);
  });

  it('no auth within the handshake deadline: op 6 4003 naming protocol.handshakeTimeoutMs', () => {
    const { c, t, wheel } = open({ handshakeTimeoutMs: 50 });
    for (let i = 0; i < 20 && c.state === ConnState.Handshake; i++) wheel.tick();
    assert.deepEqual(t.disconnects(), [{ code: 4003, reason: 'limit: no auth within protocol.handshakeTimeoutMs' }]);
  });

  it('decodes a Kick record addressed to it: op 6 with that code and reason, then close', async () => {
    const { c, t } = open();
    auth(c, { mid: 5, key: 'kicked' });
    await settle();
    const body = encodeKick(4002, 'logged in again on ios');
    c.onRecord(MessageKind.Kick, body, 0, body.length);
    assert.deepEqual(t.disconnects(), [{ code: 4002, reason: 'logged in again on ios' }]);
    assert.equal(c.state, ConnState.Closing);
  });

  it('room ops: op 100/102 join and leave within rooms.maxPerConnection, 199 past it', async () => {
    const { c, t, registry } = open({ settings: { maxRooms: 2 } });
    auth(c, { mid: 6, key: 'rooms' });
    await settle();
    packet(c, ExtOp.JoinRooms, 2, 'a://1, a://2');
    assert.equal(t.packets.at(-1)!.body.toString(), 'a://1,a://2');
    packet(c, ExtOp.JoinRooms, 3, 'a://3');
    assert.equal(t.packets.at(-1)!.op, ExtOp.ErrorReply);
    assert.equal(JSON.parse(t.packets.at(-1)!.body.toString()).code, 403);
    packet(c, ExtOp.LeaveRooms, 4, 'a://1');
    assert.equal(t.packets.at(-1)!.body.toString(), 'a://2');
    assert.equal(registry.rooms.localCount('a://1'), 0);
    assert.equal(registry.rooms.localCount('a://2'), 1);
  });

  it('hands an extension its ops and its records, asks it before a join, and tells it of the close; its state lives in the session slot', async () => {
    const seen: string[] = [];
    const ext: SessionExtension = {
      name: 'test',
      slot: 0,
      ops: [150],
      records: [MessageKind.ImDeliver],
      onPacket(s: Session, _ver, op, seq) {
        s.ext[0] = (Number(s.ext[0] ?? 0) + 1);
        seen.push(`packet ${op}/${seq}`);
      },
      onRecord(_s, kind, buf, off, len) {
        seen.push(`record ${kind} ${Buffer.from(buf.subarray(off, off + len)).toString()}`);
      },
      mayJoin: (_s, room) => room !== 'secret://1',
      resync: () => undefined,
      onClose: () => seen.push('close'),
    };
    const { c, t } = open({ extensions: [ext] });
    auth(c, { mid: 7, key: 'ext' });
    await settle();
    packet(c, 150, 2);
    packet(c, 151, 3); // no one's op: echoed, as goim does
    const rec = enc.encode('hello');
    c.onRecord(MessageKind.ImDeliver, rec, 0, rec.length);
    c.onRecord(MessageKind.ImSyncReply, rec, 0, rec.length); // not the extension's kind: ignored
    packet(c, ExtOp.JoinRooms, 4, 'secret://1');
    c.onClose();
    assert.deepEqual(seen, ['packet 150/2', `record ${MessageKind.ImDeliver} hello`, 'close']);
    assert.equal(c.ext[0], 1, 'state beside the connection, in its slot');
    assert.deepEqual(t.packets.filter((p) => p.op === 151).map((p) => p.seq), [3]);
    assert.equal(JSON.parse(t.packets.find((p) => p.op === ExtOp.ErrorReply)!.body.toString()).reason, 'not allowed to join secret://1');
  });

  it('the auth body\'s room_id passes the extensions\' room admission: refused, the session opens without it and op 199 403 says why', async () => {
    const ext: SessionExtension = {
      name: 'rooms-gate',
      slot: 0,
      ops: [],
      records: [],
      onPacket: () => undefined,
      onRecord: () => undefined,
      mayJoin: (_s, room) => room !== 'secret://1',
      resync: () => undefined,
      onClose: () => undefined,
    };
    const { c, t } = open({ extensions: [ext] });
    auth(c, { mid: 9, key: 'sneaky', room_id: 'secret://1' }, 5);
    await settle();
    assert.equal(c.state, ConnState.Open);
    assert.equal(c.room, '');
    assert.equal(c.rooms.size, 0, 'not in the refused room');
    const err = t.packets.find((p) => p.op === ExtOp.ErrorReply)!;
    assert.equal(err.seq, 5);
    assert.deepEqual(JSON.parse(err.body.toString()), { op: 7, code: 403, reason: 'not allowed to join secret://1' });
    const { c: c2 } = open({ extensions: [ext] });
    auth(c2, { mid: 9, key: 'fine', room_id: 'live://1' });
    await settle();
    assert.equal(c2.room, 'live://1', 'an admitted room is joined as before');
  });

  it('dropSlow (policy close): counted in the status words, queue discarded, op 6 4005, then close', async () => {
    const { c, t, status } = open();
    auth(c, { mid: 8, key: 'slow' });
    await settle();
    c.dropSlow();
    assert.equal(status.load(ST_SLOW_CLOSED), 1);
    assert.deepEqual(t.events.slice(-3), ['discard', 'packet:6', 'close']);
    assert.equal(t.disconnects().at(-1)?.code, 4005);
  });
});
