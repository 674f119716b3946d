/**
 * actors/im-shard-redis.ts (cluster mode) with a fake actor system and an in-memory fake of the Redis
 * store whose answers the test releases by hand: a send is answered and delivered once the script
 * answered; notices that come twice, out of order or while a read is in flight send each message
 * once, in order; no ack means redelivery; a sync whose reads fail is retried; acks move the read
 * position, also from a connection the shard does not track.
 */
import assert from 'node:assert/strict';
import type { ShardStore } from '../../actors/im-shard-redis.js';
import { RedisImShard } from '../../actors/im-shard-redis.js';
import { ImEngineUnavailable } from '../../src/cluster/im-redis.js';
import type { ImConfig } from '../../src/config/index.js';
import { encodeMessage, messageSeq, utf8, withSeq } from '../../src/im/message.js';
import { decodeSendReply, encodeAck, encodeNotify, encodeSend, encodeSync, ImCode } from '../../src/im/records.js';
import { ST_IM_REDELIVERED, ST_IM_STORED } from '../../src/im/status.js';
import { MessageKind } from '../../src/messages.js';
import { imShardParts, silentLog } from './fakes.js';

const CFG = { redeliverMs: 50, ackWindow: 10, retainCount: 100, retainMs: 60_000, idempotencyMs: 60_000 } as ImConfig;

/** Redis as the shard sees it: one user's inbox; `hold` keeps range answers back until `release`. */
class FakeStore implements ShardStore {
  inbox: Uint8Array[] = [];
  reads = new Map<string, number>();
  down = false;
  holding = false;
  private held: Array<() => void> = [];
  ranges = 0;

  private answer<T>(f: () => T, hold = false): Promise<T> {
    if (this.down) return Promise.reject(new ImEngineUnavailable('redis://fake', 'down'));
    if (hold && this.holding) return new Promise((resolve) => this.held.push(() => resolve(f())));
    return Promise.resolve(f());
  }
  release(): void {
    this.holding = false;
    for (const r of this.held.splice(0)) r();
  }
  /** Another box's write: stored, not told to this shard. */
  external(body: string): Uint8Array {
    const m = encodeMessage(this.inbox.length + 1, 9, 1000, Date.now(), 0, utf8(''), utf8(body));
    this.inbox.push(m);
    return m;
  }
  append(_mid: number, msg: Uint8Array): Promise<{ seq: number; fresh: boolean }> {
    return this.answer(() => {
      this.inbox.push(withSeq(msg, this.inbox.length + 1));
      return { seq: this.inbox.length, fresh: true };
    });
  }
  range(_mid: number, after: number, upTo: number, limit: number): Promise<Uint8Array[]> {
    this.ranges++;
    return this.answer(() => this.inbox.slice(after, Math.min(upTo, after + limit)), true);
  }
  lastSeq(): Promise<number> {
    return this.answer(() => this.inbox.length);
  }
  readPosition(_mid: number, device: string): Promise<number> {
    return this.answer(() => this.reads.get(device) ?? 0);
  }
  setReadPosition(_mid: number, device: string, seq: number): Promise<number> {
    return this.answer(() => {
      const s = Math.max(this.reads.get(device) ?? 0, Math.min(seq, this.inbox.length));
      this.reads.set(device, s);
      return s;
    });
  }
}

let nextMid = 900;

function shard() {
  const { DEV, system, status, wheel, router } = imShardParts(nextMid++);
  const store = new FakeStore();
  const held = new Set<number>();
  const im = new RedisImShard({ system: system.asSystem(), wheel, status, log: silentLog }, store, { hold: (m) => held.add(m), release: (m) => held.delete(m) }, router, CFG);
  router.onRemoved = (mid, key, e) => im.connectionGone(mid, key, e.worker, e.connId);
  const rec = (kind: number, body: Uint8Array): void => im.receive(kind, 0, body, 0, body.length);
  const send = (req: number, body: string): void =>
    rec(MessageKind.ImSend, encodeSend({ req, origin: 2, from: 1, op: 1000, group: 0, ts: Date.now(), clientMsgId: new Uint8Array(0), mids: [DEV.mid], body: Buffer.from(body) }));
  const notice = (m: Uint8Array | null, seq: number): void => rec(MessageKind.ImNotify, encodeNotify(DEV.mid, seq, m));
  const delivered = (): number[] => system.take(MessageKind.ImDeliver).map((d) => messageSeq(d.body));
  return { DEV, system, status, wheel, router, store, held, im, rec, send, notice, delivered };
}

/** Lets the fake store's answers (promise callbacks) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

describe('unit: im shard (cluster mode, Redis store)', () => {
  it('a sync answers op 115 from the read position; a send is answered after the script and delivered from memory', async () => {
    const t = shard();
    t.store.external('old');
    t.store.reads.set('phone', 1);
    t.rec(MessageKind.ImSync, encodeSync(t.DEV, -1, 0));
    assert.ok(t.held.has(t.DEV.mid), 'the shard says it holds the user');
    await settle();
    assert.equal(t.system.take(MessageKind.ImSyncReply).length, 1);
    t.send(1, 'hello');
    await settle();
    const [reply] = t.system.take(MessageKind.ImSendReply);
    const r = decodeSendReply(reply!.body, 0, reply!.body.length)!;
    assert.deepEqual([r.code, r.seqs], [ImCode.Ok, [[t.DEV.mid, 2]]]);
    assert.deepEqual(t.delivered(), [2]);
    assert.equal(t.store.ranges, 0, 'no read: the message was the next one due');
    assert.equal(t.status.load(ST_IM_STORED), 1);
  });

  it('notices twice, out of order and during a read: each message once, in order', async () => {
    const t = shard();
    t.rec(MessageKind.ImSync, encodeSync(t.DEV, 0, 0));
    await settle();
    const [m1, m2, m3] = [t.store.external('a'), t.store.external('b'), t.store.external('c')];
    t.store.holding = true;
    t.notice(m3!, 3); // not the next one: a read of 1..3 starts and is held
    t.notice(m1!, 1);
    t.notice(m2!, 2);
    const m4 = t.store.external('d');
    t.notice(m4, 4); // while the read is in flight
    assert.deepEqual(t.delivered(), []);
    t.store.release();
    await settle();
    assert.deepEqual(t.delivered(), [1, 2, 3, 4]);
    t.notice(m2!, 2);
    t.notice(m4, 4);
    t.notice(null, 4);
    await settle();
    assert.deepEqual(t.delivered(), []);
  });

  it('no ack within redeliverMs: the unacked messages again; an ack moves the read position', async () => {
    const t = shard();
    t.rec(MessageKind.ImSync, encodeSync(t.DEV, 0, 0));
    await settle();
    t.send(1, 'a');
    t.send(2, 'b');
    await settle();
    assert.deepEqual(t.delivered(), [1, 2]);
    t.rec(MessageKind.ImAck, encodeAck(t.DEV, 1, false));
    await settle();
    assert.equal(t.store.reads.get('phone'), 1);
    for (let i = 0; i < 10; i++) t.wheel.tick();
    await settle();
    assert.deepEqual(t.delivered(), [2]);
    assert.equal(t.status.load(ST_IM_REDELIVERED), 1);
  });

  it('Redis down: a send answers 503 with the engine named; a sync is retried and answered when it is back', async () => {
    const t = shard();
    t.store.down = true;
    t.send(1, 'x');
    await settle();
    const body = t.system.take(MessageKind.ImSendReply)[0]!.body;
    const r = decodeSendReply(body, 0, body.length)!;
    assert.equal(r.code, ImCode.Unavailable);
    assert.match(r.reason, /cluster engine redis:\/\/fake unavailable/);
    t.rec(MessageKind.ImSync, encodeSync(t.DEV, -1, 0));
    await settle();
    assert.equal(t.system.take(MessageKind.ImSyncReply).length, 0);
    t.store.down = false;
    t.store.external('while down');
    for (let i = 0; i < 10; i++) t.wheel.tick();
    await settle();
    assert.equal(t.system.take(MessageKind.ImSyncReply).length, 1);
    assert.deepEqual(t.delivered(), [1]);
  });

  it('an ack from a connection the shard does not track still moves the read position; a gone device releases its user', async () => {
    const t = shard();
    t.store.external('a');
    t.store.external('b');
    t.rec(MessageKind.ImAck, encodeAck({ ...t.DEV, connId: 99 }, 2, false));
    await settle();
    assert.equal(t.store.reads.get('phone'), 2);
    t.rec(MessageKind.ImSync, encodeSync(t.DEV, -1, 0));
    await settle();
    t.router.unregister(t.DEV.mid, t.DEV.key, t.DEV.worker, t.DEV.connId);
    assert.equal(t.held.has(t.DEV.mid), false);
  });
});
