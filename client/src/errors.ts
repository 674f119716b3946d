/** The errors the SDK rejects promises with and emits. */

/** Why a call failed, as a stable string. */
export type RingcastErrorKind =
  /** The client was closed (close(), or a terminal disconnect) while the call was pending or before it. */
  | 'closed'
  /** The connection was lost while a request (op 4) was in flight; it is not retried (it may have run). */
  | 'disconnected'
  /** No answer within requestTimeoutMs (send() retries these first). */
  | 'timeout'
  /** The server answered with an error (op 199, or an op 111 with a non-zero code): see `code`. */
  | 'server'
  /** The server refused the connection for good (401, 400, 4001, 4002): see `code`. */
  | 'refused'
  /** A bad argument (caught before anything was sent). */
  | 'invalid';

export class RingcastError extends Error {
  readonly kind: RingcastErrorKind;
  /** The server's code (op 199, op 111, op 6) or the SDK's (3000-3099, see ClientCode); 0 when none. */
  readonly code: number;
  constructor(kind: RingcastErrorKind, message: string, code = 0) {
    super(message);
    this.name = 'RingcastError';
    this.kind = kind;
    this.code = code;
  }
}
