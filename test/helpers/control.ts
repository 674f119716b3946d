/**
 * One keep-alive HTTP connection to the control port, and which worker serves it. Every worker
 * serves the control port on its own descriptor and the kernel picks one per connection; with
 * debug.testCommands on (test servers have it) each answer names its worker in `x-ringcast-worker`.
 * A test that must know where a request is handled (on every worker; not on the one it kills)
 * keeps such a connection.
 */
import http from 'node:http';

export interface ControlAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** The parsed JSON body (undefined when the body is not JSON). */
  json: any;
  /** The worker that answered. */
  worker: number;
}

export class ControlConnection {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  /** The worker serving this connection (-1 until the first answer). */
  worker = -1;

  constructor(
    readonly port: number,
    private readonly token = '',
  ) {}

  request(method: string, path: string, body?: string | Uint8Array, headers: http.OutgoingHttpHeaders = {}): Promise<ControlAnswer> {
    return new Promise((resolve, reject) => {
      const h: http.OutgoingHttpHeaders = { ...headers };
      if (this.token !== '') h['authorization'] = `Bearer ${this.token}`;
      if (body !== undefined) h['content-length'] = Buffer.byteLength(body);
      const req = http.request({ host: '127.0.0.1', port: this.port, method, path, agent: this.agent, headers: h }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          const w = Number(res.headers['x-ringcast-worker']);
          const worker = Number.isInteger(w) ? w : -1;
          if (this.worker >= 0 && worker !== this.worker) {
            reject(new Error(`the keep-alive connection moved from worker ${this.worker} to ${worker} (it was closed and reopened)`));
            return;
          }
          this.worker = worker;
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json, worker });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  post(path: string, body?: string | Uint8Array, headers?: http.OutgoingHttpHeaders): Promise<ControlAnswer> {
    return this.request('POST', path, body ?? '', headers);
  }

  get(path: string): Promise<ControlAnswer> {
    return this.request('GET', path);
  }

  close(): void {
    this.agent.destroy();
  }

  /**
   * One connection on each of `workers` workers: opens connections (asking GET /health, which
   * uses none of the rate limit) until the kernel has handed one to each; the others are closed.
   */
  static async onEveryWorker(port: number, workers: number, token = '', tries = 200): Promise<ControlConnection[]> {
    const found: Array<ControlConnection | undefined> = new Array(workers);
    for (let i = 0; i < tries && found.includes(undefined); i++) {
      const c = new ControlConnection(port, token);
      const a = await c.get('/health'); // exempt from the token and the rate limit
      if (a.worker < 0) throw new Error(`no x-ringcast-worker header (status ${a.status}): are test commands on?`);
      if (found[a.worker] === undefined) found[a.worker] = c;
      else c.close();
    }
    if (found.includes(undefined)) {
      for (const c of found) c?.close();
      throw new Error(`${tries} connections did not reach all ${workers} workers`);
    }
    return found as ControlConnection[];
  }
}
