/**
 * The import rules of src/, actors/ and workers/, checked by `npm run check:deps` (part of `npm test`).
 *
 * 1. No import cycle, type-only imports included.
 * 2. Layers: a module imports from its own layer or a lower one, never from a higher one.
 *
 *    core       src/*.ts (ring, actor-system, layout, messages, codec, codec-mars, ops, errors,
 *               timer-wheel, token-bucket, limits, config, supervisor, router-records, thread-status, ...),
 *               src/ring/, src/config/
 *      < protocols  src/protocols/ (framings, the Transport contract, push frames, backlog)
 *      < services   src/session.ts (the session and its extensions), src/auth/ (auth body, modes),
 *                   src/upstream/ (envelope codec, request limiter, HTTP client),
 *                   src/push/ (records, policies, the PushService contract),
 *                   src/im/ (records, store, messaging service, the IM session extension),
 *                   src/cluster/ (the cluster engine contract and its Redis implementation)
 *      < actors     actors/ (every state owner that takes ring records: connection, registry,
 *                   router shard, key directory, deliverer, push dispatcher, im shard, im requests)
 *      < control    src/control/ (the HTTP control port: knows the services' contracts, no actor)
 *      < assembly   src/worker-runtime.ts, src/worker-admin.ts, src/worker-control.ts, src/main.ts, workers/
 *
 *    Why services sit below actors: the actors are built from them (a connection parses auth bodies
 *    and upstream envelopes, the deliverer reads push records, the im shard writes the store), while
 *    no service needs an actor: the session extension sees a connection only as a Session
 *    (src/session.ts), the push service is a contract (src/push/types.ts) the dispatcher
 *    implements, and the messaging service sends through a contract (InboxSender,
 *    src/im/requests.ts) the im-requests actor implements. The cluster engine (src/cluster/) is a
 *    service for the same reason: it moves bytes and directory entries to and from Redis and knows
 *    no actor; the actors call it and decode what it hands them. The supervisor is core: it starts threads and writes ring records, and the
 *    control port reads its statuses.
 */
const CORE = '^src/(ring/|config/|(?!worker-runtime|worker-admin|worker-control|main|session)[^/]+\\.ts$)';
const PROTOCOLS = '^src/protocols/';
const SERVICES = '^src/(push/|im/|auth/|upstream/|cluster/|session\\.ts$)';
const ACTORS = '^actors/';
const CONTROL = '^src/control/';
const ASSEMBLY = '^(src/(worker-runtime|worker-admin|worker-control|main)\\.ts$|workers/)';

/** A rule: modules of `from` must not import modules of any layer in `above`. */
function layer(name, from, above) {
  return {
    name: `layer-${name}`,
    comment: `${name} imports only from its own layer or lower ones (see the layer list at the top of .dependency-cruiser.cjs)`,
    severity: 'error',
    from: { path: from },
    to: { path: above.join('|') },
  };
}

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'No import cycle anywhere in src/, actors/, workers/ (type-only imports count too).',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    layer('core', CORE, [PROTOCOLS, SERVICES, ACTORS, CONTROL, ASSEMBLY]),
    layer('protocols', PROTOCOLS, [SERVICES, ACTORS, CONTROL, ASSEMBLY]),
    layer('services', SERVICES, [ACTORS, CONTROL, ASSEMBLY]),
    layer('actors', ACTORS, [CONTROL, ASSEMBLY]),
    layer('control', CONTROL, [ACTORS, ASSEMBLY]),
    {
      name: 'not-to-unresolvable',
      comment: 'Every import resolves (a typo in a path would hide an edge from the rules above).',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules|test|bench)/' },
    // Type-only imports are edges too: a cycle through types is still a cycle of the design.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
