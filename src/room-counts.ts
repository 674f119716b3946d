/**
 * The room count round: every worker's room member counts are summed and the totals handed back to
 * all of them (goim's comet reports room counts to logic every 10 s and heartbeats carry the sum).
 * Control plane: comlink. The supervisor runs it every rooms.countIntervalMs (src/supervisor.ts).
 */
import type * as Comlink from 'comlink';
import type { Logger } from './logger.js';
import type { WorkerAdmin } from './messages.js';

/** What a round reads from the supervisor. */
export interface RoomCountSource {
  /** Sum of the workers' room versions (src/layout.ts, ST_ROOM_VERSION) and restarts: moves on every change. */
  version(): number;
  /** The workers to count and tell: the ready ones. */
  admins(): Comlink.Remote<WorkerAdmin>[];
}

export class RoomCountRound {
  private counting = false;
  /** Sum of the workers' room versions at the last count round: no change, no round. */
  private countedVersion = -1;

  constructor(
    private readonly source: RoomCountSource,
    private readonly log: Logger,
  ) {}

  /** One round, unless one is still running or nothing changed since the last. */
  async run(): Promise<void> {
    if (this.counting) return;
    const version = this.source.version();
    if (version === this.countedVersion) return; // an idle server sends nothing
    this.counting = true;
    try {
      const admins = this.source.admins();
      const counts = await Promise.all(admins.map((a) => a.roomCounts()));
      const totals: Record<string, number> = {};
      for (const c of counts) for (const [room, n] of Object.entries(c)) totals[room] = (totals[room] ?? 0) + n;
      await Promise.all(admins.map((a) => a.setRoomTotals(totals)));
      this.countedVersion = version;
    } catch (err) {
      this.log.debug({ err }, 'room count round failed (a worker went away); the next round retries');
    } finally {
      this.counting = false;
    }
  }
}
