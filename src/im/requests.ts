/**
 * What the messaging service asks of the thread it runs on: store a message in the inboxes of some
 * users, each in the shard that owns it, and say when every copy is durable. The acceptor and each
 * worker implement it with their ImRequests actor (actors/im-requests.ts); the service and the
 * gateway know only this contract, and the error they refuse with.
 */
import { ServiceError } from '../errors.js';

/** A send or read the messaging service refuses; `status` is an ImCode (an HTTP status). */
export class ImError extends ServiceError {
  constructor(status: number, message: string) {
    super(status, message);
  }
}

export interface SendInput {
  from: number;
  op: number;
  group: number;
  clientMsgId: Uint8Array;
  body: Uint8Array;
  mids: number[];
}

export interface InboxSender {
  /** Stores the message in every recipient's inbox; resolves with mid → seq once all are durable (ImError otherwise). */
  send(input: SendInput): Promise<Map<number, number>>;
}
