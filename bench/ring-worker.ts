/**
 * Worker side of the ring benchmark (see bench/ring.ts).
 *
 * Ring path: a MailboxLoop over the `toWorker` RingReader reads every record in place (sums its first
 * byte, no copy). K_END makes it answer K_DONE through the `toMain` ring; K_PING is answered with
 * K_PONG. postMessage path: two MessagePorts, one counting, one echoing.
 *
 * Lifetime: a pending Atomics.waitAsync does not keep a thread alive, so the parentPort listener is
 * the ref'd handle that does until main sends { type: 'stop' }; then every handle is released and
 * the thread ends by itself.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { MailboxLoop } from '../src/ring/mailbox.js';
import { RingReader, RingWriter } from '../src/ring/ring.js';
import {
  BENCH_SOURCE_WORKER,
  CountReply,
  DRAIN_BUDGET,
  K_DATA,
  K_DONE,
  K_END,
  K_PING,
  K_PONG,
  RingWorkerData,
  ToMainControl,
  ToWorkerControl,
} from './ring-protocol.js';

if (parentPort === null) throw new Error('bench/ring-worker must run in a worker thread');
const port = parentPort;
const data = workerData as RingWorkerData;

const out = new RingWriter(data.toMain, BENCH_SOURCE_WORKER);
const doneBody = new Uint8Array(4);

let ringCount = 0;
let ringSum = 0;

function reply(kind: number, target: number, body: Uint8Array, off: number, len: number): void {
  // toMain only ever holds one batch-done signal or one pong at a time: full means a bug.
  if (!out.tryWrite(kind, target, body, off, len)) throw new Error('toMain ring unexpectedly full');
}

const loop = new MailboxLoop(
  new RingReader(data.toWorker),
  (kind, target, _source, buf, off, len) => {
    switch (kind) {
      case K_DATA:
        ringSum = (ringSum + buf[off]!) | 0;
        ringCount++;
        return;
      case K_PING:
        reply(K_PONG, target, buf, off, len);
        return;
      case K_END: {
        const sum = ringSum >>> 0;
        doneBody[0] = sum & 0xff;
        doneBody[1] = (sum >>> 8) & 0xff;
        doneBody[2] = (sum >>> 16) & 0xff;
        doneBody[3] = sum >>> 24;
        reply(K_DONE, ringCount, doneBody, 0, 4);
        ringCount = 0;
        ringSum = 0;
        return;
      }
      default:
        throw new Error(`ring-worker: unexpected record kind ${kind}`);
    }
  },
  DRAIN_BUDGET,
);

// postMessage throughput: one structured-clone Uint8Array per record, then { end: n }.
let pmCount = 0;
let pmSum = 0;
data.countPort.on('message', (msg: Uint8Array | { end: number }) => {
  if (msg instanceof Uint8Array) {
    pmSum = (pmSum + msg[0]!) | 0;
    pmCount++;
    return;
  }
  const done: CountReply = { count: pmCount, sum: pmSum >>> 0 };
  data.countPort.postMessage(done);
  pmCount = 0;
  pmSum = 0;
});

// postMessage latency: echo (cloned again on the way back, like the ring's pong is copied).
data.pingPort.on('message', (msg: Uint8Array) => {
  data.pingPort.postMessage(msg);
});

function onControl(msg: ToWorkerControl): void {
  if (msg.type !== 'stop') return;
  loop.stop();
  data.countPort.close();
  data.pingPort.close();
  port.postMessage({ type: 'stopped' } satisfies ToMainControl);
  port.off('message', onControl); // last ref'd handle: the thread now ends by itself
}
port.on('message', onControl);

loop.start();
port.postMessage({ type: 'ready' } satisfies ToMainControl);
