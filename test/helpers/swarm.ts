/**
 * Many light goim clients in the test process (the reliability tests hold thousands): each opens a
 * raw TCP socket or a WebSocket, authenticates into a room and hands every packet it receives (op-9
 * batches unpacked) to one handler shared by the swarm. No promise per packet, no per-client timer.
 * `pause()` stops reading (the socket under a WebSocket too): a client that never reads.
 */
import net from 'node:net';
import { WebSocket } from 'ws';
import { CodecError, decodeBatch, decodeFrame, encodePacket, GoimStreamDecoder, Op, type PacketHandler } from '../../src/codec.js';

export type SwarmKind = 'tcp' | 'ws';

export interface SwarmOptions {
  kind: SwarmKind;
  port: number;
  count: number;
  /** goim room (auth room_id); empty for none. */
  room: string;
  /** Client i authenticates as mid midBase + i with key `${keyPrefix}${i}`. */
  midBase: number;
  keyPrefix: string;
  /** Connects in flight at once. Default 100. */
  concurrency?: number;
  /** Every packet after the auth reply, with the client it reached; the body is valid during the call only. */
  onPacket?: (client: SwarmClient, op: number, buf: Uint8Array, off: number, len: number) => void;
}

const MAX_BODY = 1 << 24;

export class SwarmClient {
  readonly index: number;
  readonly key: string;
  readonly mid: number;
  /** The TCP socket (under the WebSocket for ws). */
  socket!: net.Socket;
  ws: WebSocket | null = null;
  authed = false;
  /** Push packets (op ≥ 1000) received. */
  pushes = 0;
  isClosed = false;
  readonly closed: Promise<void>;
  /** Free for the test (e.g. the next sequence number it expects). */
  state: Record<string, number> = {};
  private markClosed!: () => void;

  constructor(index: number, key: string, mid: number) {
    this.index = index;
    this.key = key;
    this.mid = mid;
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
  }

  onEnd(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.markClosed();
  }
  /** Stops reading: the kernel buffers fill, then the server's queue for this client. */
  pause(): void {
    this.socket.pause();
  }
  resume(): void {
    this.socket.resume();
  }
  send(op: number, seq: number, body: Uint8Array | null = null): void {
    const bytes = encodePacket(op, seq, body);
    if (this.ws !== null) this.ws.send(bytes);
    else this.socket.write(bytes);
  }
  close(): void {
    if (this.ws !== null) this.ws.terminate();
    else this.socket.destroy();
  }
}

function connectOne(opts: SwarmOptions, c: SwarmClient): Promise<void> {
  const auth = encodePacket(Op.Auth, 1, Buffer.from(JSON.stringify({ mid: c.mid, key: c.key, room_id: opts.room, platform: 'web', accepts: [1000] })));
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const fail = (why: string): void => {
      if (settled) return;
      settled = true;
      reject(new Error(`client ${c.index}: ${why}`));
    };
    const onPacket: PacketHandler = (_ver, op, _seq, buf, off, len) => {
      if (op === Op.Raw) {
        decodeBatch(buf, off, len, onPacket);
        return;
      }
      if (!c.authed) {
        if (op !== Op.AuthReply) return fail(`auth answered with op ${op}`);
        c.authed = true;
        settled = true;
        resolve();
        return;
      }
      if (op >= 1000) c.pushes++;
      opts.onPacket?.(c, op, buf, off, len);
    };
    const onClose = (): void => {
      c.onEnd();
      fail('closed before the auth reply');
    };
    if (opts.kind === 'ws') {
      const ws = new WebSocket(`ws://127.0.0.1:${opts.port}/sub`);
      ws.binaryType = 'nodebuffer';
      c.ws = ws;
      ws.on('message', (data: Buffer) => decodeFrame(data, MAX_BODY, onPacket));
      ws.on('close', onClose);
      ws.on('error', (e) => fail(e.message));
      ws.once('open', () => {
        c.socket = (ws as WebSocket & { _socket: net.Socket })._socket;
        ws.send(auth);
      });
      return;
    }
    const socket = net.connect({ host: '127.0.0.1', port: opts.port });
    c.socket = socket;
    const dec = new GoimStreamDecoder(MAX_BODY);
    socket.on('data', (chunk) => {
      if (dec.push(chunk, onPacket) !== CodecError.None) socket.destroy();
    });
    socket.on('close', onClose);
    socket.on('error', (e) => fail(e.message));
    socket.once('connect', () => socket.write(auth));
  });
}

/** Connects and authenticates `count` clients; resolves when all are in (rejects on the first failure). */
export function connectSwarm(opts: SwarmOptions): Promise<SwarmClient[]> {
  return connectClients(opts, Array.from({ length: opts.count }, (_, i) => new SwarmClient(i, `${opts.keyPrefix}${i}`, opts.midBase + i)));
}

/** Connects and authenticates the given (new) clients, `opts.concurrency` at a time. */
export async function connectClients(opts: SwarmOptions, clients: SwarmClient[]): Promise<SwarmClient[]> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < clients.length) await connectOne(opts, clients[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(clients.length, opts.concurrency ?? 100) }, worker));
  return clients;
}

/** A fresh client with the same index, key and mid (to reconnect one that was closed). */
export function renew(c: SwarmClient): SwarmClient {
  return new SwarmClient(c.index, c.key, c.mid);
}

/** Closes every client and waits until each has seen its close. */
export async function closeSwarm(clients: SwarmClient[]): Promise<void> {
  for (const c of clients) c.close();
  await Promise.all(clients.map((c) => c.closed));
}
