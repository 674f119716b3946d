/**
 * A TCP proxy on loopback for fault injection: it forwards every connection to `target`, and can
 * make chosen connections deaf (bytes from the server are dropped while the socket stays open),
 * which is what a stale pub/sub connection looks like to its client, or slow (client → server bytes
 * are held for a while, in order: a distant server).
 */
import net from 'node:net';

export interface TcpProxy {
  port: number;
  /** Drop server → client bytes of every connection (now and later) whose client has sent `marker`. */
  deafen(marker: string): void;
  hear(): void;
  /** Hold client → server bytes of every connection for `ms` before forwarding them (0: at once). */
  delay(ms: number): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  let marker: string | null = null;
  let delayMs = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    let sent = '';
    client.on('data', (d) => {
      if (sent.length < 4096) sent += d.toString('latin1');
      // timers of one duration fire in the order they were set: the bytes stay in order
      if (delayMs > 0) setTimeout(() => upstream.write(d), delayMs);
      else upstream.write(d);
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
    delay(ms) {
      delayMs = ms;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
