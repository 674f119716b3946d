/**
 * The load tools' own pieces: the push op and room type they use, and the IPC messages between the
 * generator and its client processes. The push body format and the latency histogram are in
 * test/helpers/load.ts, the /proc readers in test/helpers/proc.ts (shared with the tests).
 */
export const PUSH_OP = 1000;
export const ROOM_TYPE = 'live';

// ---------------------------------------------------------------- IPC: parent ↔ client process

export type Transport = 'ws' | 'tcp';

export interface ClientInit {
  type: 'init';
  kind: Transport;
  host: string;
  port: number;
  path: string;
  /** Connections of this process: global indexes firstIndex .. firstIndex+count-1. */
  firstIndex: number;
  count: number;
  /** Connection g joins room `live://${g % rooms}`. */
  rooms: number;
  keyPrefix: string;
  heartbeatMs: number;
  /** Most connects in flight at once (the storm uses count). */
  connectConcurrency: number;
}

export type ToClient =
  | ClientInit
  | { type: 'go' }
  | { type: 'measure'; fromMs: number; toMs: number }
  | { type: 'mark'; id: number }
  | { type: 'finish'; roomExpected: Record<string, number> | null; keyExpected: number[] | null }
  | { type: 'stop' };

export interface ConnectReport {
  type: 'connected';
  ok: number;
  errors: number;
  /** Absolute ms: when 'go' arrived, when the last connection was authenticated. */
  goMs: number;
  lastAuthMs: number;
  errorSamples: string[];
}

export interface ProgressReport {
  type: 'progress';
  delivered: number;
  open: number;
  dropped: number;
}

/** The delivery accounting of a load run: each client process reports it, the generator sums it. */
export interface DeliveryCounts {
  delivered: number;
  unique: number;
  duplicates: number;
  missing: number;
  connsMissing: number;
  outOfOrder: number;
  dropped: number;
  malformed: number;
}

export interface FinalReport extends DeliveryCounts {
  type: 'final';
  hist: number[];
  histMax: number;
  histSum: number;
}

export type FromClient = { type: 'ready' } | ConnectReport | ProgressReport | { type: 'mark'; id: number; delivered: number } | FinalReport;
