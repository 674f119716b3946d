/**
 * Which slow-consumer policy applies to a push: room pushes take the room's rule from
 * `push.roomPolicies` (an exact room key beats a prefix, a longer prefix beats a shorter one), every
 * other push (and a room without a rule) takes `push.slowConsumerPolicy`. Resolved once per batch,
 * not per recipient; answers are cached per room (bounded, so odd room names cannot grow it).
 */
import type { RoomPolicyRule, SlowConsumerPolicy } from '../config/index.js';

const MAX_CACHED_ROOMS = 4096;

export class SlowConsumerPolicies {
  readonly global: SlowConsumerPolicy;
  private readonly exact = new Map<string, SlowConsumerPolicy>();
  /** Prefix rules, longest first. */
  private readonly prefixes: RoomPolicyRule[];
  private readonly cache = new Map<string, SlowConsumerPolicy>();

  constructor(global: SlowConsumerPolicy, rules: readonly RoomPolicyRule[]) {
    this.global = global;
    for (const r of rules) if (!r.prefix) this.exact.set(r.room, r.policy);
    this.prefixes = rules.filter((r) => r.prefix).sort((a, b) => b.room.length - a.room.length);
  }

  /** The policy for a push to `room` (null: a push by key, mid or to all). */
  forRoom(room: string | null): SlowConsumerPolicy {
    if (room === null) return this.global;
    const hit = this.cache.get(room);
    if (hit !== undefined) return hit;
    const policy = this.exact.get(room) ?? this.prefixes.find((r) => room.startsWith(r.room))?.policy ?? this.global;
    if (this.cache.size < MAX_CACHED_ROOMS) this.cache.set(room, policy);
    return policy;
  }
}
