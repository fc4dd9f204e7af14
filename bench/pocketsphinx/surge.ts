// The offline engine under a burst (`npx tsx bench/pocketsphinx/surge.ts`): N real-time speakers of the stt benchmark's
// speech against a fresh pocketsphinx server, all starting within a short window (synchronized) and spread over 8 s
// (staggered), each run a few times; final-result P95, server and decoder cores, the load average with each figure.
// It reuses bench/stt's step runner, so its figures compare with `npm run bench:stt -- --only pocketsphinx`.
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadSpeechSample } from '../../src/loadtest/index.js';
import { runBounded } from '../shared/processes.js';
import { startInfrastructure } from '../shared/servers.js';
import { SpeakerAudio } from '../stt/speaker.js';
import { runStep, type StepResult } from '../stt/step.js';

const USAGE = `Usage: npx tsx bench/pocketsphinx/surge.ts [--n 6] [--rampups 1500,8000] [--runs 2] [--seconds 36] [--env K=V,K=V]
  --rampups a,b   windows (ms) within which the N speakers start: 1500 = synchronized, 8000 = the stt staggered scenario
  --env K=V,...   server settings for every run (e.g. SEGMENT_MAX_MS=4000,POCKETSPHINX_DECODERS=3)
  --timeline P    write each run's finals (cut time, latency) to P-<run>-<window>.json`;

const PAUSES = fileURLToPath(new URL('../../test/fixtures/hello-with-pauses.wav', import.meta.url));
const SPEECH_DBFS = -45;
const GOLDEN = 0.6180339887;

function line(label: string, step: StepResult): string {
  const c = step.clientMs;
  const byEnd = step.outcomes.flatMap((o) => o.finals).filter((f) => f.byEnd).map((f) => Math.round(f.clientMs));
  const errors =
    (Object.keys(step.errors).length ? ` errors ${JSON.stringify(step.errors)}` : '') +
    (Object.keys(step.failures).length ? ` failures ${JSON.stringify(step.failures)}` : '');
  return (
    `${label}: finals ${step.finals} (${step.finalsByEnd} by end_session: ${byEnd.join(' ')} ms), last chunk → result P50/P95/P99/max ` +
    `${c.p50}/${c.p95}/${c.p99}/${c.max} ms; completed ${step.completed}/${step.sessions}; cores server ${step.cores.server} decoders ` +
    `${step.cores.decoders} other ${step.cores.other} (before ${step.otherCoresBefore ?? '—'}); load ${step.loadAverage.join('/')}${errors}`
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      n: { type: 'string' },
      rampups: { type: 'string' },
      runs: { type: 'string' },
      seconds: { type: 'string' },
      env: { type: 'string' },
      timeline: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return console.log(USAGE);
  const n = Number(values.n ?? 6);
  const rampUps = (values.rampups ?? '1500,8000').split(',').map(Number);
  const runs = Number(values.runs ?? 2);
  const audioMs = Number(values.seconds ?? 36) * 1000;
  const env: Record<string, string> = { TRANSCRIBER: 'pocketsphinx' };
  for (const pair of values.env?.split(',').filter(Boolean) ?? []) {
    const [key, value] = pair.split('=');
    env[key!] = value ?? '';
  }
  const audio = new SpeakerAudio(await loadSpeechSample(PAUSES), 100);
  const infra = await startInfrastructure(false);
  console.log(`N=${n}, ${audioMs / 1000} s each, env ${JSON.stringify(env)}; load at start ${loadavg().map((v) => v.toFixed(2)).join('/')}`);
  for (let run = 1; run <= runs; run++) {
    for (const rampUpMs of rampUps) {
      const step = await runStep(
        {
          configuration: { id: 'memory-no-sentry', label: 'memory store, no Sentry', kind: 'server', store: 'memory' },
          enginePath: undefined,
          env,
          sessions: n,
          audioMs,
          rampUpMs,
          interim: false,
          overloadRetries: 0,
          offsetStep: GOLDEN,
          warmUpSessions: 2,
        },
        infra,
        audio,
        SPEECH_DBFS,
        { maxOtherCores: 0.5, waitMs: 60_000 },
      );
      console.log(line(`run ${run}, start within ${rampUpMs} ms`, step));
      if (values.timeline) {
        // Each final: when its segment was cut (ms after the first speaker started) and how long its result took.
        const finals = step.outcomes.flatMap((o) => o.finals.map((f) => ({ speaker: o.index, cutMs: Math.round((o.index * rampUpMs) / n + f.endMs), ...f })));
        writeFileSync(`${values.timeline}-${run}-${rampUpMs}.json`, JSON.stringify(finals.sort((a, b) => a.cutMs - b.cutMs)));
      }
    }
  }
}

runBounded(main, 30 * 60_000);
