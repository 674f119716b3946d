/**
 * The auth contract: what a client's op-7 body becomes (`AuthRequest`) and what deciding who the connection is
 * returns (`AuthResult`). src/auth/index.ts builds the `Authenticator`; each mode is a `Verify`.
 */

export interface AuthRequest {
  mid: number;
  key: string;
  roomId: string;
  platform: string;
  accepts: number[];
  token: string;
  /** A copy of the auth body bytes (what the `http` mode forwards). */
  raw: Uint8Array;
}

export interface AuthSuccess {
  ok: true;
  mid: number;
  /** Extra rooms granted by the token claims or the auth backend, in `type://id` form. */
  rooms: string[];
}

export interface AuthFailure {
  ok: false;
  /** 400 bad auth body, 401 rejected, 503 auth backend unavailable, 504 auth backend timeout. */
  code: number;
  reason: string;
}

export type AuthResult = AuthSuccess | AuthFailure;
export type Authenticator = (req: AuthRequest) => Promise<AuthResult>;

/** One auth mode: decides a request; `signal` aborts when the deadline passes (src/auth/index.ts). */
export type Verify = (req: AuthRequest, signal: AbortSignal) => Promise<AuthResult>;
