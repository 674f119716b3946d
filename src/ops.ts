/**
 * Every op a ringcast packet can carry, by range, and how ops map onto Mars cmdids. The one home of
 * op numbers: the codec, the transports, the session, its extensions and the tests read them here.
 *
 *   0 .. 17      goim's protocol ops (api/protocol in goim v2): `Op`
 *   100 .. 199   ringcast's extension ops, clear of goim's and of the application's: `ExtOp`
 *     110 .. 115   reliable messaging (src/im/gateway.ts), inside the extension range: `ImOp`
 *   >= 1000      application ops: pushes and upstream payloads, chosen by the application
 *
 * docs/protocol.md documents the bodies.
 */

/** goim's protocol ops. */
export const enum Op {
  Handshake = 0,
  HandshakeReply = 1,
  Heartbeat = 2,
  HeartbeatReply = 3,
  SendMsg = 4,
  SendMsgReply = 5,
  DisconnectReply = 6,
  Auth = 7,
  AuthReply = 8,
  Raw = 9,
  ProtoReady = 10,
  ProtoFinish = 11,
  ChangeRoom = 12,
  ChangeRoomReply = 13,
  Sub = 14,
  SubReply = 15,
  Unsub = 16,
  UnsubReply = 17,
}

export const GOIM_OP_MIN = 0;
export const GOIM_OP_MAX = 17;

/** ringcast's extension ops: 100..199. */
export const enum ExtOp {
  /** body: comma-separated room keys to join; reply 101: the rooms the connection is in now. */
  JoinRooms = 100,
  JoinRoomsReply = 101,
  /** body: comma-separated room keys to leave; reply 103: the rooms the connection is in now. */
  LeaveRooms = 102,
  LeaveRoomsReply = 103,
  /**
   * Server → client: queued pushes were dropped (slow consumer, policy drop-oldest); body JSON
   * {"dropped": n}, seq 0; sent before the next push that reaches the client (src/protocols/backlog.ts).
   */
  Gap = 104,
  /** An error answering a request op; same seq; body JSON {"op", "code", "reason"}. */
  ErrorReply = 199,
}

export const EXT_OP_MIN = 100;
export const EXT_OP_MAX = 199;

/** Reliable-messaging ops (src/im/gateway.ts documents the bodies). */
export const enum ImOp {
  Send = 110,
  SendReply = 111,
  /** Server → client: a stored message (src/im/message.ts). */
  Message = 112,
  Ack = 113,
  Sync = 114,
  SyncReply = 115,
}

export const IM_OP_MIN = 110;
export const IM_OP_MAX = 115;

/** The first application op: pushes and upstream payloads use ops from here up. */
export const APP_OP_MIN = 1000;

/**
 * The push op of the demo chat's room messages (src/upstream/demo-say.ts, demo/): an application op
 * the built-in Demo/Say service picks while ws.servePages is on. Body: JSON {"from", "text", "room", "ts"}.
 */
export const DEMO_SAY_OP = 1100;

/** Names of goim's protocol ops, indexed by op, for logs. Application push ops have no name here. */
export const OP_NAMES: readonly string[] = [
  'Handshake', 'HandshakeReply', 'Heartbeat', 'HeartbeatReply', 'SendMsg', 'SendMsgReply',
  'DisconnectReply', 'Auth', 'AuthReply', 'Raw', 'ProtoReady', 'ProtoFinish', 'ChangeRoom',
  'ChangeRoomReply', 'Sub', 'SubReply', 'Unsub', 'UnsubReply',
];

export function opName(op: number): string {
  return OP_NAMES[op] ?? `op ${op}`;
}

// ---------------------------------------------------------------------------------------------
// Mars (src/codec-mars.ts frames it; docs/protocol.md)
//
//   - cmdid 6 (Mars noop, seq 0xFFFFFFFF) ↔ op 2 heartbeat; the reply is a Mars noop (cmdid 6,
//     seq 0xFFFFFFFF, empty body), as Mars expects;
//   - cmdid 100 + op ↔ goim op (0..999): auth 107 → 108, send 104 → 105, change room 112 → 113, sub
//     114 → 115, unsub 116 → 117, disconnect 106, ringcast's extension ops 100..199 → 200..299;
//   - cmdid ≥ 1000 = the same application op (pushes, seq 0 = Mars's PUSH_DATA_TASKID).

/** Mars's noop cmdid: its heartbeat. */
export const MARS_NOOP_CMDID = 6;
export const MARS_OP_OFFSET = 100;

export function marsCmdidToOp(cmdid: number): number {
  if (cmdid === MARS_NOOP_CMDID) return Op.Heartbeat;
  if (cmdid >= APP_OP_MIN) return cmdid | 0;
  return cmdid - MARS_OP_OFFSET; // cmdids below 100 (other than 6) become negative ops: unknown
}

export function opToMarsCmdid(op: number): number {
  if (op === Op.Heartbeat || op === Op.HeartbeatReply) return MARS_NOOP_CMDID;
  if (op >= APP_OP_MIN) return op >>> 0;
  return op + MARS_OP_OFFSET;
}
