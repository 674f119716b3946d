/**
 * Room actors of one worker: which of this worker's connections are in which room (goim's
 * Bucket.rooms). A room exists while it has members here. Counts are per worker; the acceptor sums
 * them across workers every `rooms.countIntervalMs` (see Supervisor), and heartbeat replies carry
 * that sum, as goim's comet carries logic's AllOnline.
 */
export interface RoomMember {
  readonly id: number;
}

export class Room<C extends RoomMember> {
  readonly id: string;
  readonly members = new Set<C>();
  constructor(id: string) {
    this.id = id;
  }
}

export class Rooms<C extends RoomMember> {
  readonly byId = new Map<string, Room<C>>();
  /** Process-wide member counts, last summed by the acceptor. */
  private totals = new Map<string, number>();

  join(roomId: string, conn: C): Room<C> {
    let room = this.byId.get(roomId);
    if (room === undefined) {
      room = new Room<C>(roomId);
      this.byId.set(roomId, room);
    }
    room.members.add(conn);
    return room;
  }

  leave(roomId: string, conn: C): void {
    const room = this.byId.get(roomId);
    if (room === undefined) return;
    room.members.delete(conn);
    if (room.members.size === 0) this.byId.delete(roomId);
  }

  localCount(roomId: string): number {
    return this.byId.get(roomId)?.members.size ?? 0;
  }

  /** The online count a heartbeat reports: the process-wide sum, or this worker's own count until the first sum. */
  onlineCount(roomId: string): number {
    return this.totals.get(roomId) ?? this.localCount(roomId);
  }

  localCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [id, room] of this.byId) out[id] = room.members.size;
    return out;
  }

  setTotals(totals: Record<string, number>): void {
    this.totals = new Map(Object.entries(totals));
  }
}
