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

const scenarios: Record<string, Scenario> = {
  ring: {
    description: 'main thread → worker: SAB ring vs postMessage, throughput (64 B, 512 B) and round-trip latency',
    load: () => import('./ring.js'),
  },
  'http-layer': {
    description: 'control API HTTP layer: plain node:http vs fastify 5, push route in child processes, req/s, p50/p99, server CPU per request',
    load: () => import('./http-layer.js'),
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
