/**
 * The Lua scripts of reliable messaging in cluster mode. Each runs atomically in the Redis slot of
 * one user (or one group): the script is the single writer of that user's seq, whichever box calls
 * it, so no lease or box ownership is needed (docs/cluster.md, "Reliable messaging", says why).
 * Messages are the bytes of src/im/message.ts; the caller sends them with seq 0 and the script writes
 * the allocated seq into the first 8 bytes (big-endian u64, as two u32 words: Lua numbers are doubles).
 */
import { createHash } from 'node:crypto';

export interface Script {
  readonly source: string;
  readonly sha1: string;
}

export function script(source: string): Script {
  return { source, sha1: createHash('sha1').update(source).digest('hex') };
}

/**
 * Shared tail of the two append scripts: retention of the stream KEYS[2] after writing `seq`, by
 * count (XTRIM MAXLEN ARGV[2]) and by age: every 8th write looks at the oldest entries and deletes
 * those whose ts (bytes 20..27 of the message) is below ARGV[4], up to 16 (reads filter by age at once,
 * as src/im/store.ts's do); the whole stream expires ARGV[3] ms after its last write.
 */
const RETAIN = `
local function retain(seq)
  redis.call('XTRIM', KEYS[2], 'MAXLEN', ARGV[2])
  local retainMs = tonumber(ARGV[3])
  if retainMs > 0 then
    redis.call('PEXPIRE', KEYS[2], retainMs)
    if seq % 8 ~= 0 then return end
    local minTs = tonumber(ARGV[4])
    local newest = seq .. '-0'
    for _, e in ipairs(redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 16)) do
      if e[1] == newest then break end
      local th, tl = struct.unpack('>I4I4', e[2][2], 21)
      if th * 4294967296 + tl >= minTs then break end
      redis.call('XDEL', KEYS[2], e[1])
    end
  end
end
local function stamp(seq)
  return struct.pack('>I4I4', math.floor(seq / 4294967296), seq % 4294967296) .. string.sub(ARGV[1], 9)
end
`;

/**
 * Append to a user's inbox, and tell the other boxes. KEYS: seq, inbox, boxes[, idem]. ARGV: message
 * (seq 0), retainCount, retainMs, minTs, idempotencyMs, notice channel prefix ('' = no notices), this
 * shard's member of `boxes`, mid. Returns {seq, 1} for a new message, {seq, 0} for a send already
 * stored under this client_msg_id (nothing written; the notice goes again, without the message).
 *
 * The notice (src/im/records.ts ImNotify body: f64 mid, f64 seq, message) is published to every
 * shard listed in `boxes` but this one, in the same script as the commit, so no box can die between
 * the two; Redis writes it to the subscribers after the append-only file, as it does replies. A
 * member nobody listens to (a dead box, a subscriber reconnecting: it adds itself again) is removed.
 */
export const APPEND = script(`${RETAIN}
local function notice(seq, msg)
  if ARGV[6] == '' then return end
  local body = struct.pack('>dd', tonumber(ARGV[8]), seq) .. msg
  for _, m in ipairs(redis.call('SMEMBERS', KEYS[3])) do
    if m ~= ARGV[7] and redis.call('PUBLISH', ARGV[6] .. m, body) == 0 then redis.call('SREM', KEYS[3], m) end
  end
end
if #KEYS == 4 then
  local seen = redis.call('GET', KEYS[4])
  if seen then
    notice(tonumber(seen), '')
    return {tonumber(seen), 0}
  end
end
local seq = redis.call('INCR', KEYS[1])
local msg = stamp(seq)
redis.call('XADD', KEYS[2], seq .. '-0', 'm', msg)
if #KEYS == 4 then redis.call('SET', KEYS[4], seq, 'PX', ARGV[5]) end
retain(seq)
notice(seq, msg)
return {seq, 1}
`);

/**
 * Append to a read fan-out group's inbox. KEYS: group meta, group inbox[, idem]. ARGV: APPEND's first five.
 * Returns {0, 0} when there is no such group.
 */
export const APPEND_GROUP = script(`${RETAIN}
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, 0} end
if #KEYS == 3 then
  local seen = redis.call('GET', KEYS[3])
  if seen then return {tonumber(seen), 0} end
end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('XADD', KEYS[2], seq .. '-0', 'm', stamp(seq))
if #KEYS == 3 then redis.call('SET', KEYS[3], seq, 'PX', ARGV[5]) end
retain(seq)
return {seq, 1}
`);

/**
 * Moves a device's read position forward, never back and never beyond the user's last seq.
 * KEYS: reads, seq. ARGV: device key, seq. Returns the read position after the call.
 */
export const SET_READ = script(`
local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local s = tonumber(ARGV[2])
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
if s > last then s = last end
if s > cur then
  redis.call('HSET', KEYS[1], ARGV[1], s)
  return s
end
return cur
`);

/**
 * Creates a group with its members (0 if it exists). KEYS: meta, members. ARGV: created ts, mids...
 */
export const CREATE_GROUP = script(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for i = 2, #ARGV do redis.call('SADD', KEYS[2], ARGV[i]) end
redis.call('HSET', KEYS[1], 'created', ARGV[1], 'count', redis.call('SCARD', KEYS[2]), 'seq', 0)
return 1
`);

/**
 * Adds and removes members of an existing group (0 if there is none). KEYS: meta, members.
 * ARGV: number of mids to add, the mids to add, then the mids to remove.
 */
export const CHANGE_MEMBERS = script(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local nAdd = tonumber(ARGV[1])
for i = 2, nAdd + 1 do redis.call('SADD', KEYS[2], ARGV[i]) end
for i = nAdd + 2, #ARGV do redis.call('SREM', KEYS[2], ARGV[i]) end
redis.call('HSET', KEYS[1], 'count', redis.call('SCARD', KEYS[2]))
return 1
`);

/** Every script, loaded into Redis each time a connection is ready (src/cluster/im-redis.ts). */
export const ALL_SCRIPTS: readonly Script[] = [APPEND, APPEND_GROUP, SET_READ, CREATE_GROUP, CHANGE_MEMBERS];
