/**
 * The naive baseline for the load benchmarks: one process, one thread, `ws` and `node:http`.
 * Speaks goim's wire protocol minimally over WebSocket at /sub (op 7 auth JSON {mid,key,room_id,accepts}
 * → op 8; op 2 → op 3 with the room's online count; other ops ignored) and serves the goim push
 * routes on its own HTTP port:
 *   POST /goim/push/room?operation=&type=&room=   POST /goim/push/keys?operation=&keys=   POST /goim/push/all?operation=
 * replying {"code":0,"message":"","data":{"connections":n}}. Each push is encoded once as an op-9
 * packet wrapping the goim packet (as goim/ringcast do), then `ws.send` per client: no batching, no
 * pre-framing, no threads.
 *
 *   node dist/bench/baseline/server.js --ws PORT --http PORT [--host 127.0.0.1]
 * prints `baseline: ws listening on H:P (path /sub)` and `baseline: control listening on H:P`.
 */
import http from 'node:http';
import { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { WebSocket, WebSocketServer } from 'ws';
import { decodeFrame, encodePacket, HEADER_BYTES, Op, writeHeader } from '../../src/codec.js';

const { values } = parseArgs({
  options: { ws: { type: 'string', default: '0' }, http: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } },
});
const host = values.host!;

interface Conn {
  ws: WebSocket;
  key: string;
  room: string;
  accepts: Set<number>;
}

const rooms = new Map<string, Set<Conn>>();
const keys = new Map<string, Conn>();
const all = new Set<Conn>();

function join(c: Conn): void {
  all.add(c);
  const old = keys.get(c.key);
  if (old !== undefined && old !== c) old.ws.terminate();
  keys.set(c.key, c);
  if (c.room !== '') {
    let set = rooms.get(c.room);
    if (set === undefined) rooms.set(c.room, (set = new Set()));
    set.add(c);
  }
}

function leave(c: Conn): void {
  all.delete(c);
  if (keys.get(c.key) === c) keys.delete(c.key);
  const set = rooms.get(c.room);
  if (set !== undefined) {
    set.delete(c);
    if (set.size === 0) rooms.delete(c.room);
  }
}

/** op 9 wrapping one goim packet (op, seq 0, body). */
function pushPacket(op: number, body: Uint8Array): Buffer {
  const inner = HEADER_BYTES + body.length;
  const out = Buffer.allocUnsafe(HEADER_BYTES + inner);
  writeHeader(out, 0, HEADER_BYTES + inner, 1, Op.Raw, 0);
  writeHeader(out, HEADER_BYTES, inner, 1, op, 0);
  out.set(body, 2 * HEADER_BYTES);
  return out;
}

const wss = new WebSocketServer({ host, port: Number(values.ws), path: '/sub', perMessageDeflate: false, maxPayload: 1 << 20 });
wss.on('connection', (ws) => {
  let conn: Conn | null = null;
  ws.on('message', (data: Buffer) => {
    decodeFrame(data, 4096, (ver, op, seq, buf, off, len) => {
      if (op === Op.Auth) {
        if (conn !== null) return;
        try {
          const a = JSON.parse(Buffer.from(buf.subarray(off, off + len)).toString()) as { mid?: number; key?: string; room_id?: string; accepts?: number[] };
          conn = { ws, key: a.key || `anon-${Math.random()}`, room: a.room_id ?? '', accepts: new Set(a.accepts ?? []) };
        } catch {
          ws.close();
          return;
        }
        join(conn);
        ws.send(encodePacket(Op.AuthReply, seq, null, ver));
      } else if (op === Op.Heartbeat) {
        const body = Buffer.allocUnsafe(4);
        body.writeInt32BE(conn === null ? 0 : (rooms.get(conn.room)?.size ?? 0));
        ws.send(encodePacket(Op.HeartbeatReply, seq, body, ver));
      }
    });
  });
  ws.on('close', () => {
    if (conn !== null) leave(conn);
  });
  ws.on('error', () => undefined);
});

function reply(res: http.ServerResponse, status: number, code: number, message: string, data: unknown): void {
  const text = JSON.stringify({ code, message, data });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function send(c: Conn, packet: Buffer): void {
  if (c.ws.readyState === WebSocket.OPEN) c.ws.send(packet, { binary: true });
}

const control = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const chunks: Buffer[] = [];
  req.on('data', (d: Buffer) => chunks.push(d));
  req.on('end', () => {
    if (req.method !== 'POST') return reply(res, 405, -405, 'method not allowed', null);
    const op = Number(url.searchParams.get('operation'));
    if (!Number.isInteger(op)) return reply(res, 400, -400, 'operation required', null);
    const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    const packet = pushPacket(op, body);
    let n = 0;
    switch (url.pathname) {
      case '/goim/push/room': {
        const set = rooms.get(`${url.searchParams.get('type')}://${url.searchParams.get('room')}`);
        if (set !== undefined) for (const c of set) (send(c, packet), n++);
        break;
      }
      case '/goim/push/keys':
        for (const k of url.searchParams.getAll('keys').flatMap((v) => v.split(','))) {
          const c = keys.get(k);
          if (c !== undefined && c.accepts.has(op)) (send(c, packet), n++);
        }
        break;
      case '/goim/push/all':
        for (const c of all) if (c.accepts.has(op)) (send(c, packet), n++);
        break;
      default:
        return reply(res, 404, -404, 'not found', null);
    }
    reply(res, 200, 0, '', { connections: n });
  });
});
control.keepAliveTimeout = 60_000;

await new Promise<void>((resolve) => wss.once('listening', resolve));
await new Promise<void>((resolve) => control.listen(Number(values.http), host, resolve));
const wsPort = (wss.address() as AddressInfo).port;
const httpPort = (control.address() as AddressInfo).port;
process.stdout.write(`baseline: ws listening on ${host}:${wsPort} (path /sub)\nbaseline: control listening on ${host}:${httpPort}\n`);

const stop = (): void => {
  for (const c of all) c.ws.terminate();
  wss.close();
  control.close();
  control.closeAllConnections();
  setTimeout(() => process.exit(0), 100).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
