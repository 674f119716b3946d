/**
 * A thread's actors and its ways to reach the others.
 *
 * An actor is addressed by (thread, kind, id). A message to an actor on this thread is a direct call;
 * to another thread it is one ring record in that thread's mailbox, with the target packed into the
 * record header. Each destination has an Outbox that parks records while its ring is full and refuses
 * past a bound: the refusal is counted in this thread's status words and logged.
 */
import type { Logger } from './logger.js';
import { packTarget, ST_PARKED, ST_REJECTED, ST_UNDELIVERABLE, STATUS_WORDS, targetId, targetKind } from './layout.js';
import { MailboxLoop } from './ring/mailbox.js';
import { Outbox, SendResult } from './ring/outbox.js';
import { RingReader, RingWriter } from './ring/ring.js';

/**
 * Kinds of actor address. Rooms are no actors of their own: they are state of a worker's registry
 * (actors/registry.ts), which a room push reaches through the deliverer.
 */
export const enum ActorKind {
  /** Per-thread services: ids in SystemActorId. */
  System = 0,
  /** Connection actors: id = the connection's id on its worker (one kind handler per worker). */
  Connection = 1,
  /** Reserved for actors of the acceptor (it has none today: the push path lives on the workers). */
  Acceptor = 2,
  /** A worker's shard of the user directory: ids in RouterActorId. */
  RouterShard = 3,
}

export interface Actor {
  /** `buf[off .. off + len)` is valid only during the call. Must not throw for bad input from peers. */
  receive(kind: number, source: number, buf: Uint8Array, off: number, len: number): void;
}

/** Handles a record for actor `id` of its kind; returns false when no such actor exists. */
export type KindHandler = (id: number, kind: number, source: number, buf: Uint8Array, off: number, len: number) => boolean;

export interface ActorSystemOptions {
  self: number;
  mailboxes: SharedArrayBuffer[];
  status: SharedArrayBuffer;
  overflowBytes: number;
  drainBudget: number;
  log: Logger;
}

export class ActorSystem {
  readonly self: number;
  readonly threads: number;
  private readonly actors = new Map<number, Actor>();
  /** Handlers for a whole kind of actor (connections: one per worker, not one per connection). */
  private readonly kinds = new Map<number, KindHandler>();
  private readonly outboxes: Array<Outbox | null>;
  private readonly loop: MailboxLoop;
  private readonly status: Int32Array;
  private readonly statusBase: number;
  private readonly log: Logger;

  constructor(opts: ActorSystemOptions) {
    this.self = opts.self;
    this.threads = opts.mailboxes.length;
    this.log = opts.log;
    this.status = new Int32Array(opts.status);
    this.statusBase = opts.self * STATUS_WORDS;
    this.outboxes = opts.mailboxes.map((sab, i) =>
      i === opts.self ? null : new Outbox(new RingWriter(sab, opts.self, true), opts.overflowBytes, (kind, target, len) => this.onReject(i, kind, target, len)),
    );
    this.loop = new MailboxLoop(new RingReader(opts.mailboxes[opts.self]!), (kind, target, source, buf, off, len) => this.dispatch(kind, target, source, buf, off, len), opts.drainBudget);
  }

  register(kind: ActorKind, id: number, actor: Actor): void {
    this.actors.set(packTarget(kind, id), actor);
  }
  unregister(kind: ActorKind, id: number): void {
    this.actors.delete(packTarget(kind, id));
  }
  /** Routes records for every actor of `kind` that has no registration of its own to `handler`. */
  registerKind(kind: ActorKind, handler: KindHandler): void {
    this.kinds.set(kind, handler);
  }

  /** Sends to an actor anywhere. Written (or delivered locally), parked, or refused: see SendResult. */
  send(thread: number, kind: ActorKind, id: number, msg: number, body: Uint8Array | null = null, off = 0, len = body === null ? 0 : body.length - off): SendResult {
    const target = packTarget(kind, id);
    if (thread === this.self) {
      this.dispatch(msg, target, this.self, body ?? EMPTY, off, len);
      return SendResult.Written;
    }
    const outbox = this.outboxes[thread];
    if (outbox === undefined || outbox === null) throw new RangeError(`no thread ${thread}`);
    const result = outbox.send(msg, target, body, off, len);
    if (result === SendResult.Parked) this.updateParked();
    return result;
  }

  start(): void {
    this.loop.start();
  }
  stop(): void {
    this.loop.stop();
  }
  /** Takes every committed record now (shutdown). */
  drainAll(): number {
    return this.loop.drainAll();
  }

  /** Records of these kinds written from this thread need no wake while their consumer dozes (ring.ts). */
  setLazyKinds(kinds: readonly number[]): void {
    for (const o of this.outboxes) o?.writer.setLazyKinds(kinds);
  }

  /** This thread will drain its mailbox by itself soon (a timer): producers skip waking it for lazy records. */
  setDozing(on: boolean): void {
    this.loop.reader.setDozing(on);
  }

  /** Handles every record committed to this thread so far, now (see MailboxLoop.catchUp). */
  catchUp(): number {
    return this.loop.catchUp();
  }
  /** Resolves when nothing this thread sent is still parked. */
  async settled(): Promise<void> {
    for (const o of this.outboxes) if (o !== null) await o.settled();
    this.updateParked();
  }

  private dispatch(kind: number, target: number, source: number, buf: Uint8Array, off: number, len: number): void {
    const actor = this.actors.get(target);
    if (actor === undefined) {
      const byKind = this.kinds.get(targetKind(target));
      if (byKind !== undefined && byKind(targetId(target), kind, source, buf, off, len)) return;
      Atomics.add(this.status, this.statusBase + ST_UNDELIVERABLE, 1);
      if (this.log.isLevelEnabled('debug')) this.log.debug({ kind, actorKind: targetKind(target), actorId: targetId(target), source }, 'record for an actor that does not exist here');
      return;
    }
    try {
      actor.receive(kind, source, buf, off, len);
    } catch (err) {
      this.log.error({ err, kind, actorKind: targetKind(target), actorId: targetId(target), source }, 'actor failed on a message');
    }
  }

  private updateParked(): void {
    let parked = 0;
    for (const o of this.outboxes) if (o !== null) parked += o.parked;
    Atomics.store(this.status, this.statusBase + ST_PARKED, parked);
  }

  private onReject(thread: number, kind: number, target: number, len: number): void {
    Atomics.add(this.status, this.statusBase + ST_REJECTED, 1);
    this.log.warn({ thread, kind, actorKind: targetKind(target), actorId: targetId(target), bytes: len }, 'mailbox and overflow list full: record refused');
  }
}

const EMPTY = new Uint8Array(0);
