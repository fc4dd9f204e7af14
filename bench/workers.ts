// WORKERS=2 against one process, both on Redis with tracing 0.1: the benchmark's real-time fan-in steps, taken in
// turns on fresh servers, with its CPU accounting summed over each server's process tree (primary and workers).
// Usage: npx tsx bench/workers.ts [--steps 200,400,800,1200,1600] [--hold 10] [--p99 50]   (needs `npm run build` first)
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadSpeechSample } from '../src/loadtest/index.js';
import { stopAll } from './processes.js';
import { runFanInStep, type BenchSettings, type FanInStep } from './scenarios.js';
import { CONFIGURATIONS, startInfrastructure } from './servers.js';

const { values } = parseArgs({
  options: { steps: { type: 'string', default: '200,400,800,1200,1600' }, hold: { type: 'string', default: '10' }, p99: { type: 'string', default: '50' } },
});
const steps = values.steps.split(',').map(Number);
const hello = await loadSpeechSample(fileURLToPath(new URL('../test/fixtures/hello.wav', import.meta.url)));
const configurations = ['redis-0.1', 'redis-0.1-workers-2'].map((id) => CONFIGURATIONS.find((c) => c.id === id)!);

const settings: BenchSettings = {
  // Ramp-up: at most 200 new connections a second, and at least 3 s so segment cuts do not all fall together.
  fanIn: { steps, holdMs: Number(values.hold) * 1000, rampUpMs: (n) => Math.max(3000, n * 5), p99LimitMs: Number(values.p99) },
  replay: { sessions: [], audioMs: 0 },
  finalization: { sample: hello, sessions: 0, loops: 0, pace: 'max', rampUpMs: 0, engineDelayMs: 0 },
  memory: { sessions: 0, settleMs: 0 },
  freshServers: true,
  // A shared machine is never quiet: measure at once and report what else ran.
  quiet: { maxOtherCores: Infinity, waitMs: 0, attempts: 1 },
};

const infra = await startInfrastructure(true);
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
