/**
 * What the messaging service asks of the thread it runs on: store a message in the inboxes of some
 * users, each in the shard that owns it, and say when every copy is durable. The acceptor and each
 * worker implement it with their ImRequests actor (actors/im-requests.ts); the service and the
 * gateway know only this contract, and the error they refuse with.
 */
import { ServiceError } from '../errors.js';
import type { InFlight } from '../process-words.js';

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

/**
 * The control API's sends, bounded by push.maxInFlight for the whole process (every worker serves
 * the control port; src/process-words.ts): past it a send is refused with 503 before anything is
 * stored, as one thread's sender refuses past its own bound.
 */
export class BoundedSender implements InboxSender {
  constructor(
    private readonly inner: InboxSender,
    private readonly inFlight: InFlight,
    private readonly max: number,
  ) {}

  send(input: SendInput): Promise<Map<number, number>> {
    if (!this.inFlight.tryAcquire(this.max)) return Promise.reject(new ImError(503, `overloaded: ${this.inFlight.count()} sends in flight; retry later (same client_msg_id)`));
    let sent: Promise<Map<number, number>>;
    try {
      sent = this.inner.send(input);
    } catch (err) {
      this.inFlight.release();
      throw err;
    }
    return sent.finally(() => this.inFlight.release());
  }
}
