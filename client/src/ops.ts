/**
 * The ops the SDK sends and understands (docs/protocol.md, "Operations"). The server's own table is
 * src/ops.ts; test/unit/client-tables.test.ts checks that these numbers equal it.
 */
export const Op = {
  Heartbeat: 2,
  HeartbeatReply: 3,
  SendMsg: 4,
  SendMsgReply: 5,
  Disconnect: 6,
  Auth: 7,
  AuthReply: 8,
  Batch: 9,
  ChangeRoom: 12,
  ChangeRoomReply: 13,
  Sub: 14,
  SubReply: 15,
  Unsub: 16,
  UnsubReply: 17,
  JoinRooms: 100,
  JoinRoomsReply: 101,
  LeaveRooms: 102,
  LeaveRoomsReply: 103,
  Gap: 104,
  ImSend: 110,
  ImSendReply: 111,
  ImMessage: 112,
  ImAck: 113,
  ImSync: 114,
  ImSyncReply: 115,
  ErrorReply: 199,
} as const;
