/** src/errors.ts and src/session.ts: the disconnect table's reconnect column, the service-error family, extension registration rules. */
import assert from 'node:assert/strict';
import { Disconnect, DISCONNECTS, disconnectBody, disconnectInfo, ServiceError, StartupError } from '../../src/errors.js';
import { HttpError } from '../../src/control/goim-api.js';
import { ImError } from '../../src/im/requests.js';
import { PushRefused } from '../../src/push/types.js';
import { SessionExtensions, type SessionExtension } from '../../src/session.js';

describe('unit: errors', () => {
  it('the disconnect table: one entry per code, and what a client should do after each', () => {
    const codes = DISCONNECTS.map((d) => d.code);
    assert.equal(new Set(codes).size, codes.length, 'codes are unique');
    const reconnect = (code: number): string | undefined => disconnectInfo(code)?.reconnect;
    for (const code of [400, 401, 4001, 4002]) assert.equal(reconnect(code), 'no', `${code} is terminal`);
    assert.equal(reconnect(1001), 'after-delay');
    for (const code of [4003, 4004, 4005]) assert.equal(reconnect(code), 'backoff', `${code} retries with backoff`);
    assert.equal(Disconnect.SameKey.reason, 'replaced by a new connection with the same key');
    assert.deepEqual(JSON.parse(Buffer.from(disconnectBody(1001, 'server shutting down', 250)).toString()), { code: 1001, reason: 'server shutting down', reconnect_after_ms: 250 });
  });

  it('HttpError, PushRefused and ImError are ServiceErrors with their status and a stable RC_ERR_* code', () => {
    const errs: ServiceError[] = [new HttpError(404, 'no'), new PushRefused(503, 'busy'), new ImError(403, 'not a member')];
    for (const e of errs) assert.ok(e instanceof ServiceError);
    assert.deepEqual(errs.map((e) => [e.name, e.status, e.code, e.limit]), [
      ['HttpError', 404, 'RC_ERR_NOT_FOUND', null],
      ['PushRefused', 503, 'RC_ERR_OVERLOADED', 'push.maxInFlight'],
      ['ImError', 403, 'RC_ERR_FORBIDDEN', null],
    ]);
    assert.equal(new HttpError(400, 'too many', 'control.batchMaxTargets').limit, 'control.batchMaxTargets');
    assert.equal(new StartupError('bad tls', 2).exitCode, 2);
  });

  it('session extensions: ops only in the extension range, one extension per op and per record kind, slot = position', () => {
    const ext = (name: string, slot: number, ops: number[], records: number[] = []): SessionExtension => ({
      name, slot, ops, records, onPacket: () => undefined, onRecord: () => undefined, mayJoin: () => true, resync: () => undefined, onClose: () => undefined,
    });
    const list = new SessionExtensions([ext('a', 0, [150, 151], [60]), ext('b', 1, [152])]);
    assert.equal(list.forOp(151)?.name, 'a');
    assert.equal(list.forOp(152)?.name, 'b');
    assert.equal(list.forOp(2), undefined);
    assert.equal(list.forRecord(60)?.name, 'a');
    assert.throws(() => new SessionExtensions([ext('x', 0, [7])]), /outside the extension range/);
    assert.throws(() => new SessionExtensions([ext('x', 0, [150]), ext('y', 1, [150])]), /both take op 150/);
    assert.throws(() => new SessionExtensions([ext('x', 1, [150])]), /slot 1/);
  });
});
