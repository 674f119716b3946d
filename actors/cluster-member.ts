/**
 * One worker's part in a cluster (docs/cluster.md): it keeps the worker's connections in the
 * directory (registered on auth, removed on close), replaces a key held on another box (op 6 4001)
 * and kicks older logins there under the multi-login policy (4002), subscribes the worker to a
 * room's channel while the room has members here, and hands what other boxes send (pushes by
 * key or mid, room pushes, pushes to all, kicks) to this worker's deliverer and connections.
 *
 * After an outage of the engine (down or stale, then up) it registers every connection again, and
 * tells the members of every room whose subscription was down that they may have missed pushes
 * (op 104, the gap marker). The registry calls it (`ClusterHook`); the worker runtime builds it only
 * in cluster mode: on one box none of this exists.
 */
import { kickPlatforms, type MultiLoginConfig } from '../src/config/index.js';
import { Disconnect } from '../src/errors.js';
import type { ClusterEngine, DirectoryEntry, EngineStateEvent, Holding } from '../src/cluster/engine.js';
import { decodeDeliver, decodeFanout, decodeKick, encodeKick, isFrom, WireType } from '../src/cluster/wire.js';
import type { Logger } from '../src/logger.js';
import type { ClusterWorkerStats } from '../src/messages.js';
import { ExtOp } from '../src/ops.js';
import type { ClusterHook, RegistryMember } from './registry.js';

/** What the member needs of its worker (the registry and the deliverer, seen narrowly). */
export interface ClusterWorkerParts {
  readonly index: number;
  readonly byKey: { get(key: string): RegistryMember | undefined };
  /** Every authenticated connection of the worker (for a resync). */
  connections(): Iterable<RegistryMember>;
  /** Members of a room on this worker (for the gap marker). */
  roomMembers(room: string): Iterable<RegistryMember> | undefined;
  /** Writes a push to these connections now (frame once), as a Deliver record does. */
  deliver(op: number, conns: RegistryMember[], body: Uint8Array): void;
  /** Queues a room push (room) or a push to all (null) as the rings' PushRoom/PushAll do: merged, no answer. */
  fanout(room: string | null, op: number, body: Uint8Array): void;
  readonly multiLogin: MultiLoginConfig;
  readonly log: Logger;
}

const enc = new TextEncoder();
const GAP_BODY = enc.encode('{"dropped":-1,"reason":"cluster engine was unavailable: room pushes from other boxes may be missing"}');

export class ClusterMember implements ClusterHook {
  private readonly self: Uint8Array;
  private needsResync = false;
  /** Unregisters that failed while the engine was away, by key (a later connection with the key drops it). */
  private readonly unregisterLater = new Map<string, DirectoryEntry>();
  /** Directory writes that failed (engine down): made again by the resync. */
  failures = 0;

  constructor(
    private readonly engine: ClusterEngine,
    private readonly parts: ClusterWorkerParts,
  ) {
    this.self = enc.encode(engine.nodeId);
    engine.onState((ev) => this.onState(ev));
    engine.onRoomMessage((room, bytes) => this.onFanout(room, bytes));
  }

  stats(): ClusterWorkerStats {
    const e = this.engine.stats();
    return { state: e.state, lastProbeMs: e.lastProbeMs, errors: e.errors, commands: e.commands, published: e.published, received: e.received, rooms: e.rooms, directoryFailures: this.failures };
  }

  /** Subscribes this worker's channel and the push-to-all channel (at start). */
  async start(): Promise<void> {
    // Refused while the engine is not up yet: the engine keeps both and subscribes them once it is.
    await Promise.allSettled([this.engine.subscribeWorker(this.parts.index, (bytes) => this.onWorkerMessage(bytes)), this.engine.subscribeAll()]);
  }

  private entry(conn: RegistryMember): DirectoryEntry {
    return { key: conn.key, mid: conn.mid, platform: conn.platform, worker: this.parts.index, connId: conn.id };
  }

  // ---- ClusterHook (called by the registry) ----------------------------------------------------

  opened(conn: RegistryMember): Promise<void> {
    return this.register(conn);
  }

  released(conn: RegistryMember): void {
    const e = this.entry(conn);
    this.engine.unregister(e).catch(() => {
      // Redis away: removed at the resync. Meanwhile a lookup may still name this worker for the key;
      // the worker finds no such connection and writes nothing.
      this.failures++;
      this.needsResync = true;
      this.unregisterLater.set(e.key, e);
    });
  }

  roomCreated(room: string): void {
    this.engine.joinRoom(room);
  }

  roomEmptied(room: string): void {
    this.engine.leaveRoom(room);
  }

  // ----------------------------------------------------------------------------------------------

  /** Resolves (never rejects) once the entry is written and the kicks are sent, or the write failed. */
  private register(conn: RegistryMember): Promise<void> {
    this.unregisterLater.delete(conn.key);
    return this.engine.register(this.entry(conn)).then(
      (r) => {
        this.parts.log.debug({ key: conn.key, registered: conn.registered, replaced: r.replaced, others: r.others.length }, 'cluster: registered');
        // Not open yet on the first write (the auth reply waits for this); released meanwhile: no kicks.
        if (!conn.registered) return;
        if (r.replaced !== null) this.kickRemote(r.replaced, Disconnect.SameKey.code, Disconnect.SameKey.reason);
        if (kickPlatforms(this.parts.multiLogin, conn.platform)) {
          for (const o of r.others) {
            if (o.nodeId === this.engine.nodeId || o.platform !== conn.platform) continue; // this box's router shard does its own
            this.kickRemote(o, Disconnect.MultiLogin.code, `${Disconnect.MultiLogin.reason} ${conn.platform}`);
          }
        }
      },
      () => {
        this.failures++;
        this.needsResync = true;
      },
    );
  }

  private kickRemote(h: Holding, code: number, reason: string): void {
    this.engine.publishToWorker(h.nodeId, h.worker, encodeKick(h.key, code, reason)).catch((err: unknown) => {
      this.failures++;
      this.parts.log.warn({ err, key: h.key, nodeId: h.nodeId, code }, 'cluster: could not kick a connection on another box (engine unavailable)');
    });
  }

  /** Registers every connection of this worker again (after an outage, or when the box's lease was taken again). */
  resync(): void {
    this.needsResync = false;
    for (const e of this.unregisterLater.values()) this.engine.unregister(e).catch(() => (this.needsResync = true));
    this.unregisterLater.clear();
    let n = 0;
    for (const conn of this.parts.connections()) {
      if (!conn.open) continue;
      void this.register(conn);
      n++;
    }
    this.parts.log.info({ connections: n }, 'cluster: directory entries registered again');
  }

  private onState(ev: EngineStateEvent): void {
    if (ev.state !== 'up') {
      this.needsResync = true;
      this.parts.log.warn({ state: ev.state, reason: ev.reason }, 'cluster engine not up: cross-box pushes refused until it is back');
      return;
    }
    if (ev.previous === 'connecting' && !this.needsResync) return;
    this.parts.log.info({ previous: ev.previous }, 'cluster engine up again');
    this.resync();
    // Room pushes from other boxes published while the subscription was down are gone: say so.
    for (const room of this.engine.subscribedRooms()) {
      const members = this.parts.roomMembers(room);
      if (members === undefined) continue;
      for (const conn of members) if (conn.open) conn.transport.sendPacket(1, ExtOp.Gap, 0, GAP_BODY);
    }
  }

  private onWorkerMessage(bytes: Uint8Array): void {
    switch (bytes[0]) {
      case WireType.Deliver: {
        const d = decodeDeliver(bytes);
        if (d === null) return;
        const conns: RegistryMember[] = [];
        for (const key of d.keys) {
          const conn = this.parts.byKey.get(key);
          if (conn !== undefined && conn.open && conn.accepts.has(d.op)) conns.push(conn);
        }
        if (conns.length > 0) this.parts.deliver(d.op, conns, d.body.slice());
        return;
      }
      case WireType.Kick: {
        const k = decodeKick(bytes);
        if (k === null) return;
        this.parts.log.debug({ key: k.key, code: k.code, found: this.parts.byKey.get(k.key) !== undefined }, 'cluster: kick from another box');
        this.parts.byKey.get(k.key)?.kick(k.code, k.reason);
        return;
      }
      default:
        // Reliable messaging's range (WireType.ImFirst..ImLast) and unknown types: not this member's.
        this.onOther?.(bytes);
    }
  }

  /** Messages of other types on this worker's channel (reliable messaging plugs in here). */
  onOther: ((bytes: Uint8Array) => void) | null = null;

  private onFanout(room: string | null, bytes: Uint8Array): void {
    const f = decodeFanout(bytes);
    if (f === null || isFrom(f.origin, this.self)) return; // this box delivered through its rings
    this.parts.fanout(room, f.op, f.body.slice());
  }
}
