/**
 * Child-process entry used by listen-fds.ts. It binds listening sockets (op "listen") or takes one
 * it is given (op "dup"), sends each handle back to the parent `copies` times (the kernel duplicates
 * the descriptor on every send), and exits. It never runs a server loop of its own.
 */
import net from 'node:net';

interface ListenRequest {
  op: 'listen';
  listeners: Array<{ name: string; host: string; port: number }>;
  copies: number;
}
interface DupRequest {
  op: 'dup';
  name: string;
  host: string;
  port: number;
  copies: number;
}

function send(msg: object, handle: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    process.send!(msg, handle as net.Server, undefined, (err: Error | null) => (err ? reject(err) : resolve()));
  });
}

function bind(host: string, port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    // Connections that reach this process in the moment between listen and exit are never
    // accepted here: pauseOnConnect keeps them unread and they are reset when we exit.
    const server = net.createServer({ pauseOnConnect: true });
    server.once('error', reject);
    server.listen({ host, port, backlog: 4096, exclusive: true }, () => resolve(server));
  });
}

async function handle(req: ListenRequest | DupRequest, given: unknown): Promise<void> {
  if (req.op === 'listen') {
    const servers: net.Server[] = [];
    for (const l of req.listeners) {
      try {
        servers.push(await bind(l.host, l.port));
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        throw new Error(`cannot listen for ${l.name} on ${l.host}:${l.port}: ${e.code ?? e.message}`);
      }
    }
    for (let i = 0; i < req.listeners.length; i++) {
      const l = req.listeners[i]!;
      const server = servers[i]!;
      const addr = server.address() as net.AddressInfo;
      const raw = (server as unknown as { _handle: unknown })._handle;
      for (let c = 0; c < req.copies; c++) await send({ name: l.name, host: addr.address, port: addr.port }, raw);
    }
  } else {
    for (let c = 0; c < req.copies; c++) await send({ name: req.name, host: req.host, port: req.port }, given);
  }
}

process.once('message', (req: ListenRequest | DupRequest, given: unknown) => {
  handle(req, given).then(
    () => process.exit(0),
    (err: Error) => {
      process.send!({ error: err.message }, undefined, undefined, () => process.exit(1));
    },
  );
});
