/**
 * Benchmark dispatcher: `node dist/bench/run.js <scenario> [options]` (or `npm run bench -- <scenario>`).
 * Each scenario is a module exporting `run(args)`; it is imported only when chosen.
 */
import { UsageError } from './report.js';

export interface ScenarioModule {
  run(args: string[]): Promise<void>;
}

interface Scenario {
  description: string;
  load(): Promise<ScenarioModule>;
}

function loadScenario(name: string): Scenario {
  const descriptions: Record<string, string> = {
    broadcast: '1,000 WS in one room, 300 room pushes/s (heavy: --rate 1000): delivery, CPU/delivery, latency vs baseline',
    'broadcast-light': '1,000 WS in one room, 10 room pushes/s: latency at light load vs baseline',
    'broadcast-wide': '10,000 WS in one room, 10 room pushes/s: delivery, latency, CPU/delivery vs baseline',
    unicast: '10,000 WS, 15,000 pushes/s to random keys (/goim/push/keys): delivery, latency vs baseline (--workers 1,2: the ratio)',
    idle: '18,000 connections in 100 rooms, heartbeating: RSS and CPU per connection and heartbeat (WS vs baseline, TCP)',
    'connect-storm': '10,000 WS clients connect + authenticate at once: time, errors, rate vs baseline',
  };
  return {
    description: descriptions[name]!,
    load: async () => {
      const m = await import('./load/runner.js');
      return { run: (args: string[]) => m.runScenario(name, args) };
    },
  };
}

const scenarios: Record<string, Scenario> = {
  ring: {
    description: 'main thread → worker: SAB ring vs postMessage, throughput (64 B, 512 B) and round-trip latency',
    load: () => import('./ring.js'),
  },
  // Load scenarios (bench/load/runner.ts): ringcast vs the bench/baseline server under the same load.
  broadcast: loadScenario('broadcast'),
  'broadcast-light': loadScenario('broadcast-light'),
  'broadcast-wide': loadScenario('broadcast-wide'),
  unicast: loadScenario('unicast'),
  idle: loadScenario('idle'),
  'connect-storm': loadScenario('connect-storm'),
  'http-layer': {
    description: 'control API HTTP layer: plain node:http vs fastify 5, push route in child processes, req/s, p50/p99, server CPU per request',
    load: () => import('./http-layer.js'),
  },
  'unicast-mid': {
    description: 'issue 13: 10,000 WS, pushes by mid over HTTP at --rate 5000 (one per request): CPU per push, acceptor share (--against DIR: another tree in the same run)',
    load: async () => {
      const m = await import('./push-unicast.js');
      return { run: (args: string[]) => m.runUnicastMid(args) };
    },
  },
  stream: {
    description: 'issue 13: 10,000 WS, pushes by mid over /push/stream at --rate 50000; then HTTP on the same server for the ratio',
    load: async () => {
      const m = await import('./push-unicast.js');
      return { run: (args: string[]) => m.runStream(args) };
    },
  },
  im: {
    description: 'reliable messaging: persisted (fsync\'d) messages/s through POST /im/send, send-to-deliver latency p99 for an online user',
    load: () => import('./im.js'),
  },
  sdk: {
    description: 'the client SDK: 5,000 @ringcast/client connections in one process receiving room pushes: CPU per push, memory per connection vs bare ws clients',
    load: () => import('./sdk.js'),
  },
  cluster: {
    description: '3 boxes + Redis vs one box under the same load: unicast and room push latency p50/p99, server CPU per delivery, the hop through Redis in µs and Redis commands per push',
    load: () => import('./cluster.js'),
  },
  codec: {
    description: 'goim codec CPU: encode/decode ns per packet; fan-out framing per-client vs frame-once (PushFrames), no sockets',
    load: () => import('./codec.js'),
  },
};

function usage(): string {
  const names = Object.keys(scenarios);
  const width = Math.max(...names.map((n) => n.length));
  return [
    'usage: npm run bench -- <scenario> [options]   (node dist/bench/run.js <scenario> [options])',
    '',
    'scenarios:',
    ...names.map((n) => `  ${n.padEnd(width)}  ${scenarios[n]!.description}`),
    '',
    'Options depend on the scenario; try `<scenario> --help`.',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const scenario = name !== undefined && Object.hasOwn(scenarios, name) ? scenarios[name] : undefined;
  if (scenario === undefined) {
    if (name !== undefined && name !== '--help' && name !== '-h') process.stderr.write(`unknown scenario: ${name}\n\n`);
    process.stderr.write(usage() + '\n');
    return 2;
  }
  const mod = await scenario.load();
  await mod.run(rest);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    // Set, don't call process.exit(): a scenario must end its threads and handles by itself.
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
