/**
 * Open-loop pusher: drives the goim HTTP control API at a target rate over keep-alive connections.
 * Push i is due at start + i/rate; each tick (1 ms timer) issues every push that is due without
 * waiting for earlier responses, and the body carries the scheduled time, so a slow server (or a
 * full queue) shows up as latency rather than as a lower offered rate.
 *
 * Transport: a few keep-alive HTTP/1.1 connections with requests pipelined on them (a minimal
 * client: requests written as text, responses cut by Content-Length). node:http's Agent queues
 * requests in JS while every socket waits for its response, and at 15,000 requests/s on this
 * machine the pusher itself became the bottleneck; pipelining writes each request when it is due.
 */
import net from 'node:net';
import { encodeBody, nowMs } from '../../test/helpers/load.js';
import { PUSH_OP, ROOM_TYPE } from './common.js';

export type PushTarget =
  | { kind: 'room'; room: string }
  | { kind: 'keys'; connections: number; keyPrefix: string }
  | { kind: 'all' };

export interface PusherStats {
  scheduled: number;
  ok: number;
  errors: number;
  errorSamples: string[];
  maxInFlight: number;
  /** Achieved issue rate over the run (pushes/s). */
  issuedRate: number;
  /** HTTP response time, ms: p50-ish mean and max. */
  meanResponseMs: number;
  maxResponseMs: number;
  /** Latest issue lag behind schedule, ms (how far the pusher itself fell behind). */
  maxIssueLagMs: number;
}

export class Pusher {
  private readonly sockets: PipeConn[] = [];
  private rr = 0;
  private seq = 0;
  private roomSeq = 0;
  /** Pushes addressed to each connection index (keys mode). */
  readonly perKey: Uint32Array;
  private inFlight = 0;
  private stats: PusherStats = { scheduled: 0, ok: 0, errors: 0, errorSamples: [], maxInFlight: 0, issuedRate: 0, meanResponseMs: 0, maxResponseMs: 0, maxIssueLagMs: 0 };
  private respSum = 0;
  private idle: (() => void) | null = null;
  private rng = 0x9e3779b9;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly target: PushTarget,
    maxSockets = 8,
  ) {
    for (let i = 0; i < maxSockets; i++) this.sockets.push(new PipeConn(host, port, (ok, why, t0) => this.done(ok, why, t0)));
    this.perKey = new Uint32Array(target.kind === 'keys' ? target.connections : 0);
  }

  get roomPushes(): number {
    return this.roomSeq;
  }

  get sent(): number {
    return this.seq;
  }

  get okCount(): number {
    return this.stats.ok;
  }

  get errorCount(): number {
    return this.stats.errors;
  }

  get pending(): number {
    return this.inFlight;
  }

  private random(n: number): number {
    // xorshift32: cheap and reproducible
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x >>> 0;
    return this.rng % n;
  }

  private issue(scheduledMs: number): void {
    const gseq = ++this.seq;
    let path: string;
    let streamSeq: number;
    const t = this.target;
    if (t.kind === 'keys') {
      const g = this.random(t.connections);
      streamSeq = ++this.perKey[g]!;
      path = `/goim/push/keys?operation=${PUSH_OP}&keys=${t.keyPrefix}${g}`;
    } else if (t.kind === 'room') {
      streamSeq = ++this.roomSeq;
      path = `/goim/push/room?operation=${PUSH_OP}&type=${ROOM_TYPE}&room=${t.room}`;
    } else {
      streamSeq = ++this.roomSeq;
      path = `/goim/push/all?operation=${PUSH_OP}`;
    }
    const body = encodeBody(streamSeq, scheduledMs, gseq);
    this.inFlight++;
    if (this.inFlight > this.stats.maxInFlight) this.stats.maxInFlight = this.inFlight;
    const conn = this.sockets[this.rr++ % this.sockets.length]!;
    conn.send(`POST ${path} HTTP/1.1\r\nHost: ${this.host}:${this.port}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\n\r\n`, body);
  }

  private done(ok: boolean, why: string, t0: number): void {
    const ms = nowMs() - t0;
    this.respSum += ms;
    if (ms > this.stats.maxResponseMs) this.stats.maxResponseMs = ms;
    if (ok) this.stats.ok++;
    else {
      this.stats.errors++;
      if (this.stats.errorSamples.length < 5) this.stats.errorSamples.push(why);
    }
    this.inFlight--;
    if (this.inFlight === 0 && this.idle !== null) this.idle();
  }

  /**
   * Pushes at `rate` per second for `durationMs`, then waits (at most `drainMs`) for the last
   * responses. `onTick` is called about once per second with the time since the start.
   */
  async run(rate: number, durationMs: number, drainMs: number): Promise<PusherStats> {
    const start = nowMs() + 5;
    const total = Math.floor((rate * durationMs) / 1000);
    const interval = 1000 / rate;
    let issued = 0;
    await new Promise<void>((resolve) => {
      const tick = (): void => {
        const now = nowMs();
        while (issued < total) {
          const due = start + issued * interval;
          if (due > now) break;
          const lag = now - due;
          if (lag > this.stats.maxIssueLagMs) this.stats.maxIssueLagMs = lag;
          this.issue(due);
          issued++;
        }
        if (issued >= total) {
          clearInterval(timer);
          resolve();
        }
      };
      const timer = setInterval(tick, 1);
    });
    const issueEnd = nowMs();
    this.stats.scheduled = total;
    this.stats.issuedRate = (issued * 1000) / Math.max(1, issueEnd - start);
    if (this.inFlight > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, drainMs);
        this.idle = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.idle = null;
    }
    this.stats.meanResponseMs = this.respSum / Math.max(1, this.stats.ok + this.stats.errors);
    return { ...this.stats };
  }

  close(): void {
    for (const c of this.sockets) c.close();
  }
}

/** One keep-alive connection with pipelined requests; responses complete in request order. */
export class PipeConn {
  private readonly socket: net.Socket;
  private readonly sentAt: number[] = [];
  private head = 0;
  private buf = '';
  private closed = false;

  constructor(host: string, port: number, private readonly onDone: (ok: boolean, why: string, t0: number) => void) {
    this.socket = net.connect({ host, port });
    this.socket.setNoDelay(true);
    this.socket.setEncoding('latin1');
    this.socket.on('data', (d: string) => this.onData(d));
    this.socket.on('error', (err) => this.failAll(err.message));
    this.socket.on('close', () => this.failAll('control connection closed'));
  }

  send(head: string, body: Buffer): void {
    this.sentAt.push(nowMs());
    if (this.closed) {
      this.failAll('control connection closed');
      return;
    }
    this.socket.write(head, 'latin1');
    this.socket.write(body);
  }

  private onData(d: string): void {
    this.buf += d;
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(this.buf.slice(0, end + 2));
      const len = m === null ? 0 : Number(m[1]);
      const total = end + 4 + len;
      if (this.buf.length < total) return;
      const status = Number(this.buf.slice(9, 12));
      const ok = status === 200;
      const why = ok ? '' : `HTTP ${status} ${this.buf.slice(end + 4, total).slice(0, 120)}`;
      this.buf = this.buf.slice(total);
      const t0 = this.sentAt[this.head++] ?? nowMs();
      if (this.head > 4096) {
        this.sentAt.splice(0, this.head);
        this.head = 0;
      }
      this.onDone(ok, why, t0);
    }
  }

  private failAll(why: string): void {
    this.closed = true;
    while (this.head < this.sentAt.length) this.onDone(false, why, this.sentAt[this.head++]!);
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }
}
