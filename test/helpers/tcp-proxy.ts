/**
 * A TCP proxy on loopback for fault injection: it forwards every connection to `target`, and can
 * make chosen connections deaf (bytes from the server are dropped while the socket stays open),
 * which is what a stale pub/sub connection looks like to its client.
 */
import net from 'node:net';

export interface TcpProxy {
  port: number;
  /** Drop server → client bytes of every connection (now and later) whose client has sent `marker`. */
  deafen(marker: string): void;
  hear(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  let marker: string | null = null;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    let sent = '';
    client.on('data', (d) => {
      if (sent.length < 4096) sent += d.toString('latin1');
      upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (marker !== null && sent.toLowerCase().includes(marker.toLowerCase())) return; // deaf: the client never hears it
      client.write(d);
    });
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    deafen(m) {
      marker = m;
    },
    hear() {
      marker = null;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
