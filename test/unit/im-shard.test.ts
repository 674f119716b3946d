/**
 * actors/im-shard.ts on a real store in a temp directory, with a fake actor system: a send is
 * answered once durable and delivered live to a synced device, acks move the read position, no ack
 * in time means redelivery, and a device goes with its router entry.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ActorKind } from '../../src/actor-system.js';
import type { ImConfig } from '../../src/config/index.js';
import { messageSeq } from '../../src/im/message.js';
import { decodeSendReply, encodeAck, encodeSend, encodeSync, ImCode } from '../../src/im/records.js';
import { ST_IM_REDELIVERED, ST_IM_SENT, ST_IM_STORED } from '../../src/im/status.js';
import { ImStore } from '../../src/im/store.js';
import { MessageKind, SystemActorId } from '../../src/messages.js';
import { ImShard } from '../../actors/im-shard.js';
import { imShardParts, silentLog } from './fakes.js';

const CFG = { redeliverMs: 50, ackWindow: 10, retainCount: 100, retainMs: 60_000, idempotencyMs: 0 } as ImConfig;
let nextMid = 70;

describe('unit: im shard', () => {
  let dir: string;
  let store: ImStore;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringcast-unit-im-'));
    store = new ImStore(dir);
  });
  after(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function shard() {
    const { DEV, system, status, wheel, router } = imShardParts(nextMid++);
    const im = new ImShard({ system: system.asSystem(), wheel, status, log: silentLog }, store, router, CFG);
    router.onRemoved = (mid, key, e) => im.connectionGone(mid, key, e.worker, e.connId);
    const rec = (kind: number, body: Uint8Array): void => im.receive(kind, 0, body, 0, body.length);
    const send = (req: number, body: string): Uint8Array =>
      encodeSend({ req, origin: 2, from: 1, op: 1000, group: 0, ts: Date.now(), clientMsgId: new Uint8Array(0), mids: [DEV.mid], body: Buffer.from(body) });
    return { DEV, system, status, wheel, router, im, rec, send };
  }

  async function until(check: () => boolean): Promise<void> {
    for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
    assert.ok(check(), 'condition not met in time');
  }

  it('answers the sender once the write is durable, delivers live to a synced device, and counts', async () => {
    const { DEV, system, status, rec, send } = shard();
    rec(MessageKind.ImSync, encodeSync(DEV, -1, 0));
    const [syncReply] = system.take(MessageKind.ImSyncReply);
    assert.deepEqual([syncReply!.thread, syncReply!.actorKind, syncReply!.actorId], [DEV.worker, ActorKind.Connection, DEV.connId]);
    rec(MessageKind.ImSend, send(1, 'hello'));
    await until(() => system.sent.some((r) => r.kind === MessageKind.ImSendReply));
    const [reply] = system.take(MessageKind.ImSendReply);
    assert.deepEqual([reply!.thread, reply!.actorKind, reply!.actorId], [2, ActorKind.System, SystemActorId.ImRequests]);
    const r = decodeSendReply(reply!.body, 0, reply!.body.length)!;
    assert.equal(r.code, ImCode.Ok);
    const seq = r.seqs[0]![1];
    const delivered = system.take(MessageKind.ImDeliver);
    assert.deepEqual(delivered.map((d) => messageSeq(d.body)), [seq]);
    assert.equal(status.load(ST_IM_STORED), 1);
    assert.equal(status.load(ST_IM_SENT), 1);
  });

  it('an ack moves the read position; no ack within redeliverMs sends the unacked message again', async () => {
    const { DEV, system, status, wheel, rec, send } = shard();
    rec(MessageKind.ImSync, encodeSync(DEV, -1, 0));
    rec(MessageKind.ImSend, send(2, 'a'));
    rec(MessageKind.ImSend, send(3, 'b'));
    await until(() => system.sent.filter((x) => x.kind === MessageKind.ImDeliver).length === 2);
    const [first, second] = system.take(MessageKind.ImDeliver).map((d) => messageSeq(d.body));
    rec(MessageKind.ImAck, encodeAck(DEV, first!, false));
    await store.durable();
    assert.equal(store.readPosition(DEV.mid, DEV.key), first, 'the read position, stored');
    for (let i = 0; i < 10; i++) wheel.tick(); // past redeliverMs (50 ms in 10 ms ticks)
    assert.deepEqual(system.take(MessageKind.ImDeliver).map((d) => messageSeq(d.body)), [second], 'only the unacked one again');
    assert.equal(status.load(ST_IM_REDELIVERED), 1);
  });

  it('a device goes with its router entry: nothing is delivered to it afterwards', async () => {
    const { DEV, system, router, rec, send } = shard();
    rec(MessageKind.ImSync, encodeSync(DEV, -1, 0));
    router.unregister(DEV.mid, DEV.key, DEV.worker, DEV.connId);
    rec(MessageKind.ImSend, send(4, 'gone'));
    await until(() => system.sent.some((r) => r.kind === MessageKind.ImSendReply));
    assert.equal(system.take(MessageKind.ImDeliver).length, 0);
  });
});
