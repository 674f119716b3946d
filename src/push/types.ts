/**
 * The push service as the control API sees it. The acceptor implements it by writing push records
 * into the workers' rings (src/push/dispatcher.ts); the HTTP layer (src/control/) only parses,
 * validates and answers.
 */
import { ErrorCode, ServiceError } from '../errors.js';

/** A push the service will not take now (overload protection, push.maxInFlight); the API answers with `status`. */
export class PushRefused extends ServiceError {
  constructor(status: number, message: string) {
    super(status, message, ErrorCode.Overloaded, 'push.maxInFlight');
  }
}

export interface PushResult {
  /** Connections the push was queued to (after accepts filtering). */
  connections: number;
}

export interface SessionInfo {
  key: string;
  platform: string;
  worker: number;
  /** Cluster mode: the box holding it (docs/cluster.md); absent on one box. */
  node?: string;
  /** Null for a session on another box: the directory knows only its box, worker, key and platform. */
  rooms: string[] | null;
  /** Connected since, ms since the epoch; null on another box. */
  since: number | null;
  protocol: 'tcp' | 'ws' | 'mars' | null;
}

export interface OnlineTotal {
  ip_count: number;
  conn_count: number;
}

export interface PushService {
  pushKeys(op: number, keys: string[], body: Uint8Array): Promise<PushResult>;
  pushMids(op: number, mids: number[], body: Uint8Array): Promise<PushResult>;
  /** `room` is the full room key, `type://id`. */
  pushRoom(op: number, room: string, body: Uint8Array): Promise<PushResult>;
  /** `speed`: goim's pacing hint (pushes per second per worker); 0 = as fast as possible. */
  pushAll(op: number, speed: number, body: Uint8Array): Promise<PushResult>;
  /** Rooms of one type (`live` for `live://...`), by member count, descending. */
  onlineTop(type: string, limit: number): Promise<Array<{ room_id: string; count: number }>>;
  /** Member counts of the given rooms of one type, keyed by room id (without the type). */
  onlineRooms(type: string, rooms: string[]): Promise<Record<string, number>>;
  onlineTotal(): Promise<OnlineTotal>;
  sessions(mid: number): Promise<SessionInfo[]>;
  /** Pushes accepted and not yet answered (bounded by push.maxInFlight). */
  inFlight?(): number;
}
