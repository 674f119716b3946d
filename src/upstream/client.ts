/**
 * The HTTP client that forwards upstream requests to the configured services.
 *
 * Backend call: `POST <service url>/<Method>` over a keep-alive agent, headers
 *   content-type: application/octet-stream, x-ringcast-mid, x-ringcast-key, x-ringcast-platform,
 *   x-ringcast-method. key/platform values that are not printable ASCII are percent-encoded
 *   (encodeURIComponent). Redirects are not followed: any status is passed through.
 */
import http from 'node:http';
import https from 'node:https';
import type { Logger } from '../logger.js';
import { MAX_REPLY_BODY, UpstreamStatus, validMethod } from './envelope.js';

export interface UpstreamConfig {
  services: Record<string, { url: string; timeoutMs: number }>;
  maxInFlight: number;
  ratePerSec: number;
  burst: number;
}

export interface UpstreamWho {
  mid: number;
  key: string;
  platform: string;
  /** The connection's goim room ('' when none): what a built-in service such as Demo/Say acts on. */
  room: string;
}

/**
 * A service answered inside the worker instead of by an HTTP backend (Demo/Say, src/upstream/demo-say.ts).
 * It must not throw; every failure is a reply with a status and a reason.
 */
export type LocalService = (method: string, payload: Uint8Array, who: UpstreamWho) => UpstreamReply;

export interface UpstreamReply {
  status: number;
  body: Uint8Array;
}

const utf8 = new TextEncoder();

interface Target {
  url: URL; // base, path without trailing slash
  timeoutMs: number;
  mod: typeof http | typeof https;
  agent: http.Agent;
}

function headerSafe(s: string): string {
  return /^[\x20-\x7e]*$/.test(s) ? s : encodeURIComponent(s);
}

function gatewayReply(status: UpstreamStatus, reason: string): UpstreamReply {
  return { status, body: utf8.encode(reason) };
}

export class UpstreamClient {
  private readonly targets = new Map<string, Target>();
  private readonly httpAgent = new http.Agent({ keepAlive: true });
  private readonly httpsAgent = new https.Agent({ keepAlive: true });

  /** Built-in services by name; they shadow nothing: a configured service of the same name is refused at start. */
  private readonly local: ReadonlyMap<string, LocalService>;

  constructor(
    cfg: UpstreamConfig,
    private readonly log?: Logger,
    local: ReadonlyMap<string, LocalService> = new Map(),
  ) {
    this.local = local;
    for (const name of local.keys()) {
      if (Object.hasOwn(cfg.services, name)) throw new RangeError(`upstream service ${name}: the name is taken by a built-in service (ws.servePages); rename it or set ws.servePages off`);
    }
    for (const [name, svc] of Object.entries(cfg.services)) {
      const url = new URL(svc.url);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new RangeError(`upstream service ${name}: url must be http(s), got ${svc.url}`);
      if (!Number.isInteger(svc.timeoutMs) || svc.timeoutMs < 1 || svc.timeoutMs > 0x7fffffff) {
        throw new RangeError(`upstream service ${name}: timeoutMs must be an integer in 1..${0x7fffffff}, got ${svc.timeoutMs}`);
      }
      url.pathname = url.pathname.replace(/\/+$/, '');
      const secure = url.protocol === 'https:';
      this.targets.set(name, {
        url,
        timeoutMs: svc.timeoutMs,
        mod: secure ? https : http,
        agent: secure ? this.httpsAgent : this.httpAgent,
      });
    }
  }

  /** Forwards one request. Never rejects: every failure becomes a gateway status with a reason text. */
  call(service: string, method: string, payload: Uint8Array, who: UpstreamWho): Promise<UpstreamReply> {
    const builtIn = this.local.get(service);
    if (builtIn !== undefined) return Promise.resolve(builtIn(method, payload, who));
    const t = this.targets.get(service);
    if (t === undefined) return Promise.resolve(gatewayReply(UpstreamStatus.UnknownService, `unknown service ${service}`));
    if (!validMethod(method)) return Promise.resolve(gatewayReply(UpstreamStatus.BadEnvelope, 'bad method name'));
    return new Promise<UpstreamReply>((resolve) => {
      let done = false;
      let req: http.ClientRequest | undefined;
      const finish = (r: UpstreamReply): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(r);
      };
      const fail = (status: UpstreamStatus, reason: string): void => {
        if (done) return;
        this.log?.debug({ service, method, status, reason }, 'upstream call failed');
        finish(gatewayReply(status, reason));
        req?.destroy();
      };
      const timer = setTimeout(() => fail(UpstreamStatus.Timeout, `${service} timed out after ${t.timeoutMs} ms`), t.timeoutMs);
      try {
        const base = t.url;
        req = t.mod.request(
          {
            protocol: base.protocol,
            hostname: base.hostname.replace(/^\[|\]$/g, ''),
            port: base.port,
            path: `${base.pathname}/${method}${base.search}`,
            method: 'POST',
            agent: t.agent,
            headers: {
              'content-type': 'application/octet-stream',
              'content-length': payload.length,
              'x-ringcast-mid': String(who.mid),
              'x-ringcast-key': headerSafe(who.key),
              'x-ringcast-platform': headerSafe(who.platform),
              'x-ringcast-method': method,
            },
          },
          (res) => {
            const status = res.statusCode ?? 0;
            const declared = Number(res.headers['content-length']);
            if (declared > MAX_REPLY_BODY) {
              fail(UpstreamStatus.BackendError, `${service} reply body of ${declared} bytes exceeds ${MAX_REPLY_BODY}`);
              return;
            }
            const chunks: Buffer[] = [];
            let size = 0;
            res.on('data', (c: Buffer) => {
              size += c.length;
              if (size > MAX_REPLY_BODY) {
                fail(UpstreamStatus.BackendError, `${service} reply body exceeds ${MAX_REPLY_BODY} bytes`);
                return;
              }
              chunks.push(c);
            });
            res.on('end', () => {
              if (status < 100 || status > 599) {
                fail(UpstreamStatus.BackendError, `${service} answered with status ${status}`);
                return;
              }
              const body = new Uint8Array(size);
              let at = 0;
              for (const c of chunks) {
                body.set(c, at);
                at += c.length;
              }
              finish({ status, body });
            });
            res.on('error', (err) => fail(UpstreamStatus.BackendError, `${service} reply: ${err.message}`));
            // After 'end' this is a no-op; before it, the backend closed mid-body.
            res.on('close', () => fail(UpstreamStatus.BackendError, `${service} closed the reply before its end`));
          },
        );
        req.on('error', (err: NodeJS.ErrnoException) => fail(UpstreamStatus.BackendError, `${service} unreachable: ${err.code ?? err.message}`));
        req.end(payload);
      } catch (err) {
        fail(UpstreamStatus.BackendError, `${service} request failed: ${(err as Error).message}`);
      }
    });
  }

  /** Closes idle keep-alive sockets and stops reusing them (for shutdown and tests). */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
