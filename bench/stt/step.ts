// One step of the speech-to-text latency benchmark: a fresh server, N real-time speakers against it, and what came
// of it — final-result latency as the server and the client saw it, sessions refused and completed, what the engine
// answered and refused, audio accounted for, and the CPU each process used on this shared machine.
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import type { BackoffOptions } from '../../src/client/backoff.js';
import { nearestRank } from '../../src/loadtest/index.js';
import { CpuMeter, waitForQuiet } from '../shared/cpu-meter.js';
import { cpuSeconds, freePort, getJson } from '../shared/processes.js';
import { envelopesReceived, startServer, type Configuration, type Infrastructure, type RunningServer } from '../shared/servers.js';
import { sampleServer, type ServerSeries } from './server-series.js';
import { runSpeaker, type SpeakerAudio, type SpeakerOutcome } from './speaker.js';

export interface StepPlan {
  configuration: Configuration;
  /** The engine stub's settings path (engine-stub.mjs), or undefined for the offline engine. */
  enginePath: string | undefined;
  env: Record<string, string>;
  sessions: number;
  audioMs: number;
  rampUpMs: number;
  interim: boolean;
  interimIntervalMs?: number;
  overloadRetries: number;
  /** Offsets into the recording: speaker i starts at offset (i × this) mod the recording, or all at 0 when 0. */
  offsetStep: number;
  /** Speakers 0.. start at these offsets when given (the interim comparison wants the very same audio twice). */
  fixedOffsetBytes?: number;
  /** Sessions of a few seconds run first and are not measured: a local engine's decoders load their model on first use. */
  warmUpSessions?: number;
  /** Read the server's /metrics every second while the step runs (StepResult.series). */
  sampleServer?: boolean;
  /** Speakers survive a lost connection by resuming (reconnect backoff); see SpeakerPlan.resume. */
  resume?: BackoffOptions;
  /** SIGKILL the server this long after the first speaker's start and start it again at once on the same port. */
  restartAtMs?: number;
}

/** Latency of the finals that arrived within a window of the step. */
export interface WindowLatency {
  finals: number;
  serverMs: Percentiles;
  clientMs: Percentiles;
}

/** What a restart under load did: when, how long the server was away, how the speakers came back. */
export interface RestartReport {
  /** From the first speaker's start to the SIGKILL, and from the SIGKILL to the new process accepting connections. */
  killedAtS: number;
  downMs: number;
  /** Sessions resumed, and from each lost connection to its resumed ack (ms). */
  resumed: number;
  resumeMs: Percentiles;
  /** Chunks sent again because the new process did not have them. */
  resent: number;
  before: WindowLatency;
  /** The finals that arrived in the `afterS` seconds after the new process was accepting connections. */
  after: WindowLatency;
  afterS: number;
}

export interface Spread {
  count: number;
  min: number | undefined;
  p50: number | undefined;
  max: number | undefined;
}

export interface Percentiles {
  count: number;
  p50: number | undefined;
  p95: number | undefined;
  p99: number | undefined;
  max: number | undefined;
}

export interface StepResult {
  sessions: number;
  interim: boolean;
  finals: number;
  /** Finals cut by end_session rather than by a pause or the length cap. */
  finalsByEnd: number;
  serverMs: Percentiles;
  clientMs: Percentiles;
  firstTextMs: Percentiles;
  interims: number;
  started: number;
  /** Speakers whose start_session ended in OVERLOADED, and OVERLOADED answers in all (with retries). */
  refused: number;
  refusals: number;
  completed: number;
  failures: Record<string, number>;
  errors: Record<string, number>;
  engine: { answered: number; refused: number; maxInFlight: number } | undefined;
  /** Accepted audio with speech that no final covers, and accepted audio end_session did not count (ms, all sessions). */
  lostSpeechMs: number;
  uncountedMs: number;
  cores: { server: number; decoders: number; generator: number; engine: number; other: number };
  generator: { loopDelayP99Ms: number | undefined; sendLagP99Ms: number | undefined };
  loadAverage: number[];
  /** Cores other processes used in the second before the step started (after waiting for a quiet moment). */
  otherCoresBefore: number | undefined;
  envelopes: number | undefined;
  /** Requests in flight at the engine stub, read every second: with a queue at the server, this is its concurrency limit. */
  engineInFlight: number[];
  /** retry_after_ms of every OVERLOADED answer to start_session. */
  retryAfterMs: Spread;
  /** How long the sessions admitted after an OVERLOADED waited from their first start_session (ms). */
  admittedAfterRefusalWaitMs: Spread;
  /** The server second by second (with plan.sampleServer). */
  series?: ServerSeries;
  restart?: RestartReport;
  wallS: number;
  /** The speakers' own records, for comparisons between runs. */
  outcomes: SpeakerOutcome[];
}

export function percentiles(values: number[]): Percentiles {
  const sorted = Float64Array.from(values).sort();
  const r = (v: number | undefined) => (v === undefined ? undefined : Math.round(v));
  return {
    count: sorted.length,
    p50: r(nearestRank(sorted, 50)),
    p95: r(nearestRank(sorted, 95)),
    p99: r(nearestRank(sorted, 99)),
    max: r(sorted.length ? sorted[sorted.length - 1] : undefined),
  };
}

export function spread(values: number[]): Spread {
  const p = percentiles(values);
  const sorted = [...values].sort((a, b) => a - b);
  return { count: values.length, min: sorted[0], p50: p.p50, max: p.max };
}

/** The window after a restart that the restart's target is judged on. */
const AFTER_RESTART_S = 20;

/** CPU seconds of a process's exited, waited-for children (pocketsphinx runs), from /proc/<pid>/stat. */
function childrenCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return 0;
  }
}

interface StubCount {
  answered: number;
  refused: number;
  maxInFlight: number;
}

/** Before a step, wait (this long at most) until other processes on this shared machine use less than this many cores. */
export interface QuietRule {
  maxOtherCores: number;
  waitMs: number;
}

export async function runStep(plan: StepPlan, infra: Infrastructure, audio: SpeakerAudio, speechDbfs: number, quiet: QuietRule): Promise<StepResult> {
  const quietBefore = quiet.waitMs > 0 ? await waitForQuiet(Object.fromEntries(infra.children.map((c) => [c.name, c.pid])), quiet.maxOtherCores, quiet.waitMs) : undefined;
  // Fixed ports and key prefix, so a restarted server is found where its clients (and the sampler) knew it, with its sessions.
  const opsPort = plan.sampleServer ? await freePort() : undefined;
  const env: Record<string, string> = { ...plan.env };
  if (opsPort !== undefined) env.OPS_PORT = String(opsPort);
  if (plan.restartAtMs !== undefined && plan.configuration.store === 'redis') env.REDIS_KEY_PREFIX = `bench:${randomUUID()}:`;
  // STT_PROFILE_DIR=<dir>: the server runs under `node --cpu-prof` (summarise with bench/shared/cpu-profile.ts).
  const serverOptions = { enginePath: plan.enginePath ?? '', env, cpuProfileDir: process.env.STT_PROFILE_DIR };
  let server: RunningServer = await startServer(plan.configuration, infra, serverOptions);
  try {
    const stubPid = infra.children.find((c) => c.name === 'engine stub')!.pid;
    const sinkPid = infra.children.find((c) => c.name === 'envelope counter')!.pid;
    if (plan.warmUpSessions) {
      await Promise.all(
        Array.from({ length: plan.warmUpSessions }, (_, index) =>
          runSpeaker(
            { url: server.url, index, startAt: 0, offsetBytes: 0, audioMs: 4000, interim: false, overloadRetries: 0, speechDbfs, sendLag: [] },
            audio,
          ),
        ),
      );
    }
    await fetch(`${infra.engineUrl}/count/reset`, { method: 'POST' });
    const stubBefore = await getJson<StubCount>(`${infra.engineUrl}/count`);
    const envelopesBefore = plan.configuration.tracesSampleRate !== undefined ? await envelopesReceived(infra) : undefined;
    const decodersBefore = childrenCpuSeconds(server.pid);
    const serverCpu0 = cpuSeconds(server.pid);
    const meter = new CpuMeter({ server: server.pid, engine: stubPid, sink: sinkPid });
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    const sendLag: number[] = [];
    const engineInFlight: number[] = [];
    const sampler =
      plan.enginePath === undefined
        ? undefined
        : setInterval(() => {
            getJson<StubCount & { inFlight: number }>(`${infra.engineUrl}/count`).then(
              (count) => engineInFlight.push(count.inFlight),
              () => {},
            );
          }, 1000);
    const series = opsPort === undefined ? undefined : sampleServer(`http://127.0.0.1:${opsPort}/metrics`, () => server.pid);
    const t0 = performance.now() + 200;
    const n = plan.sessions;
    // The CPU the first server process used before it was killed (the meter watches only the process it started with).
    let restart: { killedAt: number; backAt: number; firstServerCpu: number; laterServerCpu0: number } | undefined;
    const restarting =
      plan.restartAtMs === undefined
        ? undefined
        : (async () => {
            await new Promise((resolve) => setTimeout(resolve, t0 + plan.restartAtMs! - performance.now()));
            const first = server;
            const firstServerCpu = cpuSeconds(first.pid);
            const killedAt = performance.now();
            const exited = new Promise((resolve) => first.child.process.once('exit', resolve));
            first.child.process.kill('SIGKILL');
            await exited;
            await first.child.stop();
            server = await startServer(plan.configuration, infra, { ...serverOptions, port: Number(new URL(first.url).port) });
            restart = { killedAt, backAt: performance.now(), firstServerCpu, laterServerCpu0: cpuSeconds(server.pid) };
          })();
    const outcomes = await Promise.all(
      Array.from({ length: n }, (_, index) => {
        // Whole samples, spread over the recording by the golden ratio, so pauses fall at different moments.
        const offset = plan.fixedOffsetBytes ?? Math.floor(((index * plan.offsetStep) % 1) * (audio.passBytes / 2)) * 2;
        return runSpeaker(
          {
            url: server.url,
            index,
            startAt: t0 + (n > 1 ? (index * plan.rampUpMs) / n : 0),
            offsetBytes: offset,
            audioMs: plan.audioMs,
            interim: plan.interim,
            interimIntervalMs: plan.interimIntervalMs,
            overloadRetries: plan.overloadRetries,
            speechDbfs,
            sendLag,
            resume: plan.resume,
          },
          audio,
        );
      }),
    );
    await restarting;
    loopDelay.disable();
    if (sampler) clearInterval(sampler);
    const serverSeries = series?.stop();
    const cpu = meter.read();
    if (restart) {
      // The meter saw the first process only until it died, and counted the second one as "other".
      const later = cpuSeconds(server.pid) - restart.laterServerCpu0;
      cpu.cores.server = (restart.firstServerCpu - serverCpu0 + later) / cpu.wallSeconds;
      cpu.otherCores = Math.max(0, cpu.otherCores - later / cpu.wallSeconds);
    }
    const decoders = (childrenCpuSeconds(server.pid) - decodersBefore) / cpu.wallSeconds;
    const stubAfter = await getJson<StubCount>(`${infra.engineUrl}/count`);
    // Sentry sends in the background: give it a moment before counting what arrived.
    const envelopes =
      envelopesBefore === undefined ? undefined : (await new Promise((r) => setTimeout(r, 500)), (await envelopesReceived(infra)) - envelopesBefore);

    const finals = outcomes.flatMap((o) => o.finals);
    const failures: Record<string, number> = {};
    const errors: Record<string, number> = {};
    for (const o of outcomes) {
      if (o.failure) failures[o.failure] = (failures[o.failure] ?? 0) + 1;
      for (const [code, count] of Object.entries(o.errors)) errors[code] = (errors[code] ?? 0) + count;
    }
    const round2 = (v: number) => Math.round(v * 100) / 100;
    const lag = percentiles(sendLag);
    return {
      sessions: n,
      interim: plan.interim,
      finals: finals.length,
      finalsByEnd: finals.filter((f) => f.byEnd).length,
      serverMs: percentiles(finals.map((f) => f.serverMs)),
      clientMs: percentiles(finals.map((f) => f.clientMs)),
      firstTextMs: percentiles(outcomes.flatMap((o) => o.firstTextMs)),
      interims: outcomes.reduce((sum, o) => sum + o.interims, 0),
      started: outcomes.filter((o) => o.started).length,
      refused: outcomes.filter((o) => !o.started && o.failure === 'OVERLOADED').length,
      refusals: outcomes.reduce((sum, o) => sum + o.refusals, 0),
      completed: outcomes.filter((o) => o.completed).length,
      failures,
      errors,
      engine: plan.enginePath === undefined
        ? undefined
        : { answered: stubAfter.answered - stubBefore.answered, refused: stubAfter.refused - stubBefore.refused, maxInFlight: stubAfter.maxInFlight },
      lostSpeechMs: Math.round(outcomes.reduce((sum, o) => sum + o.lostSpeechMs, 0)),
      uncountedMs: Math.round(outcomes.reduce((sum, o) => sum + o.uncountedMs, 0)),
      cores: {
        server: round2(cpu.cores.server!),
        decoders: round2(decoders),
        generator: round2(cpu.cores.generator!),
        engine: round2(cpu.cores.engine!),
        other: round2(Math.max(0, cpu.otherCores - decoders)),
      },
      generator: {
        loopDelayP99Ms: Number.isFinite(loopDelay.percentile(99)) ? round2(Math.max(0, loopDelay.percentile(99) / 1e6 - 10)) : undefined,
        sendLagP99Ms: lag.p99,
      },
      loadAverage: loadavg().map(round2),
      otherCoresBefore: quietBefore === undefined ? undefined : round2(quietBefore),
      envelopes,
      engineInFlight,
      retryAfterMs: spread(outcomes.flatMap((o) => o.retryAfterMs)),
      admittedAfterRefusalWaitMs: spread(outcomes.filter((o) => o.started && o.refusals > 0).map((o) => o.startWaitMs ?? 0)),
      series: serverSeries,
      restart: restart && restartReport(restart.killedAt - t0, restart.killedAt, restart.backAt, outcomes),
      wallS: Math.round(cpu.wallSeconds),
      outcomes,
    };
  } finally {
    await server.child.stop();
  }
}

function windowLatency(outcomes: SpeakerOutcome[], from: number, to: number): WindowLatency {
  const finals = outcomes.flatMap((o) => o.finals).filter((f) => f.arrivedAt >= from && f.arrivedAt < to);
  return { finals: finals.length, serverMs: percentiles(finals.map((f) => f.serverMs)), clientMs: percentiles(finals.map((f) => f.clientMs)) };
}

function restartReport(killedAfterMs: number, killedAt: number, backAt: number, outcomes: SpeakerOutcome[]): RestartReport {
  const resumeMs = outcomes.flatMap((o) => o.resumeMs);
  return {
    killedAtS: Math.round(killedAfterMs / 100) / 10,
    downMs: Math.round(backAt - killedAt),
    resumed: resumeMs.length,
    resumeMs: percentiles(resumeMs),
    resent: outcomes.reduce((sum, o) => sum + o.resent, 0),
    before: windowLatency(outcomes, -Infinity, killedAt),
    after: windowLatency(outcomes, backAt, backAt + AFTER_RESTART_S * 1000),
    afterS: AFTER_RESTART_S,
  };
}
