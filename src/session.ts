/**
 * A client session as the rest of a worker sees it, and the way features plug into it.
 *
 * The connection actor (actors/connection.ts) owns the session protocol: handshake, auth, heartbeat,
 * rooms, upstream requests. A feature that speaks ops of its own (reliable messaging today; presence
 * or cluster events next) is a SessionExtension, registered by the worker (src/worker-runtime.ts):
 * the connection hands it the client ops it declares and the ring records addressed to the
 * connection that it declares, asks it before the client joins a room, and tells it when the
 * connection closes and when the router shard owning the user was replaced. What an extension keeps
 * per connection lives beside the connection, in `session.ext[extension.slot]`, not in it.
 */
import { EXT_OP_MAX, EXT_OP_MIN } from './ops.js';
import type { Transport } from './protocols/transport.js';

export interface Session {
  /** The connection's actor id on its worker. */
  readonly id: number;
  readonly key: string;
  readonly mid: number;
  readonly platform: string;
  readonly transport: Transport;
  /** Authenticated and not closing: may receive pushes and messages. */
  readonly open: boolean;
  /** Per-extension state, indexed by SessionExtension.slot (undefined until the extension sets it; made on first use). */
  readonly ext: unknown[];
  /** Tells the client why (op 6 {code, reason}) and closes. */
  kick(code: number, reason: string, seq?: number, reconnectAfterMs?: number, lingerMs?: number): void;
  /** The client stopped reading (outbound queue over push.writeQueueBytes): counted, logged, op 6 4005, closed. */
  dropSlow(): void;
}

export interface SessionExtension {
  /** For logs. */
  readonly name: string;
  /** Index of this extension's state in every session's `ext`; its position in the worker's list. */
  readonly slot: number;
  /** Client ops (within the extension range 100..199) this extension answers on an open session. */
  readonly ops: readonly number[];
  /** Ring record kinds (MessageKind) addressed to a connection actor that this extension takes. */
  readonly records: readonly number[];
  /** One of `ops` from an open session; the body `buf[off .. off+len)` is valid only during the call. */
  onPacket(s: Session, ver: number, op: number, seq: number, buf: Uint8Array, off: number, len: number): void;
  /** One of `records` for this session; the body is valid only during the call. */
  onRecord(s: Session, kind: number, buf: Uint8Array, off: number, len: number): void;
  /** Whether the client may join this room itself (auth room, op 12, op 100). */
  mayJoin(s: Session, room: string): boolean;
  /** The router shard owning the session's user was replaced (its worker died): tell the new one what it must know. */
  resync(s: Session): void;
  /** The session is gone. */
  onClose(s: Session): void;
}

/** A worker's extensions, with the lookups a connection makes per packet and per record. */
export class SessionExtensions {
  readonly list: readonly SessionExtension[];
  /** By op - EXT_OP_MIN. */
  private readonly byOp: Array<SessionExtension | undefined>;
  /** By record kind. */
  private readonly byRecord: Array<SessionExtension | undefined> = [];

  constructor(list: readonly SessionExtension[]) {
    this.list = Object.freeze([...list]);
    this.byOp = new Array<SessionExtension | undefined>(EXT_OP_MAX - EXT_OP_MIN + 1).fill(undefined);
    list.forEach((ext, i) => {
      if (ext.slot !== i) throw new Error(`session extension ${ext.name}: slot ${ext.slot}, but it is number ${i} in the list`);
      for (const op of ext.ops) {
        if (op < EXT_OP_MIN || op > EXT_OP_MAX) throw new Error(`session extension ${ext.name}: op ${op} is outside the extension range ${EXT_OP_MIN}..${EXT_OP_MAX}`);
        const other = this.byOp[op - EXT_OP_MIN];
        if (other !== undefined) throw new Error(`session extensions ${other.name} and ${ext.name} both take op ${op}`);
        this.byOp[op - EXT_OP_MIN] = ext;
      }
      for (const kind of ext.records) {
        const other = this.byRecord[kind];
        if (other !== undefined) throw new Error(`session extensions ${other.name} and ${ext.name} both take record kind ${kind}`);
        this.byRecord[kind] = ext;
      }
    });
  }

  /** The extension taking client op `op`, if any. */
  forOp(op: number): SessionExtension | undefined {
    return op >= EXT_OP_MIN && op <= EXT_OP_MAX ? this.byOp[op - EXT_OP_MIN] : undefined;
  }

  /** The extension taking records of `kind` addressed to a connection, if any. */
  forRecord(kind: number): SessionExtension | undefined {
    return this.byRecord[kind];
  }
}
