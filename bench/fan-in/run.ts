// The side-by-side benchmark (`npm run bench`, `npm run bench -- --quick`): every configuration against the same
// scenarios on this machine, the bare Socket.IO server included, written as markdown and JSON for BENCHMARKS.md.
// `--profile <configuration>` instead runs one fan-in under `node --cpu-prof` and prints where the server's time goes.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { loadSpeechSample, runLoadTest, loadTestOptions, type SpeechSample } from '../../src/loadtest/index.js';
import { formatProfile, summarizeProfile } from '../shared/cpu-profile.js';
import { describeMachine } from '../shared/machine.js';
import { formatMarkdown, targets, type RunDescription } from './markdown.js';
import { runBounded } from '../shared/processes.js';
import {
  FAN_IN_SERVER_ENV,
  FAN_IN_WARM_UP_MS,
  fanInRampUpMs,
  fanInResult,
  runFanInStep,
  runFinalization,
  runMemory,
  runReplay,
  type BenchSettings,
  type ConfigurationResult,
  type FanInStep,
} from './scenarios.js';
import { CONFIGURATIONS, ROOT, startInfrastructure, startServer, type Configuration, type Infrastructure, type RunningServer } from '../shared/servers.js';

const USAGE = `Usage: npm run bench [-- --quick] [-- --only bare,memory-0.1] [-- --out DIR]
       npm run bench -- --profile <configuration> [--sessions N] [--seconds S]
Configurations: ${CONFIGURATIONS.map((c) => c.id).join(', ')}`;

const HELLO = fileURLToPath(new URL('../../test/fixtures/hello.wav', import.meta.url));
const HELLO_WITH_PAUSES = fileURLToPath(new URL('../../test/fixtures/hello-with-pauses.wav', import.meta.url));


function settingsFor(quick: boolean, hello: SpeechSample, pauses: SpeechSample): BenchSettings {
  if (quick) {
    return {
      fanIn: { steps: [5, 10], warmUpMs: 150, holdMs: 450, rampUpMs: () => 100, p99LimitMs: 50 },
      replay: { sessions: [1, 2], audioMs: 3000 },
      finalization: { sample: hello, sessions: 2, loops: 1, pace: 'max', rampUpMs: 0, engineDelayMs: 200 },
      memory: { sessions: 10, settleMs: 100 },
      freshServers: false,
      quiet: { maxOtherCores: Infinity, waitMs: 0, attempts: 1 },
    };
  }
  return {
    fanIn: {
      steps: [100, 200, 400, 600, 800, 1000, 1200, 1400, 1600, 2000, 2500, 3000],
      warmUpMs: FAN_IN_WARM_UP_MS,
      holdMs: 10_000,
      rampUpMs: fanInRampUpMs,
      p99LimitMs: 50,
    },
    replay: { sessions: [1, 16], audioMs: 60_000 },
    // Phrases with 1 s pauses, so the VAD cuts segments while audio still flows; 8 sessions spread over 3 s,
    // each ending on its own, never need more than a few engine calls at once, so queueing stays out of the figure.
    finalization: { sample: pauses, sessions: 8, loops: 3, pace: 'realtime', rampUpMs: 3000, engineDelayMs: 200 },
    memory: { sessions: 1000, settleMs: 2000 },
    freshServers: true,
    quiet: { maxOtherCores: 0.2, waitMs: 120_000, attempts: 3 },
  };
}

function method(settings: BenchSettings): string[] {
  const f = settings.fanIn;
  return [
    `Real-time fan-in: N sessions each send a 100 ms chunk (3,200 bytes of 16 kHz PCM from test/fixtures/hello.wav, looped) every 100 ms` +
      ` after a ramp-up of ${f.rampUpMs(100) / 1000} s (${f.rampUpMs(3000) / 1000} s at N = 3,000: at most 200 connections a second);` +
      ` latencies are measured over ${f.holdMs / 1000} s after a warm-up of ${f.warmUpMs / 1000} s that follows the ramp-up. N steps through ${f.steps.join(', ')} until the P99 ack latency passes` +
      ` ${f.p99LimitMs} ms or any chunk fails, is resent, or a session disconnects; the configurations take turns at each N.` +
      (settings.freshServers ? ' A fresh server process per step.' : ' One server per configuration (quick run).') +
      ' The engine is a local OpenAI-compatible stub (its own process) answering at once, so segments cut by the server do reach an engine.',
    `Replay at max pace: ${settings.replay.sessions.join(' and ')} session(s) each replay ${settings.replay.audioMs / 1000} s of audio (hello.wav looped)` +
      ' sending the next 100 ms chunk as soon as the previous one is acked; audio seconds acknowledged per wall second, first chunk to last ack.',
    `Finalization overhead: the stub answers after ${settings.finalization.engineDelayMs} ms; after one warm-up session (not measured),` +
      ` ${settings.finalization.sessions} sessions started over ${settings.finalization.rampUpMs / 1000} s each stream` +
      ` ${settings.finalization.sample.file.split('/').pop()} ${settings.finalization.loops} time(s) ${settings.finalization.pace === 'max' ? 'at max pace' : 'in real time'}; from the ack of each` +
      ` segment's last chunk (the server cuts right after storing it) or from end_session, to the transcription_result's arrival, minus` +
      ` ${settings.finalization.engineDelayMs} ms. The server's own latency_ms minus ${settings.finalization.engineDelayMs} ms is given beside it.`,
    `Memory: ${settings.memory.sessions} sessions connected with start_session done and no audio; server VmRSS (/proc/<pid>/status) after` +
      ` ${settings.memory.settleMs / 1000} s, minus VmRSS before them (after 20 warm-up sessions), divided by ${settings.memory.sessions}.` +
      ` Then ${settings.memory.sessions} more, measured the same way ("next"): the first batch can ride on heap start-up left free.`,
    ...(Number.isFinite(settings.quiet.maxOtherCores)
      ? [
          `Shared machine: before each timed measurement the benchmark waits until processes other than its own use under` +
            ` ${settings.quiet.maxOtherCores} cores, and repeats a measurement they disturbed more than that (${settings.quiet.attempts} runs at most,` +
            ' the least disturbed one kept); the fan-in table shows what they used.',
        ]
      : []),
    'Server settings: defaults (SEGMENT_MAX_MS 8000, …) but ENGINE_CONCURRENCY=1024 (so admission never turns a step\'s sessions away), TRANSCRIBER=openai at the stub, LOG_LEVEL=warn,' +
      ' NODE_ENV=production, SENTRY_PROFILES_SAMPLE_RATE=0; Sentry configurations send to a local process that only counts envelopes.' +
      ' Clients use the WebSocket transport. CPU per chunk is the server process\'s user + system time (/proc/<pid>/stat) over the' +
      ' whole step divided by the chunks acknowledged.',
  ];
}

/**
 * Runs every scenario for every configuration. Fan-in steps are interleaved (N = 100 for each configuration,
 * then 200, …) so that a noisy moment on the machine falls on all of them alike, not on one configuration.
 * Full runs go one configuration at a time on fresh servers; quick runs share one server per configuration and
 * run the configurations side by side.
 */
async function runAll(configurations: Configuration[], infra: Infrastructure, settings: BenchSettings, hello: SpeechSample, quick: boolean) {
  const logs = new Map(configurations.map((c) => [c.id, (line: string) => console.error(`[${c.id}] ${line}`)]));
  const log = (c: Configuration) => logs.get(c.id)!;
  const shared = new Map<string, RunningServer>();
  const each = async <T>(list: Configuration[], fn: (c: Configuration) => Promise<T>): Promise<T[]> => {
    if (quick) return Promise.all(list.map(fn));
    const out: T[] = [];
    for (const c of list) out.push(await fn(c));
    return out;
  };
  try {
    if (!settings.freshServers) {
      await each(configurations, async (c) => {
        shared.set(c.id, await startServer(c, infra, { engineDelayMs: settings.finalization.engineDelayMs, env: FAN_IN_SERVER_ENV }));
      });
    }
    const server = (c: Configuration) => shared.get(c.id);
    // Memory first: a fresh process, before any load has grown its heap.
    const memory = await each(configurations, (c) => runMemory(c, infra, settings, hello, server(c), log(c)));
    const steps = new Map<string, FanInStep[]>(configurations.map((c) => [c.id, []]));
    let active = configurations;
    for (const n of settings.fanIn.steps) {
      if (active.length === 0) break;
      console.error(`fan-in N=${n}: ${active.map((c) => c.id).join(', ')}`);
      const results = await each(active, (c) => runFanInStep(c, infra, settings, hello, n, server(c), log(c)));
      results.forEach((step, i) => steps.get(active[i]!.id)!.push(step));
      active = active.filter((_, i) => results[i]!.holds);
    }
    const replay = await each(configurations, (c) => runReplay(c, infra, settings, hello, server(c), log(c)));
    const finalization = await each(configurations, (c) =>
      c.kind === 'bare' ? Promise.resolve(undefined) : runFinalization(c, infra, settings, server(c), log(c)),
    );
    return configurations.map(
      (configuration, i): ConfigurationResult => ({
        configuration,
        memory: memory[i]!,
        fanIn: fanInResult(steps.get(configuration.id)!),
        replay: replay[i]!,
        finalization: finalization[i],
      }),
    );
  } finally {
    await Promise.all([...shared.values()].map((s) => s.child.stop()));
  }
}

async function profile(id: string, sessions: number, seconds: number, hello: SpeechSample): Promise<void> {
  const configuration = CONFIGURATIONS.find((c) => c.id === id);
  if (!configuration) throw new Error(`Unknown configuration "${id}".\n${USAGE}`);
  const infra = await startInfrastructure(configuration.store === 'redis');
  const dir = join(ROOT, 'bench', 'results', 'profiles', `${id}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  const server = await startServer(configuration, infra, { cpuProfileDir: dir, env: FAN_IN_SERVER_ENV });
  const rampUpMs = fanInRampUpMs(sessions);
  console.error(`Profiling ${configuration.label}: ${sessions} real-time sessions for ${seconds} s…`);
  const summary = await runLoadTest(
    loadTestOptions({ url: server.url, sessions, stop: { kind: 'duration', ms: seconds * 1000 }, rampUpMs, warmUpMs: rampUpMs + 1000 }),
    { sample: hello },
  );
  console.error(`ack P50 ${summary.ackLatencyMs.p50} ms, P99 ${summary.ackLatencyMs.p99} ms, errors ${summary.errors.total}`);
  await server.child.stop(10_000);
  const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
  if (!file) throw new Error(`the server wrote no .cpuprofile into ${dir}`);
  console.log(`${join(dir, file)}\n`);
  console.log(formatProfile(summarizeProfile(join(dir, file), ROOT)));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      quick: { type: 'boolean' },
      only: { type: 'string' },
      out: { type: 'string' },
      profile: { type: 'string' },
      sessions: { type: 'string' },
      seconds: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return console.log(USAGE);
  const quick = values.quick ?? false;
  const [hello, pauses] = await Promise.all([loadSpeechSample(HELLO), loadSpeechSample(HELLO_WITH_PAUSES)]);
  if (values.profile) return profile(values.profile, Number(values.sessions ?? 400), Number(values.seconds ?? 20), hello);

  const only = values.only?.split(',').map((s) => s.trim());
  const unknown = only?.filter((id) => !CONFIGURATIONS.some((c) => c.id === id)) ?? [];
  if (unknown.length) throw new Error(`Unknown configuration(s) ${unknown.join(', ')}.\n${USAGE}`);
  const configurations = CONFIGURATIONS.filter((c) => !only || only.includes(c.id));
  const settings = settingsFor(quick, hello, pauses);
  const outDir = values.out ?? join(ROOT, 'bench', 'results', quick ? 'fan-in-quick' : 'fan-in');
  const started = new Date();
  const t0 = performance.now();

  const infra = await startInfrastructure(configurations.some((c) => c.store === 'redis'));
  const loadBefore = loadavg();
  const results = await runAll(configurations, infra, settings, hello, quick);

  const run: RunDescription = {
    startedAt: started.toISOString(),
    wallMinutes: (performance.now() - t0) / 60_000,
    quick,
    machine: describeMachine(),
    loadAverage: { before: loadBefore, after: loadavg() },
    method: method(settings),
  };
  const markdown = formatMarkdown(run, results);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'results.md'), `${markdown}\n`);
  writeFileSync(
    join(outDir, 'results.json'),
    `${JSON.stringify({ run, targets: targets(results), results }, (key, value) => (key === 'pcm' ? undefined : value), 2)}\n`,
  );
  console.log(markdown);
  console.error(`\nWritten: ${join(outDir, 'results.md')} and results.json`);
}

// Bounded whatever happens: a stuck run is stopped, with everything it started.
runBounded(main, process.argv.includes('--quick') ? 180_000 : 90 * 60_000);
