/**
 * Independent descriptors of one listening socket, one per worker thread.
 *
 * Node 20 cannot listen with SO_REUSEPORT, and a descriptor number shared by several workers is one
 * descriptor: the first worker to exit closes it for all of them, and a later close of the stale
 * number may close an unrelated socket that reused it. Instead, a short-lived helper process
 * (fd-helper.ts) creates the listening socket and sends its handle to us several times over IPC; the
 * kernel duplicates the descriptor on every send, so each worker gets a descriptor of its own for
 * the same socket (and the same accept queue). The main thread holds these handles but never starts
 * them, so it never accepts a connection itself.
 *
 * A handle lent to a worker is never closed here: the worker's server closes that descriptor when
 * the worker exits, and closing it a second time could hit a reused number. Lent handles are kept
 * referenced for the life of the process (a few bytes each) so nothing can finalise them.
 *
 * One descriptor per listener is never lent: the master. When the spares of a listener run low
 * (after replacing dead workers), the pool refills by sending the master to a new helper, which
 * sends it back as many times as needed.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface ListenerSpec {
  name: string;
  host: string;
  port: number;
}

/** A raw libuv TCP handle as it arrives over IPC; only `fd` is used. */
export interface RawHandle {
  fd: number;
}

export interface BoundListener {
  name: string;
  host: string;
  port: number; // the real port (differs from the spec when it asked for 0)
}

interface HelperReply {
  name: string;
  host: string;
  port: number;
}

const HELPER = fileURLToPath(new URL('./fd-helper.js', import.meta.url));

/** Forks the helper, sends it `request` (with `handle`), collects `expected` handles. */
function runHelper(request: object, expected: number, handle?: RawHandle): Promise<Array<{ reply: HelperReply; handle: RawHandle }>> {
  return new Promise((resolve, reject) => {
    const child = fork(HELPER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' });
    const got: Array<{ reply: HelperReply; handle: RawHandle }> = [];
    let failure: Error | null = null;
    child.on('message', (msg: HelperReply | { error: string }, h?: unknown) => {
      if ('error' in msg) {
        failure = new Error(msg.error);
        return;
      }
      if (h === undefined) {
        failure = new Error('fd helper sent a reply without a handle');
        return;
      }
      got.push({ reply: msg, handle: h as RawHandle });
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (failure !== null) reject(failure);
      else if (got.length !== expected) reject(new Error(`fd helper exited (code ${code}) after ${got.length} of ${expected} descriptors`));
      else resolve(got);
    });
    // The handle is sent as a raw handle ("net.Native"): the helper does not start listening on it.
    child.send(request, handle as never);
  });
}

export class ListenFdPool {
  readonly listeners: BoundListener[];
  private readonly masters = new Map<string, RawHandle>();
  private readonly spares = new Map<string, RawHandle[]>();
  private readonly lent: RawHandle[] = [];
  private closed = false;
  private readonly spareTarget: number;
  private refilling: Promise<void> | null = null;

  private constructor(listeners: BoundListener[], spareTarget: number) {
    this.listeners = listeners;
    this.spareTarget = spareTarget;
  }

  /** Binds every listener and obtains `count` descriptors of each. Rejects with EADDRINUSE etc. */
  static async open(specs: ListenerSpec[], count: number, spareTarget: number): Promise<ListenFdPool> {
    const copies = 1 + count + spareTarget;
    const got = await runHelper({ op: 'listen', listeners: specs, copies }, specs.length * copies);
    const listeners: BoundListener[] = specs.map((s) => {
      const first = got.find((g) => g.reply.name === s.name)!;
      return { name: s.name, host: first.reply.host, port: first.reply.port };
    });
    const pool = new ListenFdPool(listeners, spareTarget);
    for (const g of got) {
      if (!pool.masters.has(g.reply.name)) {
        pool.masters.set(g.reply.name, g.handle);
        continue;
      }
      const list = pool.spares.get(g.reply.name) ?? [];
      list.push(g.handle);
      pool.spares.set(g.reply.name, list);
    }
    return pool;
  }

  /**
   * Lends one descriptor of every listener, for one worker. Throws when a listener has no spare
   * left (the caller retries after refill()).
   */
  take(): Record<string, number> {
    const fds: Record<string, number> = {};
    for (const l of this.listeners) {
      if ((this.spares.get(l.name)?.length ?? 0) === 0) throw new Error(`no spare descriptor for the ${l.name} listener`);
    }
    for (const l of this.listeners) {
      const h = this.spares.get(l.name)!.pop()!;
      this.lent.push(h);
      fds[l.name] = h.fd;
    }
    this.refill().catch((err: Error) => this.onRefillError(err));
    return fds;
  }

  /** Tops every listener's spares back up to the target; concurrent calls share one refill. */
  refill(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.refilling !== null) return this.refilling;
    const todo = this.listeners.filter((l) => this.spares.get(l.name)!.length < this.spareTarget);
    if (todo.length === 0) return Promise.resolve();
    this.refilling = (async () => {
      try {
        for (const l of todo) {
          const list = this.spares.get(l.name)!;
          const source = this.masters.get(l.name)!;
          const copies = this.spareTarget - list.length;
          const got = await runHelper({ op: 'dup', name: l.name, host: l.host, port: l.port, copies }, copies, source);
          for (const g of got) list.push(g.handle);
        }
      } finally {
        this.refilling = null;
      }
    })();
    return this.refilling;
  }

  /**
   * Closes the descriptors this process holds itself (masters and spares) and refills no more: once the
   * workers close theirs, the listening sockets are gone and new connections are refused by the
   * kernel instead of completing a handshake nobody will accept (used at the start of a drain).
   */
  closeAll(): void {
    this.closed = true;
    const close = (h: RawHandle): void => (h as RawHandle & { close?: () => void }).close?.();
    for (const h of this.masters.values()) close(h);
    for (const list of this.spares.values()) for (const h of list) close(h);
    this.masters.clear();
    for (const list of this.spares.values()) list.length = 0;
  }

  /** Called when a background refill fails (the next take() may then throw). */
  onRefillError: (err: Error) => void = () => undefined;

  spareCount(name: string): number {
    return this.spares.get(name)?.length ?? 0;
  }
}
