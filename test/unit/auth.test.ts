import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as jose from 'jose';
import {
  createAuthenticator,
  parseAuthBody,
  type AuthFailure,
  type AuthRequest,
  type AuthResult,
} from '../../src/auth/index.js';
import type { AuthConfig } from '../../src/config/index.js';

const enc = new TextEncoder();
const SECRET = 'test-secret-which-is-long-enough-for-hs256!';

type CfgOver = { mode?: AuthConfig['mode']; timeoutMs?: number; jwt?: Partial<AuthConfig['jwt']>; http?: Partial<AuthConfig['http']> };

function cfg(over: CfgOver = {}): AuthConfig {
  return {
    mode: over.mode ?? 'none',
    timeoutMs: over.timeoutMs ?? 2000,
    jwt: { algorithm: 'HS256', secret: '', publicKey: '', issuer: '', audience: '', ...over.jwt },
    http: { url: '', ...over.http },
  };
}

function parseOk(text: string | Uint8Array): AuthRequest {
  const bytes = typeof text === 'string' ? enc.encode(text) : text;
  const r = parseAuthBody(bytes, 0, bytes.length);
  assert.ok(!('ok' in r), `expected a request, got ${JSON.stringify(r)}`);
  return r as AuthRequest;
}

function parseFail(text: string | Uint8Array, fragment: string): AuthFailure {
  const bytes = typeof text === 'string' ? enc.encode(text) : text;
  const r = parseAuthBody(bytes, 0, bytes.length);
  assert.ok('ok' in r && r.ok === false, `expected a failure, got ${JSON.stringify(r)}`);
  const f = r as AuthFailure;
  assert.equal(f.code, 400);
  assert.ok(f.reason.includes(fragment), `reason ${JSON.stringify(f.reason)} lacks ${JSON.stringify(fragment)}`);
  return f;
}

function req(over: Partial<AuthRequest> = {}): AuthRequest {
  const body = over.raw ?? enc.encode(JSON.stringify({ mid: over.mid ?? 0, key: '', room_id: '', platform: 'web', accepts: [] }));
  return { mid: 0, key: '', roomId: '', platform: 'web', accepts: [], token: '', raw: body, ...over };
}

function assertOk(r: AuthResult, mid: number, rooms: string[] = []): void {
  assert.deepEqual(r, { ok: true, mid, rooms });
}

function assertFail(r: AuthResult, code: number, fragment: string): void {
  assert.equal(r.ok, false, `expected failure, got ${JSON.stringify(r)}`);
  const f = r as AuthFailure;
  assert.equal(f.code, code, `code (reason: ${f.reason})`);
  assert.ok(f.reason.includes(fragment), `reason ${JSON.stringify(f.reason)} lacks ${JSON.stringify(fragment)}`);
}

function hsKey(secret = SECRET): Uint8Array {
  return enc.encode(secret);
}

async function signHS(claims: jose.JWTPayload, secret = SECRET, mutate?: (j: jose.SignJWT) => jose.SignJWT): Promise<string> {
  let j = new jose.SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt();
  if (mutate) j = mutate(j);
  return j.sign(hsKey(secret));
}

describe('auth', () => {
  describe('parseAuthBody', () => {
    it('parses the goim JS demo body', () => {
      const r = parseOk('{"mid":123, "room_id":"live://1000", "platform":"web", "accepts":[1000,1001,1002]}');
      assert.equal(r.mid, 123);
      assert.equal(r.key, '');
      assert.equal(r.roomId, 'live://1000');
      assert.equal(r.platform, 'web');
      assert.deepEqual(r.accepts, [1000, 1001, 1002]);
      assert.equal(r.token, '');
    });

    it('respects off/len and copies the raw bytes', () => {
      const body = enc.encode('{"mid":7,"key":"k1","token":"t"}');
      const buf = new Uint8Array(16 + body.length + 4).fill(0xff);
      buf.set(body, 16);
      const r = parseAuthBody(buf, 16, body.length);
      assert.ok(!('ok' in r));
      const q = r as AuthRequest;
      assert.equal(q.mid, 7);
      assert.equal(q.key, 'k1');
      assert.equal(q.token, 't');
      assert.deepEqual(q.raw, body);
      buf.fill(0, 16); // mutating the source must not affect the copy
      assert.deepEqual(q.raw, body);
      assertFail(parseAuthBody(buf, 16, buf.length) as AuthFailure, 400, 'outside');
    });

    it('defaults missing and null fields like goim', () => {
      const r = parseOk('{}');
      assert.deepEqual({ ...r, raw: undefined }, { mid: 0, key: '', roomId: '', platform: '', accepts: [], token: '', raw: undefined });
      const n = parseOk('{"mid":null,"key":null,"room_id":null,"platform":null,"accepts":null,"token":null,"extra":{"x":1}}');
      assert.equal(n.mid, 0);
      assert.deepEqual(n.accepts, []);
    });

    it('accepts mid as a decimal string', () => {
      assert.equal(parseOk('{"mid":"123"}').mid, 123);
      assert.equal(parseOk('{"mid":"9007199254740991"}').mid, Number.MAX_SAFE_INTEGER);
      assert.equal(parseOk('{"mid":9007199254740991}').mid, Number.MAX_SAFE_INTEGER);
    });

    it('rejects bad mids', () => {
      for (const mid of ['-1', '1.5', '"-1"', '"12a"', '""', '"9007199254740992"', '9007199254740993', 'true', '[1]', '{}', '" 1"']) {
        parseFail(`{"mid":${mid}}`, '"mid"');
      }
    });

    it('rejects invalid JSON, non-objects and invalid UTF-8', () => {
      parseFail('{"mid":123', 'invalid JSON');
      parseFail('', 'invalid JSON');
      parseFail('[1,2]', 'JSON object');
      parseFail('null', 'JSON object');
      parseFail('"x"', 'JSON object');
      parseFail(new Uint8Array([0x7b, 0x22, 0x6b, 0x65, 0x79, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]), 'UTF-8'); // {"key":"\xc3("}
      parseFail(new Uint8Array([0x7b, 0xff, 0x7d]), 'UTF-8');
    });

    it('rejects wrong field types, naming the field', () => {
      parseFail('{"key":1}', '"key"');
      parseFail('{"room_id":["live://1"]}', '"room_id"');
      parseFail('{"platform":false}', '"platform"');
      parseFail('{"token":{}}', '"token"');
      parseFail('{"accepts":"1000"}', '"accepts"');
      parseFail('{"accepts":[1000,"1001"]}', '"accepts"');
      parseFail('{"accepts":[1.5]}', '"accepts"');
      parseFail('{"accepts":[2147483648]}', '"accepts"');
      assert.deepEqual(parseOk('{"accepts":[-2147483648,2147483647]}').accepts, [-2147483648, 2147483647]);
    });

    it('ignores a __proto__ key', () => {
      const r = parseOk('{"__proto__":{"mid":5},"mid":1}');
      assert.equal(r.mid, 1);
      assert.equal(parseOk('{"__proto__":{"mid":5}}').mid, 0);
    });
  });

  describe('none mode', () => {
    it('trusts the body mid', async () => {
      const auth = createAuthenticator(cfg({ mode: 'none' }));
      assertOk(await auth(req({ mid: 42 })), 42);
    });
  });

  describe('jwt mode', () => {
    let rsa: { publicKey: KeyObject; privateKey: KeyObject };
    let rsaPem: string;
    before(() => {
      rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
      rsaPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string;
    });

    it('HS256: accepts a valid token, mid from sub', async () => {
      const auth = createAuthenticator(cfg({ mode: 'jwt', jwt: { secret: SECRET } }));
      const token = await signHS({ sub: '1001' }, SECRET, (j) => j.setExpirationTime('1m'));
      assertOk(await auth(req({ token })), 1001);
      assertOk(await auth(req({ token, mid: 1001 })), 1001);
      assertFail(await auth(req({ token, mid: 5 })), 401, 'mid does not match token');
      // numeric sub is accepted too
      assertOk(await auth(req({ token: await signHS({ sub: 77 as unknown as string }) })), 77);
    });

    it('HS256: grants rooms from the rooms claim', async () => {
      const auth = createAuthenticator(cfg({ mode: 'jwt', jwt: { secret: SECRET } }));
      const token = await signHS({ sub: '5', rooms: ['live://1000', 'vip://7'] });
      assertOk(await auth(req({ token })), 5, ['live://1000', 'vip://7']);
      assertFail(await auth(req({ token: await signHS({ sub: '5', rooms: 'live://1' }) })), 401, 'rooms');
      assertFail(await auth(req({ token: await signHS({ sub: '5', rooms: [1] }) })), 401, 'rooms');
      assertFail(await auth(req({ token: await signHS({ sub: '5', rooms: ['nope'] }) })), 401, 'type://id');
    });

    it('HS256: rejects a wrong secret, a missing token, a bad sub', async () => {
      const auth = createAuthenticator(cfg({ mode: 'jwt', jwt: { secret: SECRET } }));
      assertFail(await auth(req({ token: await signHS({ sub: '1' }, 'some-other-secret-of-decent-length!!') })), 401, 'signature');
      assertFail(await auth(req({ token: '' })), 401, 'missing token');
      assertFail(await auth(req({ token: 'not.a.jwt' })), 401, 'invalid token');
      assertFail(await auth(req({ token: await signHS({ sub: 'alice' }) })), 401, '"sub"');
      assertFail(await auth(req({ token: await signHS({ sub: '-3' }) })), 401, '"sub"');
      assertFail(await auth(req({ token: await signHS({}) })), 401, '"sub"');
    });

    it('HS256: rejects expired and not-yet-valid tokens', async () => {
      const auth = createAuthenticator(cfg({ mode: 'jwt', jwt: { secret: SECRET } }));
      const now = Math.floor(Date.now() / 1000);
      assertFail(await auth(req({ token: await signHS({ sub: '1' }, SECRET, (j) => j.setExpirationTime(now - 60)) })), 401, 'expired');
      assertFail(await auth(req({ token: await signHS({ sub: '1' }, SECRET, (j) => j.setNotBefore(now + 3600)) })), 401, 'nbf');
    });

    it('checks issuer and audience when configured', async () => {
      const auth = createAuthenticator(cfg({ mode: 'jwt', jwt: { secret: SECRET, issuer: 'https://idp', audience: 'ringcast' } }));
      const good = await signHS({ sub: '9' }, SECRET, (j) => j.setIssuer('https://idp').setAudience('ringcast'));
      assertOk(await auth(req({ token: good })), 9);
      assertFail(await auth(req({ token: await signHS({ sub: '9' }, SECRET, (j) => j.setIssuer('evil').setAudience('ringcast')) })), 401, 'iss');
      assertFail(await auth(req({ token: await signHS({ sub: '9' }, SECRET, (j) => j.setIssuer('https://idp')) })), 401, 'aud');
    });

    it('rejects alg none', async () => {
      const auth = createAuthenticator(cfg({ mode: 'jwt', jwt: { secret: SECRET } }));
      const unsecured = new jose.UnsecuredJWT({ sub: '1' }).encode();
      assert.match(unsecured, /\.$/);
      assertFail(await auth(req({ token: unsecured })), 401, 'not allowed');
      // alg none with a signature segment anyway
      const b64 = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
      const forged = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: '1' })}.AAAA`;
      assertFail(await auth(req({ token: forged })), 401, 'not allowed');
    });

    it('rejects an RS256 token on an HS256 config', async () => {
      const auth = createAuthenticator(cfg({ mode: 'jwt', jwt: { algorithm: 'HS256', secret: SECRET } }));
      const token = await new jose.SignJWT({ sub: '1' }).setProtectedHeader({ alg: 'RS256' }).sign(rsa.privateKey);
      assertFail(await auth(req({ token })), 401, 'not allowed');
    });

    it('RS256: accepts a valid token, rejects other keys and HS256 signed with the public key', async () => {
      const auth = createAuthenticator(cfg({ mode: 'jwt', jwt: { algorithm: 'RS256', publicKey: rsaPem } }));
      const token = await new jose.SignJWT({ sub: '123', rooms: ['live://1000'] })
        .setProtectedHeader({ alg: 'RS256' })
        .setExpirationTime('5m')
        .sign(rsa.privateKey);
      assertOk(await auth(req({ token })), 123, ['live://1000']);

      const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const wrong = await new jose.SignJWT({ sub: '123' }).setProtectedHeader({ alg: 'RS256' }).sign(other.privateKey);
      assertFail(await auth(req({ token: wrong })), 401, 'signature');

      // Classic key confusion: HS256 keyed with the RSA public key's PEM text.
      const confused = await signHS({ sub: '123' }, rsaPem);
      assertFail(await auth(req({ token: confused })), 401, 'not allowed');
    });

    it('RS256: accepts a PKCS#1 PEM as well', async () => {
      const pkcs1 = rsa.publicKey.export({ type: 'pkcs1', format: 'pem' }) as string;
      const auth = createAuthenticator(cfg({ mode: 'jwt', jwt: { algorithm: 'RS256', publicKey: pkcs1 } }));
      const token = await new jose.SignJWT({ sub: '8' }).setProtectedHeader({ alg: 'RS256' }).sign(rsa.privateKey);
      assertOk(await auth(req({ token })), 8);
    });
  });

  describe('http mode', () => {
    type Handler = (req: http.IncomingMessage, body: Buffer, res: http.ServerResponse) => void;
    let server: http.Server;
    let base: string;
    let handler: Handler;
    let seen: { method?: string; url?: string; type?: string; body?: Buffer } = {};

    before(async () => {
      server = http.createServer((rq, rs) => {
        const chunks: Buffer[] = [];
        rq.on('data', (c: Buffer) => chunks.push(c));
        rq.on('end', () => {
          const body = Buffer.concat(chunks);
          seen = { method: rq.method, url: rq.url, type: rq.headers['content-type'], body };
          handler(rq, body, rs);
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });

    after(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    function json(rs: http.ServerResponse, status: number, obj: unknown): void {
      const text = JSON.stringify(obj);
      rs.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      rs.end(text);
    }

    it('accepts with rooms, POSTing the raw body as JSON', async () => {
      handler = (_rq, _body, rs) => json(rs, 200, { mid: 555, rooms: ['live://1000', 'group://9'] });
      const auth = createAuthenticator(cfg({ mode: 'http', http: { url: `${base}/auth?x=1` } }));
      const raw = enc.encode('{"mid":123, "room_id":"live://1000", "platform":"web", "accepts":[1000,1001,1002]}');
      const r = parseOk(raw);
      assertOk(await auth(r), 555, ['live://1000', 'group://9']);
      assert.equal(seen.method, 'POST');
      assert.equal(seen.url, '/auth?x=1');
      assert.equal(seen.type, 'application/json');
      assert.deepEqual(new Uint8Array(seen.body!), raw);

      handler = (_rq, _body, rs) => json(rs, 200, { mid: '556' });
      assertOk(await auth(r), 556, []);
    });

    it('maps a non-200 status to 401 with the status', async () => {
      handler = (_rq, _body, rs) => json(rs, 403, { error: 'forbidden' });
      const auth = createAuthenticator(cfg({ mode: 'http', http: { url: base } }));
      assertFail(await auth(req()), 401, '403');
      handler = (_rq, _body, rs) => {
        rs.writeHead(302, { location: '/elsewhere' });
        rs.end();
      };
      assertFail(await auth(req()), 401, '302');
    });

    it('treats a malformed 200 answer as a broken backend (503)', async () => {
      const auth = createAuthenticator(cfg({ mode: 'http', http: { url: base } }));
      handler = (_rq, _body, rs) => json(rs, 200, { mid: -1 });
      assertFail(await auth(req()), 503, '"mid"');
      handler = (_rq, _body, rs) => json(rs, 200, { mid: 1, rooms: [2] });
      assertFail(await auth(req()), 503, 'rooms');
      handler = (_rq, _body, rs) => {
        rs.writeHead(200);
        rs.end('not json');
      };
      assertFail(await auth(req()), 503, 'invalid JSON');
    });

    it('maps a closed port to 503', async () => {
      const tmp = http.createServer();
      await new Promise<void>((resolve) => tmp.listen(0, '127.0.0.1', resolve));
      const port = (tmp.address() as AddressInfo).port;
      await new Promise<void>((resolve) => tmp.close(() => resolve()));
      const auth = createAuthenticator(cfg({ mode: 'http', http: { url: `http://127.0.0.1:${port}/auth` } }));
      assertFail(await auth(req()), 503, 'ECONNREFUSED');
    });

    it('maps a slow backend to 504 after timeoutMs', async () => {
      const pending: http.ServerResponse[] = [];
      handler = (_rq, _body, rs) => {
        pending.push(rs); // never answers
      };
      const auth = createAuthenticator(cfg({ mode: 'http', timeoutMs: 300, http: { url: base } }));
      const t0 = performance.now();
      const r = await auth(req());
      const elapsed = performance.now() - t0;
      assertFail(r, 504, '300 ms');
      assert.ok(elapsed >= 290 && elapsed < 2000, `elapsed ${elapsed} ms`);
      for (const rs of pending) rs.destroy();
    });
  });
});
