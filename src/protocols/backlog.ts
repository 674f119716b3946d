/**
 * The outbound queue of one connection whose socket is backed up, as whole pushes.
 *
 * While the socket takes writes (`writableNeedDrain` false) a push goes straight to it and nothing
 * here is touched: no allocation on the common path. Once the socket is backed up, pushes are held
 * here by reference (the frame is shared with every other recipient, so holding it costs a slot,
 * not a copy) and written on 'drain'. Holding them ourselves, instead of in the socket's writable
 * buffer, keeps message boundaries, so the drop-oldest policy can drop whole pushes, oldest first,
 * and announce how many in a gap marker (ext op 104) written before the next push it lets through.
 * Replies to client requests (heartbeats, acks) bypass this queue: they are never dropped.
 */
import net from 'node:net';
import { ExtOp } from '../ops.js';
import type { PushFrames } from './frames.js';

/** Most slots consumed from the front before the arrays are compacted (keeps shift O(1) amortised). */
const COMPACT_AFTER = 1024;

export class Backlog {
  private frames: Array<PushFrames | null> = [];
  private sizes: number[] = [];
  private head = 0;
  /** Bytes held. */
  bytes = 0;
  /** Push messages dropped and not announced yet (the next gap marker's count). */
  gap = 0;

  get empty(): boolean {
    return this.head === this.frames.length;
  }

  push(frames: PushFrames, size: number): void {
    this.frames.push(frames);
    this.sizes.push(size);
    this.bytes += size;
  }

  shift(): PushFrames | null {
    if (this.empty) return null;
    const f = this.frames[this.head]!;
    this.frames[this.head] = null;
    this.bytes -= this.sizes[this.head]!;
    this.head++;
    if (this.empty) {
      this.frames.length = 0;
      this.sizes.length = 0;
      this.head = 0;
    } else if (this.head >= COMPACT_AFTER && this.head * 2 >= this.frames.length) {
      this.frames = this.frames.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
    return f;
  }

  /** Drops whole pushes from the front until `excess` bytes are gone (or none is left); returns the messages dropped. */
  dropOldest(excess: number): number {
    let dropped = 0;
    let freed = 0;
    while (freed < excess && !this.empty) {
      freed += this.sizes[this.head]!;
      dropped += this.shift()!.items.length;
    }
    this.gap += dropped;
    return dropped;
  }
}

const QUEUE = Symbol('pushQueue');
type SocketWithQueue = net.Socket & { [QUEUE]?: PushQueue };

function onDrain(this: SocketWithQueue): void {
  this[QUEUE]?.flushBacklog(false);
}

const enc = new TextEncoder();
const gapBody = (dropped: number): Uint8Array => enc.encode(`{"dropped":${dropped}}`);

/**
 * What every transport shares for pushes: write now while the socket takes writes, hold whole
 * pushes in a Backlog once it is backed up, drop the oldest on request, and say so with a gap marker.
 */
export abstract class PushQueue {
  private backlog: Backlog | null = null;

  /** The socket the frames go to, or null once it is gone. */
  protected abstract socketOf(): net.Socket | null;
  /** Writes a push now (the socket takes it or buffers it). */
  protected abstract writeNow(frames: PushFrames): void;
  /** Bytes this push takes on this transport's wire. */
  protected abstract frameBytes(frames: PushFrames): number;
  /** Bytes accepted below us but not yet handed to the kernel (the socket's buffer, ws's queue). */
  protected abstract bufferedBytes(): number;
  abstract sendPacket(ver: number, op: number, seq: number, body: Uint8Array | null): boolean;

  /** Writes a push, or holds it while the socket is backed up (order is kept either way). */
  writeFrames(frames: PushFrames): void {
    const socket = this.socketOf();
    if (socket === null) return;
    const b = this.backlog;
    if ((b === null || (b.empty && b.gap === 0)) && !socket.writableNeedDrain) {
      this.writeNow(frames);
      return;
    }
    this.hold(socket).push(frames, this.frameBytes(frames));
  }

  /** The outbound queue: bytes below us plus the pushes held here. */
  queuedBytes(): number {
    return this.bufferedBytes() + (this.backlog?.bytes ?? 0);
  }

  /** Drops held pushes, oldest first, until at most `maxBytes` are queued; returns the messages dropped. */
  dropOldest(maxBytes: number): number {
    const b = this.backlog;
    if (b === null) return 0;
    return b.dropOldest(this.queuedBytes() - maxBytes);
  }

  /** Drops every held push and any gap not yet announced (a slow consumer being closed). */
  discardQueued(): void {
    const b = this.backlog;
    if (b === null) return;
    while (!b.empty) b.shift();
    b.gap = 0;
  }

  /** Messages dropped that the client has not been told about yet. */
  pendingGap(): number {
    return this.backlog?.gap ?? 0;
  }

  /**
   * Writes the gap marker, if any, then held pushes while the socket takes them (all of them when
   * `all`: before a close, where what is queued must still go out ahead of the FIN).
   */
  flushBacklog(all: boolean): void {
    const b = this.backlog;
    const socket = this.socketOf();
    if (b === null || socket === null || socket.destroyed || socket.writableEnded) return;
    if (b.gap > 0) {
      const n = b.gap;
      b.gap = 0;
      this.sendPacket(1, ExtOp.Gap, 0, gapBody(n));
    }
    while (!b.empty && (all || !socket.writableNeedDrain)) this.writeNow(b.shift()!);
  }

  private hold(socket: net.Socket): Backlog {
    if (this.backlog === null) {
      // First time this connection backs up: from now on its socket's 'drain' flushes the backlog.
      this.backlog = new Backlog();
      (socket as SocketWithQueue)[QUEUE] = this;
      socket.on('drain', onDrain);
    }
    return this.backlog;
  }
}
