/**
 * Upstream requests: a client sends goim op 4 (SendMsg) carrying a request for a business backend;
 * the gateway forwards it over HTTP and answers op 5 with the same seq. This folder holds the pieces:
 * the envelope codec (src/upstream/envelope.ts), the per-connection limiter (src/upstream/limiter.ts)
 * and the per-service HTTP client (src/upstream/client.ts); the connection actor wires them.
 */
export { MAX_REPLY_BODY, MAX_URI_BYTES, UpstreamStatus, decodeReply, decodeRequest, encodeReply, encodeRequest } from './envelope.js';
export { RequestLimiter } from './limiter.js';
export { UpstreamClient, type LocalService, type UpstreamConfig, type UpstreamReply, type UpstreamWho } from './client.js';
export { DEMO_SERVICE, DEMO_SAY_MAX_BYTES, demoService } from './demo-say.js';
