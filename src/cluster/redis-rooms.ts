/**
 * Room subscriptions of one engine: a room's channel is subscribed while the worker has members,
 * and unsubscribed `roomGraceMs` after the last one left unless one joined again meanwhile (against
 * churn: a room whose only member reconnects does not cost an unsubscribe and a subscribe). One
 * interval covers every pending leave, and runs only while one is pending.
 */
import type { RoomMessageHandler } from './engine.js';
import type { RedisNames } from './redis-keys.js';
import type { RedisLink } from './redis-link.js';

export class RedisRooms {
  private readonly subscribed = new Set<string>();
  /** room → when to unsubscribe (performance.now() ms). */
  private readonly leaving = new Map<string, number>();
  private sweepTimer: NodeJS.Timeout | null = null;
  private handler: RoomMessageHandler = () => {};
  private allSubscribed = false;
  private readonly roomPrefix: string;
  private readonly allChannel: string;

  constructor(
    private readonly link: RedisLink,
    private readonly names: RedisNames,
    private readonly onError: (err: unknown) => void,
  ) {
    this.roomPrefix = names.roomChannel('');
    this.roomPrefix = this.roomPrefix.slice(0, this.roomPrefix.length - 1); // "<p>:room:{"
    this.allChannel = names.allChannel;
    // Subscriptions Redis refused while it was down are not kept by node-redis: make them again.
    link.onReconnected(() => this.restore());
  }

  onMessage(handler: RoomMessageHandler): void {
    this.handler = handler;
  }

  private readonly onRoom = (message: Buffer, channel: Buffer): void => {
    this.link.received++;
    const name = channel.toString('utf8');
    this.handler(name.slice(this.roomPrefix.length, name.length - 1), message);
  };

  private readonly onAll = (message: Buffer): void => {
    this.link.received++;
    this.handler(null, message);
  };

  private subscribe(room: string): void {
    this.link.sub.sSubscribe(this.names.roomChannel(room), this.onRoom, true).catch((err: unknown) => this.onError(err));
  }

  join(room: string): void {
    this.leaving.delete(room);
    if (this.subscribed.has(room)) return;
    this.subscribed.add(room);
    this.subscribe(room);
  }

  leave(room: string): void {
    if (!this.subscribed.has(room) || this.leaving.has(room)) return;
    const grace = this.link.opts.roomGraceMs;
    if (grace === 0) {
      this.drop(room);
      return;
    }
    this.leaving.set(room, performance.now() + grace);
    if (!this.sweepTimer) {
      this.sweepTimer = setInterval(() => this.sweep(), Math.max(20, Math.floor(grace / 4)));
      this.sweepTimer.unref();
    }
  }

  private drop(room: string): void {
    this.subscribed.delete(room);
    this.link.sub.sUnsubscribe(this.names.roomChannel(room), this.onRoom, true).catch((err: unknown) => this.onError(err));
  }

  private sweep(): void {
    const now = performance.now();
    for (const [room, at] of this.leaving) {
      if (at > now) continue;
      this.leaving.delete(room);
      this.drop(room);
    }
    if (this.leaving.size === 0 && this.sweepTimer) {
      clearInterval(this.sweepTimer);
      this.sweepTimer = null;
    }
  }

  async subscribeAll(): Promise<void> {
    this.allSubscribed = true;
    await this.link.call(() => this.link.sub.sSubscribe(this.allChannel, this.onAll, true));
  }

  private restore(): void {
    for (const room of this.subscribed) this.subscribe(room);
    if (this.allSubscribed) this.link.sub.sSubscribe(this.allChannel, this.onAll, true).catch((err: unknown) => this.onError(err));
  }

  publish(room: string | null, bytes: Uint8Array): Promise<number> {
    const channel = room === null ? this.allChannel : this.names.roomChannel(room);
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return this.link.call(async () => {
      this.link.published++;
      return Number(await this.link.cmd.sPublish(channel, buf));
    }, true);
  }

  rooms(): string[] {
    return [...this.subscribed];
  }

  get size(): number {
    return this.subscribed.size;
  }

  stop(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
  }
}
