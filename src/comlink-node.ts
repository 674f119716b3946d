/**
 * comlink's Node adapter ships as UMD: under ESM its module.exports (the function itself) arrives
 * as the default import, while its typings describe a module whose default is that function.
 * One cast here, so the rest of the code is typed.
 */
import type { Endpoint } from 'comlink';
import adapter from 'comlink/dist/umd/node-adapter.js';
import type { MessagePort, Worker } from 'node:worker_threads';

type NodeEndpointLike = MessagePort | Worker;

export const nodeEndpoint = adapter as unknown as (port: NodeEndpointLike) => Endpoint;
