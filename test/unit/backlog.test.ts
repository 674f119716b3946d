/**
 * The outbound queue of a backed-up connection (src/protocols/backlog.ts), over an in-memory
 * socket: pushes are held whole and in order while the socket needs a drain, written on 'drain',
 * dropped oldest first on request with a gap marker (op 104) announcing how many, and bounded in
 * bytes together with what the socket itself buffers.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { Backlog, PushQueue } from '../../src/protocols/backlog.js';
import { PushFrames } from '../../src/protocols/frames.js';

/** The gap marker's op on the wire (docs: ext op 104, body {"dropped":N}). */
const GAP_OP = 104;

/** A push of one message (or of several merged ones), named by its first body, `bytes` long on the wire. */
function push(name: string, bytes = 100, messages = 1): PushFrames {
  const frames = new PushFrames(Array.from({ length: messages }, (_, i) => ({ op: 1000, body: Buffer.from(i === 0 ? name : `${name}+${i}`) })));
  wireBytes.set(frames, bytes);
  return frames;
}
const wireBytes = new WeakMap<PushFrames, number>();
const nameOf = (f: PushFrames): string => Buffer.from(f.items[0]!.body).toString();

/** What PushQueue reads of a net.Socket, in memory. `room`: writes it takes before it needs a drain. */
class MemorySocket extends EventEmitter {
  writableNeedDrain = false;
  destroyed = false;
  writableEnded = false;
  room = Infinity;
  took(): void {
    if (--this.room <= 0) this.writableNeedDrain = true;
  }
  /** The kernel took everything: the socket emits 'drain' with room for `room` more writes. */
  drain(room = Infinity): void {
    this.room = room;
    this.writableNeedDrain = false;
    this.emit('drain');
  }
}

/** A transport over a MemorySocket that logs what it writes, in order. */
class MemoryQueue extends PushQueue {
  socket: MemorySocket | null;
  readonly written: string[] = [];
  /** Bytes the socket itself buffers (below the backlog). */
  buffered = 0;
  constructor(socket: MemorySocket) {
    super();
    this.socket = socket;
  }
  protected socketOf(): net.Socket | null {
    return this.socket as unknown as net.Socket | null;
  }
  protected writeNow(frames: PushFrames): void {
    this.written.push(nameOf(frames));
    this.socket!.took();
  }
  protected frameBytes(frames: PushFrames): number {
    return wireBytes.get(frames)!;
  }
  protected bufferedBytes(): number {
    return this.buffered;
  }
  sendPacket(ver: number, op: number, seq: number, body: Uint8Array | null): boolean {
    this.written.push(`v${ver} op ${op} seq ${seq} ${Buffer.from(body ?? new Uint8Array(0)).toString()}`);
    return true;
  }
}

function backedUp(): { socket: MemorySocket; q: MemoryQueue } {
  const socket = new MemorySocket();
  socket.writableNeedDrain = true;
  return { socket, q: new MemoryQueue(socket) };
}

describe('Backlog (src/protocols/backlog.ts)', () => {
  it('holds whole pushes in order and counts their bytes', () => {
    const b = new Backlog();
    assert.equal(b.empty, true);
    assert.equal(b.shift(), null);
    const [x, y, z] = [push('x'), push('y'), push('z')];
    b.push(x, 10);
    b.push(y, 20);
    b.push(z, 30);
    assert.equal(b.empty, false);
    assert.equal(b.bytes, 60);
    assert.equal(b.shift(), x);
    assert.equal(b.bytes, 50);
    assert.equal(b.shift(), y);
    assert.equal(b.shift(), z);
    assert.equal(b.bytes, 0);
    assert.equal(b.empty, true);
    assert.equal(b.shift(), null);
    assert.equal(b.gap, 0, 'taking pushes out is not dropping them');
  });

  it('dropOldest drops whole pushes from the front until the excess is freed and counts the messages in the gap', () => {
    const b = new Backlog();
    const merged = push('m', 100, 2); // two pushes merged in one batch window
    const [p, q] = [push('p'), push('q')];
    b.push(merged, 100);
    b.push(p, 100);
    b.push(q, 100);
    assert.equal(b.dropOldest(0), 0, 'no excess, nothing dropped');
    assert.equal(b.bytes, 300);
    // 150 bytes over: the first push frees 100, not enough; the second makes 200. Whole pushes only.
    assert.equal(b.dropOldest(150), 3, 'messages dropped: 2 in the merged push + 1');
    assert.equal(b.gap, 3);
    assert.equal(b.bytes, 100);
    assert.equal(b.shift(), q, 'the newest push is kept');
    assert.equal(b.dropOldest(1000), 0, 'nothing left to drop');
    assert.equal(b.gap, 3, 'the gap is only reset by whoever announces it');
  });

  it('dropOldest past everything held empties it and adds to the gap not yet announced', () => {
    const b = new Backlog();
    b.push(push('a'), 40);
    b.dropOldest(1);
    b.push(push('b'), 40);
    b.push(push('c'), 40);
    assert.equal(b.dropOldest(1_000_000), 2);
    assert.equal(b.gap, 3);
    assert.equal(b.empty, true);
    assert.equal(b.bytes, 0);
  });

  it('keeps order and byte counts across compaction of a long-lived queue', () => {
    const b = new Backlog();
    const all = Array.from({ length: 3000 }, (_, i) => push(`p${i}`));
    for (const f of all) b.push(f, 7);
    const out: PushFrames[] = [];
    for (let i = 0; i < 2000; i++) out.push(b.shift()!); // past the compaction point (1024 consumed, half the slots)
    const more = Array.from({ length: 50 }, (_, i) => push(`q${i}`));
    for (const f of more) b.push(f, 7);
    assert.equal(b.bytes, (1000 + 50) * 7);
    while (!b.empty) out.push(b.shift()!);
    assert.deepEqual(out.map(nameOf), [...all, ...more].map(nameOf));
    assert.equal(b.bytes, 0);
  });
});

describe('PushQueue (src/protocols/backlog.ts) over an in-memory socket', () => {
  it('writes straight to a socket that takes writes, holding nothing and listening for nothing', () => {
    const socket = new MemorySocket();
    const q = new MemoryQueue(socket);
    q.buffered = 123;
    q.writeFrames(push('a'));
    q.writeFrames(push('b'));
    assert.deepEqual(q.written, ['a', 'b']);
    assert.equal(q.queuedBytes(), 123, 'only what the socket buffers');
    assert.equal(socket.listenerCount('drain'), 0, 'the common path sets nothing up');
    assert.equal(q.dropOldest(0), 0, 'nothing held, nothing to drop');
  });

  it('holds whole pushes while the socket is backed up and writes them in order on drain', () => {
    const { socket, q } = backedUp();
    q.writeFrames(push('a', 100));
    q.writeFrames(push('b', 50));
    assert.deepEqual(q.written, []);
    assert.equal(q.queuedBytes(), 150);
    // The socket takes writes again, but a, b are still held: c must queue behind them.
    socket.writableNeedDrain = false;
    q.writeFrames(push('c', 25));
    assert.deepEqual(q.written, [], 'c is not written ahead of a and b');
    socket.drain();
    assert.deepEqual(q.written, ['a', 'b', 'c']);
    assert.equal(q.queuedBytes(), 0);
    q.writeFrames(push('d'));
    assert.deepEqual(q.written, ['a', 'b', 'c', 'd'], 'written straight again once nothing is held');
  });

  it('on drain writes only while the socket takes writes, the rest on the next drain', () => {
    const { socket, q } = backedUp();
    for (const n of ['a', 'b', 'c', 'd']) q.writeFrames(push(n));
    socket.drain(2); // room for two writes, then it needs a drain again
    assert.deepEqual(q.written, ['a', 'b']);
    assert.equal(q.queuedBytes(), 200);
    socket.drain();
    assert.deepEqual(q.written, ['a', 'b', 'c', 'd']);
  });

  it('drop-oldest keeps the queue (socket buffer included) within the bound and announces the drop in a gap marker before the next push', () => {
    const { socket, q } = backedUp();
    q.buffered = 300; // bytes the socket already buffers count against the bound too
    for (const n of ['p1', 'p2', 'p3', 'p4', 'p5']) q.writeFrames(push(n, 100));
    assert.equal(q.queuedBytes(), 800);
    assert.equal(q.dropOldest(500), 3);
    assert.equal(q.queuedBytes(), 500);
    assert.equal(q.pendingGap(), 3);
    q.buffered = 0;
    socket.drain();
    assert.deepEqual(q.written, [`v1 op ${GAP_OP} seq 0 {"dropped":3}`, 'p4', 'p5']);
    assert.equal(q.pendingGap(), 0, 'announced once');
    socket.drain();
    assert.equal(q.written.length, 3, 'no second marker');
  });

  it('drops whole pushes only: an excess inside a push drops all of it', () => {
    const { q } = backedUp();
    for (const n of ['a', 'b', 'c']) q.writeFrames(push(n, 100));
    assert.equal(q.dropOldest(299), 1, '1 byte over: the oldest push goes, whole');
    assert.equal(q.queuedBytes(), 200);
    assert.equal(q.dropOldest(200), 0, 'at the bound: nothing more');
  });

  it('an unannounced gap holds the next push even when the socket takes writes, so the marker goes first', () => {
    const { socket, q } = backedUp();
    q.writeFrames(push('old', 100, 2));
    assert.equal(q.dropOldest(0), 2);
    socket.writableNeedDrain = false; // nothing held, but the gap is not announced yet
    q.writeFrames(push('new'));
    assert.deepEqual(q.written, []);
    socket.drain();
    assert.deepEqual(q.written, [`v1 op ${GAP_OP} seq 0 {"dropped":2}`, 'new']);
  });

  it('flushBacklog(all) writes the marker and every held push even while the socket is backed up (before a close)', () => {
    const { q } = backedUp();
    for (const n of ['a', 'b', 'c']) q.writeFrames(push(n));
    q.dropOldest(200);
    q.flushBacklog(true);
    assert.deepEqual(q.written, [`v1 op ${GAP_OP} seq 0 {"dropped":1}`, 'b', 'c']);
  });

  it('discardQueued drops every held push and the unannounced gap (a slow consumer being closed)', () => {
    const { socket, q } = backedUp();
    for (const n of ['a', 'b', 'c']) q.writeFrames(push(n));
    q.dropOldest(250);
    q.discardQueued();
    assert.equal(q.pendingGap(), 0);
    assert.equal(q.queuedBytes(), 0);
    socket.drain();
    assert.deepEqual(q.written, []);
  });

  it('writes nothing to a destroyed or ended socket, and nothing once the socket is gone', () => {
    const { socket, q } = backedUp();
    q.writeFrames(push('a'));
    socket.destroyed = true;
    socket.drain();
    q.flushBacklog(true);
    assert.deepEqual(q.written, []);

    const ended = backedUp();
    ended.q.writeFrames(push('a'));
    ended.socket.writableEnded = true;
    ended.q.flushBacklog(true);
    assert.deepEqual(ended.q.written, []);

    const gone = new MemoryQueue(new MemorySocket());
    gone.socket = null;
    gone.writeFrames(push('a'));
    assert.deepEqual(gone.written, []);
    assert.equal(gone.queuedBytes(), 0);
  });
});
