/**
 * Worker-thread entry: read the frozen config and shared buffers from workerData, build the
 * runtime, listen on this worker's own descriptors, expose the admin interface, report ready.
 */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { nodeEndpoint } from '../src/comlink-node.js';
import { createLogger } from '../src/logger.js';
import { nameThisThread, WORKER_THREAD_PREFIX } from '../src/thread-name.js';
import type { WorkerEvent, WorkerInit } from '../src/messages.js';
import { WorkerRuntime } from '../src/worker-runtime.js';

const init = workerData as WorkerInit;
nameThisThread(`${WORKER_THREAD_PREFIX}${init.index}`);
const log = createLogger(init.config.log.level, `worker-${init.index}`);
const runtime = new WorkerRuntime(init, log);
const port = parentPort!;

// A promise a session forgot to handle is a bug to log, not a reason to drop every connection here.
process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled promise rejection in a worker'));

Comlink.expose(runtime.admin, nodeEndpoint(port));
await runtime.start();
port.postMessage({ type: 'ready', index: init.index, threadId } satisfies WorkerEvent);
