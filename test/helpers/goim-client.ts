/**
 * A small goim protocol client for tests: TCP (stream of packets), WebSocket (one packet per
 * message, op-9 batches unpacked) or Mars (20-byte header, cmdid mapped back to goim ops).
 */
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import { WebSocket } from 'ws';
import { CodecError, decodeBatch, decodeFrame, encodePacket, GoimStreamDecoder, Op } from '../../src/codec.js';
import { encodeMarsPacket, MarsStreamDecoder } from '../../src/codec-mars.js';
import { MARS_NOOP_CMDID, marsCmdidToOp, opToMarsCmdid } from '../../src/ops.js';

export interface Packet {
  ver: number;
  op: number;
  seq: number;
  body: Buffer;
  /** Mars only: the raw cmdid and unsigned seq. */
  cmdid?: number;
}

export type Kind = 'tcp' | 'ws' | 'mars';

export interface ConnectOptions {
  /** Connect over TLS (wss://, or goim TCP in TLS), trusting this CA certificate (PEM). */
  ca?: string;
  /** Local address to connect from (any 127.x.y.z works on loopback): another client IP. */
  localAddress?: string;
}

export class GoimClient {
  readonly kind: Kind;
  /** WebSocket: how many packets each op-9 message carried, in arrival order. */
  readonly batches: number[] = [];
  private readonly queue: Packet[] = [];
  private waiters: Array<(p: Packet | null) => void> = [];
  private ended = false;
  readonly closed: Promise<void>;
  private socket: net.Socket | null = null;
  private ws: WebSocket | null = null;

  private constructor(kind: Kind) {
    this.kind = kind;
    this.closed = new Promise((resolve) => {
      this.onEnd = () => {
        this.ended = true;
        for (const w of this.waiters) w(null);
        this.waiters = [];
        resolve();
      };
    });
  }
  private onEnd: () => void = () => undefined;

  static async connect(kind: Kind, port: number, opts: ConnectOptions = {}): Promise<GoimClient> {
    const c = new GoimClient(kind);
    const secure = opts.ca !== undefined;
    if (kind === 'ws') {
      const ws = new WebSocket(`${secure ? 'wss' : 'ws'}://127.0.0.1:${port}/sub`, { ca: opts.ca, localAddress: opts.localAddress });
      ws.binaryType = 'nodebuffer';
      c.ws = ws;
      ws.on('message', (data: Buffer) => {
        decodeFrame(data, 1 << 24, (ver, op, seq, buf, off, len) => {
          if (op === Op.Raw) {
            let inner = 0;
            decodeBatch(buf, off, len, () => inner++);
            c.batches.push(inner);
            decodeBatch(buf, off, len, (v, o, s, b, bo, bl) => c.push({ ver: v, op: o, seq: s, body: Buffer.from(b.subarray(bo, bo + bl)) }));
          } else {
            c.push({ ver, op, seq, body: Buffer.from(buf.subarray(off, off + len)) });
          }
        });
      });
      ws.on('close', () => c.onEnd());
      ws.on('error', () => undefined);
      await once(ws, 'open');
      return c;
    }
    const socket = secure ? tls.connect({ host: '127.0.0.1', port, ca: opts.ca }) : net.connect({ host: '127.0.0.1', port, localAddress: opts.localAddress });
    c.socket = socket;
    if (kind === 'tcp') {
      const dec = new GoimStreamDecoder(1 << 24);
      socket.on('data', (chunk) => {
        const err = dec.push(chunk, (ver, op, seq, buf, off, len) => c.push({ ver, op, seq, body: Buffer.from(buf.subarray(off, off + len)) }));
        if (err !== CodecError.None) socket.destroy();
      });
    } else {
      const dec = new MarsStreamDecoder(1 << 24);
      socket.on('data', (chunk) => {
        dec.push(chunk, (_cv, cmdid, seq, buf, off, len) =>
          c.push({ ver: 1, op: cmdid === MARS_NOOP_CMDID ? Op.HeartbeatReply : marsCmdidToOp(cmdid), seq: seq | 0, cmdid, body: Buffer.from(buf.subarray(off, off + len)) }),
        );
      });
    }
    socket.on('close', () => c.onEnd());
    socket.on('error', () => undefined);
    await once(socket, secure ? 'secureConnect' : 'connect');
    return c;
  }

  private push(p: Packet): void {
    const w = this.waiters.shift();
    if (w !== undefined) w(p);
    else this.queue.push(p);
  }

  /** Sends one packet (goim framing, or Mars framing for a Mars client). */
  send(op: number, seq: number, body: Uint8Array | string | null = null, ver = 1): void {
    const b = typeof body === 'string' ? Buffer.from(body) : body;
    if (this.kind === 'mars') {
      const cmdid = op === Op.Heartbeat ? MARS_NOOP_CMDID : opToMarsCmdid(op);
      this.socket!.write(encodeMarsPacket(cmdid, op === Op.Heartbeat ? 0xffffffff : seq >>> 0, b));
    } else {
      this.writeRaw(encodePacket(op, seq, b, ver));
    }
  }

  writeRaw(bytes: Uint8Array): void {
    if (this.ws !== null) this.ws.send(bytes);
    else this.socket!.write(bytes);
  }

  /** The next packet, or null when the connection has closed. Fails after `ms`. */
  next(ms = 5000): Promise<Packet | null> {
    const p = this.queue.shift();
    if (p !== undefined) return Promise.resolve(p);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        reject(new Error(`no packet within ${ms} ms`));
      }, ms);
      const done = (pk: Packet | null): void => {
        clearTimeout(timer);
        resolve(pk);
      };
      this.waiters.push(done);
    });
  }

  /** Skips packets until one with `op` arrives. */
  async expect(op: number, ms = 5000): Promise<Packet> {
    for (;;) {
      const p = await this.next(ms);
      if (p === null) throw new Error(`connection closed while waiting for op ${op}`);
      if (p.op === op) return p;
    }
  }

  /** Sends op 7 with `body` (an object is JSON-encoded) and returns the reply (op 8, or op 6 on rejection). */
  async auth(body: object | string, seq = 1): Promise<Packet> {
    this.send(Op.Auth, seq, typeof body === 'string' ? body : JSON.stringify(body));
    const p = await this.next();
    if (p === null) throw new Error('closed without an auth reply');
    return p;
  }

  async heartbeat(seq = 2): Promise<number> {
    this.send(Op.Heartbeat, seq);
    const p = await this.expect(Op.HeartbeatReply);
    return p.body.length >= 4 ? p.body.readInt32BE(0) : -1;
  }

  /** Collects packets until one with `op` and body `until` arrives (that one excluded). */
  async collectUntil(op: number, until: string, ms = 5000): Promise<Packet[]> {
    const out: Packet[] = [];
    for (;;) {
      const p = await this.next(ms);
      if (p === null) throw new Error(`closed while collecting until "${until}"`);
      if (p.op === op && p.body.toString() === until) return out;
      out.push(p);
    }
  }

  /** Whether the connection runs over TLS (and the server's certificate was verified). */
  get encrypted(): boolean {
    const raw = this.ws !== null ? (this.ws as unknown as { _socket?: net.Socket })._socket : this.socket;
    return raw instanceof tls.TLSSocket && raw.authorized;
  }

  close(): void {
    this.ws?.terminate();
    this.socket?.destroy();
  }
}
