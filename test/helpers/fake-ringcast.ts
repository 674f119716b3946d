/**
 * An in-memory ringcast for the SDK's race tests (after centrifuge-js's fakeServer): every
 * connection attempt of a RingcastClient (its `transport` option) becomes a FakeLink the test
 * drives packet by packet — open it, answer the auth, push, send op 112 in any order, drop it,
 * or keep calling its callbacks after the client closed it (a stale transport). By default a link
 * opens on the next turn and answers what a server answers (op 8, 3, 101, 103, 13, 15, 17, 115);
 * set `auto` to false to answer by hand.
 */
import type { Transport, TransportEvents, TransportFactory } from '@ringcast/client';
import { decodeFrame, encodePacket } from '../../src/codec.js';
import { encodeMessage, setU64 } from '../../src/im/message.js';

export interface Sent {
  op: number;
  seq: number;
  body: Buffer;
}

export interface FakeAuto {
  open: boolean;
  auth: boolean;
  heartbeat: boolean;
  rooms: boolean;
  sync: boolean;
}

export class FakeLink {
  readonly index: number;
  readonly sent: Sent[] = [];
  readonly events: TransportEvents;
  /** The client called close() on this transport. */
  closedByClient = false;
  /** The test ended it from the server side (drop, disconnect). */
  endedByServer = false;
  opened = false;
  private readonly server: FakeRingcast;
  private readonly rooms = new Set<string>();
  readonly transport: Transport;

  constructor(server: FakeRingcast, index: number, events: TransportEvents) {
    this.server = server;
    this.index = index;
    this.events = events;
    this.transport = {
      framing: 'message',
      send: (bytes) => this.receive(bytes),
      close: () => {
        this.closedByClient = true;
      },
    };
    if (server.auto.open) setImmediate(() => this.open());
  }

  /** Open, and neither closed by the client nor ended by the server. */
  get live(): boolean {
    return this.opened && !this.closedByClient && !this.endedByServer;
  }

  open(): void {
    if (this.opened) return;
    this.opened = true;
    this.events.onOpen();
  }

  /** Packets the client sent with `op`. */
  ops(op: number): Sent[] {
    return this.sent.filter((p) => p.op === op);
  }

  last(op: number): Sent | undefined {
    return this.ops(op).at(-1);
  }

  /** A bare packet from the server. */
  packet(op: number, seq: number, body: Uint8Array | string | null = null): void {
    this.events.onData(encodePacket(op, seq, typeof body === 'string' ? Buffer.from(body) : body));
  }

  /** Room pushes in one op-9 packet (what WebSocket carries). */
  batch(pushes: Array<{ op: number; body: Uint8Array | string }>): void {
    const inner = Buffer.concat(pushes.map((p) => encodePacket(p.op, 0, typeof p.body === 'string' ? Buffer.from(p.body) : p.body)));
    this.packet(9, 0, inner);
  }

  /** A reliable message, op 112 (bare: the user's inbox). */
  message(seq: number, body = `m${seq}`, opts: { from?: number; op?: number; group?: number; clientMsgId?: string } = {}): void {
    this.packet(112, 0, imMessage(seq, body, opts));
  }

  /** Op 6 then the close, as the server ends a connection. */
  disconnect(code: number, reason: string, reconnectAfterMs?: number): void {
    this.packet(6, 0, JSON.stringify(reconnectAfterMs === undefined ? { code, reason } : { code, reason, reconnect_after_ms: reconnectAfterMs }));
    this.drop(1000, reason);
  }

  /** The connection breaks (no op 6). */
  drop(code = 1006, reason = ''): void {
    this.endedByServer = true;
    this.events.onClose(code, reason);
  }

  private receive(bytes: Uint8Array): void {
    decodeFrame(bytes, 1 << 20, (_ver, op, seq, buf, off, len) => {
      const body = Buffer.from(buf.subarray(off, off + len));
      this.sent.push({ op, seq, body });
      if (this.closedByClient || this.endedByServer) return;
      setImmediate(() => this.answer(op, seq, body));
    });
  }

  private answer(op: number, seq: number, body: Buffer): void {
    if (this.closedByClient || this.endedByServer) return;
    const a = this.server.auto;
    const reply = (rop: number, b: Uint8Array | string | null): void => this.packet(rop, seq, b);
    const count = Buffer.alloc(4);
    count.writeInt32BE(this.server.onlineCount, 0);
    if (op === 7 && a.auth) reply(8, null);
    else if (op === 2 && a.heartbeat) reply(3, count);
    else if ((op === 100 || op === 102) && a.rooms) {
      for (const r of body.toString().split(',')) op === 100 ? this.rooms.add(r) : this.rooms.delete(r);
      reply(op + 1, [...this.rooms].join(','));
    } else if ((op === 12 || op === 14 || op === 16) && a.rooms) reply(op + 1, body);
    else if (op === 114 && a.sync) {
      const b = Buffer.alloc(16);
      const after = body.length >= 8 ? body.readUInt32BE(0) * 2 ** 32 + body.readUInt32BE(4) : 0;
      setU64(new DataView(b.buffer, b.byteOffset, 16), 0, after);
      setU64(new DataView(b.buffer, b.byteOffset, 16), 8, this.server.latest);
      reply(115, b);
    }
    this.server.onPacket?.(this, op, seq, body);
  }
}

export function imMessage(seq: number, body: string, opts: { from?: number; op?: number; group?: number; clientMsgId?: string } = {}): Uint8Array {
  return encodeMessage(seq, opts.from ?? 7, opts.op ?? 1000, 1_700_000_000_000 + seq, opts.group ?? 0, Buffer.from(opts.clientMsgId ?? ''), Buffer.from(body));
}

export class FakeRingcast {
  readonly links: FakeLink[] = [];
  auto: FakeAuto = { open: true, auth: true, heartbeat: true, rooms: true, sync: true };
  onlineCount = 1;
  /** The `latest` of sync replies. */
  latest = 0;
  /** Called after the automatic answer, for every packet a live link receives. */
  onPacket: ((link: FakeLink, op: number, seq: number, body: Buffer) => void) | null = null;

  readonly factory: TransportFactory = (_url, events) => {
    const link = new FakeLink(this, this.links.length, events);
    this.links.push(link);
    return link.transport;
  };

  constructor(auto: Partial<FakeAuto> = {}) {
    this.auto = { ...this.auto, ...auto };
  }

  get current(): FakeLink {
    const l = this.links.at(-1);
    if (l === undefined) throw new Error('no connection attempt yet');
    return l;
  }

  /** Links that are open and neither side has closed: never more than one. */
  live(): FakeLink[] {
    return this.links.filter((l) => l.live);
  }
}

/** u64 of an op-113 / op-114 body. */
export function u64At(b: Buffer, at = 0): number {
  return b.readUInt32BE(at) * 2 ** 32 + b.readUInt32BE(at + 4);
}
