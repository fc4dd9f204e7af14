// The benchmark's real-time fan-in steps for a few configurations, taken in turns on fresh servers, with CPU accounting
// summed over each server's process tree (primary and workers). Default: WORKERS=2 against one process, both on Redis
// with tracing 0.1. Servers and generator run on the Node.js that runs this script, so
// `scripts/with-node.sh 24 npx tsx bench/fan-in/steps.ts …` measures Node 24.
// Usage: npx tsx bench/fan-in/steps.ts [--only bare,memory-no-sentry] [--steps 200,400,800,1200,1600] [--warm-up 10] [--hold 10] [--p99 50]
// (needs `npm run build` first)
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadSpeechSample } from '../../src/loadtest/index.js';
import { stopAll } from '../shared/processes.js';
import { FAN_IN_WARM_UP_MS, fanInRampUpMs, runFanInStep, type BenchSettings, type FanInStep } from './scenarios.js';
import { CONFIGURATIONS, startInfrastructure } from '../shared/servers.js';

const { values } = parseArgs({
  options: {
    only: { type: 'string', default: 'redis-0.1,redis-0.1-workers-2' },
    steps: { type: 'string', default: '200,400,800,1200,1600' },
    'warm-up': { type: 'string', default: String(FAN_IN_WARM_UP_MS / 1000) },
    hold: { type: 'string', default: '10' },
    p99: { type: 'string', default: '50' },
  },
});
const steps = values.steps.split(',').map(Number);
const hello = await loadSpeechSample(fileURLToPath(new URL('../../test/fixtures/hello.wav', import.meta.url)));
const configurations = values.only.split(',').map((id) => {
  const configuration = CONFIGURATIONS.find((c) => c.id === id.trim());
  if (!configuration) throw new Error(`unknown configuration "${id}"; known: ${CONFIGURATIONS.map((c) => c.id).join(', ')}`);
  return configuration;
});

const settings: BenchSettings = {
  // The full benchmark's ramp-up: SEGMENT_MAX_MS at least, so the sessions' segment cuts do not fall together.
  fanIn: { steps, warmUpMs: Number(values['warm-up']) * 1000, holdMs: Number(values.hold) * 1000, rampUpMs: fanInRampUpMs, p99LimitMs: Number(values.p99) },
  replay: { sessions: [], audioMs: 0 },
  finalization: { sample: hello, sessions: 0, loops: 0, pace: 'max', rampUpMs: 0, engineDelayMs: 0 },
  memory: { sessions: 0, settleMs: 0 },
  freshServers: true,
  // A shared machine is never quiet: measure at once and report what else ran.
  quiet: { maxOtherCores: Infinity, waitMs: 0, attempts: 1 },
};

console.error(`Node ${process.version}: ${configurations.map((c) => c.id).join(', ')}`);
const infra = await startInfrastructure(configurations.some((c) => c.id.startsWith('redis')));
const rows: Array<{ id: string; step: FanInStep }> = [];
try {
  let active = configurations;
  for (const n of steps) {
    const next = [];
    for (const configuration of active) {
      const step = await runFanInStep(configuration, infra, settings, hello, n, undefined, (line) => console.error(`[${configuration.id}] ${line}`));
      rows.push({ id: configuration.id, step });
      if (step.holds) next.push(configuration);
    }
    active = next;
    if (active.length === 0) break;
  }
} finally {
  await stopAll();
}

console.log('| N | configuration | ack P50 (ms) | ack P99 (ms) | ack max (ms) | server CPU per chunk (µs) | cores: server / generator / redis | cores elsewhere | verdict |');
console.log('| ---: | --- | ---: | ---: | ---: | ---: | --- | ---: | --- |');
for (const { id, step } of rows) {
  console.log(
    `| ${step.sessions} | ${id} | ${step.ackP50Ms} | ${step.ackP99Ms} | ${step.ackMaxMs} | ${step.serverCpuUsPerChunk ?? '—'} | ` +
      `${step.serverCores} / ${step.generatorCores} / ${step.redisCores ?? '—'} | ${step.otherCores} | ${step.holds ? 'holds' : `does not hold: ${step.reason}`} |`,
  );
}
