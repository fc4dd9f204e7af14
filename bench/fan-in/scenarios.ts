// The benchmark's scenarios, each run against one configuration through the load-test toolkit (and so through
// the one TranscriptionClient): real-time fan-in, max-pace replay, finalization overhead, idle-session memory.
import { loadavg } from 'node:os';
import { TranscriptionClient } from '../../src/client/index.js';
import { loadTestOptions, runLoadTest, type LoadTestOptions, type LoadTestSummary, type Pace, type SpeechSample } from '../../src/loadtest/index.js';
import { CpuMeter, waitForQuiet, type CpuReading } from '../shared/cpu-meter.js';
import { residentBytes } from '../shared/processes.js';
import { envelopesReceived, startServer, type Configuration, type Infrastructure, type RunningServer } from '../shared/servers.js';

/**
 * At least SEGMENT_MAX_MS (8 s): sessions started within one second would all cut their 8-second segments in
 * the same second, a burst real traffic (sessions starting at random moments) never makes; and at most 200 new
 * connections a second, so the handshakes stay out of the steady state being measured.
 */
export function fanInRampUpMs(sessions: number): number {
  return Math.max(8000, sessions * 5);
}

/**
 * Server settings every fan-in server gets: a fixed engine limit. These steps measure the chunk path at N streaming
 * sessions; with the adaptive limit, admission's prior (a segment per half SEGMENT_MAX_MS per new session, against the
 * 16 the limit starts at) refuses sessions of a fast ramp until finals prove the engine, and fewer streams send
 * (measured at N = 200: ~1,280 chunks/s instead of ~1,640).
 */
export const FAN_IN_SERVER_ENV: Record<string, string> = { ENGINE_CONCURRENCY: '1024' };

/**
 * A fresh server's first seconds at a step's load are not its steady state: the P99 of the same 200 sessions was
 * 54-154 ms on freshly started servers and 30-36 ms on the same servers run again (measured 2026-11-30; the run is in
 * `git log -p BENCHMARKS.md`, "The fan-in on a quiet host").
 */
export const FAN_IN_WARM_UP_MS = 10_000;

export interface BenchSettings {
  fanIn: {
    steps: number[];
    /**
     * Streaming after the ramp-up and before the measurement, in milliseconds: a fresh server's first seconds (JIT
     * tiers, heap growth, the first major GCs) are not the steady state a capacity figure is about.
     */
    warmUpMs: number;
    /** Measured streaming after the warm-up, in milliseconds. */
    holdMs: number;
    rampUpMs: (sessions: number) => number;
    /** A step holds while its P99 ack latency stays at or below this and no chunk fails. */
    p99LimitMs: number;
  };
  replay: { sessions: number[]; audioMs: number };
  finalization: { sample: SpeechSample; sessions: number; loops: number; pace: Pace; rampUpMs: number; engineDelayMs: number };
  memory: { sessions: number; settleMs: number };
  /** A fresh server process for every fan-in step and scenario (full runs); one per configuration (quick runs). */
  freshServers: boolean;
  /**
   * This machine is shared: before a timed measurement, wait (up to `waitMs`) until other processes use less than
   * `maxOtherCores`, and repeat a measurement they disturbed more than that, up to `attempts` times in all.
   */
  quiet: { maxOtherCores: number; waitMs: number; attempts: number };
}

/** What every timed measurement records about the machine while it ran. */
export interface Disturbance {
  /** Cores used on average by processes that are not the benchmark's (other people's work on this machine). */
  otherCores: number;
  /** Runs it took to get a measurement other processes did not disturb (or the least disturbed of them). */
  attempts: number;
}

export interface FanInStep extends Disturbance {
  sessions: number;
  holds: boolean;
  /** Why it does not hold. */
  reason: string | undefined;
  ackP50Ms: number | undefined;
  ackP99Ms: number | undefined;
  ackMaxMs: number | undefined;
  acks: number;
  chunksSent: number;
  chunksFailed: number;
  resent: number;
  errors: number;
  disconnects: number;
  generatorDelayP99Ms: number | undefined;
  envelopes: number | undefined;
  /** The machine's 1-minute load average as the step ended: other work on the machine shows here. */
  loadAverage: number;
  /** CPU the server process used per acknowledged chunk, in microseconds (connections and end_session included). */
  serverCpuUsPerChunk: number | undefined;
  /** Average cores busy over the step: the server, the load generator, and redis-server when it is used. */
  serverCores: number;
  generatorCores: number;
  redisCores: number | undefined;
}

export interface ReplayResult extends Disturbance {
  sessions: number;
  audioSeconds: number;
  ingestPerWallSecond: number | undefined;
  ackP50Ms: number | undefined;
  errors: number;
}

export interface FinalizationResult extends Disturbance {
  engineDelayMs: number;
  results: number;
  overheadP50Ms: number | undefined;
  overheadP95Ms: number | undefined;
  serverOverheadP50Ms: number | undefined;
  serverOverheadP95Ms: number | undefined;
  errors: number;
}

export interface MemoryResult {
  sessions: number;
  baselineBytes: number;
  loadedBytes: number;
  perSessionBytes: number;
  /** Growth per session from `sessions` to twice as many: the cost once start-up's spare heap is used up. */
  marginalPerSessionBytes: number;
  /** redis-server's growth per session, when the configuration keeps sessions there. */
  redisPerSessionBytes: number | undefined;
}

export interface ConfigurationResult {
  configuration: Configuration;
  fanIn: { steps: FanInStep[]; largestHolding: number; at200: FanInStep | undefined };
  replay: ReplayResult[];
  finalization: FinalizationResult | undefined;
  memory: MemoryResult;
}

type Log = (line: string) => void;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const round2 = (v: number) => Math.round(v * 100) / 100;

/** Runs `fn` against a server of this configuration: a fresh one, or the shared one when given. */
async function withServer<T>(
  configuration: Configuration,
  infra: Infrastructure,
  shared: RunningServer | undefined,
  engineDelayMs: number,
  fn: (server: RunningServer) => Promise<T>,
): Promise<T> {
  if (shared) return fn(shared);
  const server = await startServer(configuration, infra, { engineDelayMs, env: FAN_IN_SERVER_ENV });
  try {
    return await fn(server);
  } finally {
    await server.child.stop();
  }
}

/** The benchmark's own processes besides this one (the load generator), by name, for CPU accounting. */
function benchPids(infra: Infrastructure, server: RunningServer | undefined): Record<string, number> {
  const pids: Record<string, number> = Object.fromEntries(infra.children.map((child) => [child.name, child.pid]));
  if (server) pids.server = server.pid;
  return pids;
}

/**
 * Runs a timed measurement until other processes on the machine leave it alone (see BenchSettings.quiet);
 * keeps the least disturbed attempt.
 */
async function undisturbed<T extends { otherCores: number }>(
  settings: BenchSettings,
  infra: Infrastructure,
  log: Log,
  what: string,
  attempt: () => Promise<T>,
): Promise<T & { attempts: number }> {
  const { maxOtherCores, waitMs, attempts } = settings.quiet;
  let best: T | undefined;
  let tried = 0;
  while (tried < attempts) {
    if (waitMs > 0) {
      const other = await waitForQuiet(benchPids(infra, undefined), maxOtherCores, waitMs);
      if (other >= maxOtherCores) log(`${what}: the machine is still busy (${other.toFixed(2)} cores elsewhere), measuring anyway`);
    }
    const result = await attempt();
    tried += 1;
    if (!best || result.otherCores < best.otherCores) best = result;
    if (result.otherCores < maxOtherCores) break;
    if (tried < attempts) log(`${what}: other processes used ${result.otherCores.toFixed(2)} cores meanwhile; measuring again`);
  }
  return { ...best!, attempts: tried };
}

function fanInOptions(url: string, sessions: number, settings: BenchSettings['fanIn']): LoadTestOptions {
  const rampUpMs = settings.rampUpMs(sessions);
  return loadTestOptions({
    url,
    sessions,
    pace: 'realtime',
    chunkMs: 100,
    stop: { kind: 'duration', ms: settings.warmUpMs + settings.holdMs },
    rampUpMs,
    // Connection handshakes and first-call compilation are not the steady state being measured.
    warmUpMs: rampUpMs + settings.warmUpMs,
  });
}

function fanInStep(
  sessions: number,
  summary: LoadTestSummary,
  limitMs: number,
  envelopes: number | undefined,
  cpu: CpuReading,
  usesRedis: boolean,
): Omit<FanInStep, 'attempts'> {
  const problems: string[] = [];
  const ack = summary.ackLatencyMs;
  if (ack.p99 === undefined) problems.push('no acks');
  else if (ack.p99 > limitMs) problems.push(`P99 ${ack.p99} ms > ${limitMs} ms`);
  if (summary.chunks.failed > 0) problems.push(`${summary.chunks.failed} chunks failed`);
  if (summary.chunks.resent > 0) problems.push(`${summary.chunks.resent} chunks resent`);
  if (summary.errors.total > 0) problems.push(`errors ${JSON.stringify(summary.errors.byCode)}`);
  if (summary.disconnects > 0) problems.push(`${summary.disconnects} disconnects`);
  if (summary.sessions.completed < sessions) problems.push(`${sessions - summary.sessions.completed} sessions did not complete`);
  return {
    sessions,
    holds: problems.length === 0,
    reason: problems.length ? problems.join(', ') : undefined,
    ackP50Ms: ack.p50,
    ackP99Ms: ack.p99,
    ackMaxMs: ack.max,
    acks: ack.count,
    chunksSent: summary.chunks.sent,
    chunksFailed: summary.chunks.failed,
    resent: summary.chunks.resent,
    errors: summary.errors.total,
    disconnects: summary.disconnects,
    generatorDelayP99Ms: summary.generator.eventLoopDelayP99Ms,
    envelopes,
    loadAverage: Math.round(loadavg()[0]! * 100) / 100,
    serverCpuUsPerChunk: summary.chunks.acked ? Math.round((cpu.cores.server! * cpu.wallSeconds * 1e6) / summary.chunks.acked) : undefined,
    serverCores: round2(cpu.cores.server!),
    generatorCores: round2(cpu.cores.generator!),
    redisCores: usesRedis ? round2(cpu.cores['redis-server'] ?? 0) : undefined,
    otherCores: round2(cpu.otherCores),
  };
}

/** One fan-in step: `sessions` real-time sessions against this configuration. */
export async function runFanInStep(
  configuration: Configuration,
  infra: Infrastructure,
  settings: BenchSettings,
  sample: SpeechSample,
  sessions: number,
  shared: RunningServer | undefined,
  log: Log,
): Promise<FanInStep> {
  const step = await undisturbed(settings, infra, log, `fan-in N=${sessions}`, () =>
    withServer(configuration, infra, shared, 0, async (server) => {
      const before = configuration.tracesSampleRate !== undefined ? await envelopesReceived(infra) : undefined;
      const meter = new CpuMeter(benchPids(infra, server));
      const summary = await runLoadTest(fanInOptions(server.url, sessions, settings.fanIn), { sample });
      const cpu = meter.read();
      // Sentry sends in the background: give it a moment before counting what arrived.
      const envelopes = before === undefined ? undefined : (await sleep(500), (await envelopesReceived(infra)) - before);
      return fanInStep(sessions, summary, settings.fanIn.p99LimitMs, envelopes, cpu, configuration.store === 'redis');
    }),
  );
  log(
    `fan-in N=${sessions}: ack P50 ${step.ackP50Ms} ms, P99 ${step.ackP99Ms} ms, max ${step.ackMaxMs} ms` +
      ` (generator delay P99 ${step.generatorDelayP99Ms ?? '—'} ms; cores: server ${step.serverCores}, generator ${step.generatorCores}` +
      `${step.redisCores === undefined ? '' : `, redis ${step.redisCores}`}, elsewhere ${step.otherCores}; server ${step.serverCpuUsPerChunk} µs CPU per chunk)` +
      `${step.envelopes === undefined ? '' : `, ${step.envelopes} envelopes`}` +
      ` → ${step.holds ? 'holds' : `does not hold: ${step.reason}`}`,
  );
  return step;
}

/** The fan-in figures of a configuration from its steps (the last one is where it stopped holding, if it did). */
export function fanInResult(steps: FanInStep[]): ConfigurationResult['fanIn'] {
  let largestHolding = 0;
  for (const step of steps) {
    if (!step.holds) break;
    largestHolding = step.sessions;
  }
  return { steps, largestHolding, at200: steps.find((step) => step.sessions === 200) };
}

export async function runReplay(
  configuration: Configuration,
  infra: Infrastructure,
  settings: BenchSettings,
  sample: SpeechSample,
  shared: RunningServer | undefined,
  log: Log,
): Promise<ReplayResult[]> {
  return withServer(configuration, infra, shared, 0, async (server) => {
    const results: ReplayResult[] = [];
    for (const sessions of settings.replay.sessions) {
      const result = await undisturbed(settings, infra, log, `replay ${sessions}`, async () => {
        const meter = new CpuMeter(benchPids(infra, server));
        const summary = await runLoadTest(
          loadTestOptions({ url: server.url, sessions, pace: 'max', window: 1, chunkMs: 100, stop: { kind: 'audio', ms: settings.replay.audioMs } }),
          { sample },
        );
        return {
          sessions,
          audioSeconds: summary.audio.ackedSeconds,
          ingestPerWallSecond: summary.audio.ingestPerWallSecond,
          ackP50Ms: summary.ackLatencyMs.p50,
          errors: summary.errors.total,
          otherCores: round2(meter.read().otherCores),
        };
      });
      results.push(result);
      log(
        `replay ${sessions} session(s) × ${settings.replay.audioMs / 1000} s at max pace: ${result.ingestPerWallSecond} audio s per wall s` +
          ` (errors ${result.errors}, ${result.otherCores} cores elsewhere)`,
      );
    }
    return results;
  });
}

export async function runFinalization(
  configuration: Configuration,
  infra: Infrastructure,
  settings: BenchSettings,
  shared: RunningServer | undefined,
  log: Log,
): Promise<FinalizationResult> {
  const f = settings.finalization;
  const result = await undisturbed(settings, infra, log, 'finalization', () =>
    withServer(configuration, infra, shared, f.engineDelayMs, async (server) => {
      const options = { url: server.url, file: f.sample.file, chunkMs: 100, stop: { kind: 'loops', loops: f.loops } as const };
      // The first engine call of a process opens connections and compiles code paths: a warm-up session takes it.
      await runLoadTest(loadTestOptions({ ...options, sessions: 1, pace: 'max' }), { sample: f.sample });
      const meter = new CpuMeter(benchPids(infra, server));
      const summary = await runLoadTest(loadTestOptions({ ...options, sessions: f.sessions, pace: f.pace, rampUpMs: f.rampUpMs }), {
        sample: f.sample,
      });
      const minus = (v: number | undefined) => (v === undefined ? undefined : Math.round((v - f.engineDelayMs) * 100) / 100);
      return {
        engineDelayMs: f.engineDelayMs,
        results: summary.resultLatencyMs.count,
        overheadP50Ms: minus(summary.resultLatencyMs.p50),
        overheadP95Ms: minus(summary.resultLatencyMs.p95),
        serverOverheadP50Ms: minus(summary.serverResultLatencyMs.p50),
        serverOverheadP95Ms: minus(summary.serverResultLatencyMs.p95),
        errors: summary.errors.total,
        otherCores: round2(meter.read().otherCores),
      };
    }),
  );
  log(
    `finalization (engine ${f.engineDelayMs} ms): ${result.results} results, overhead P50 ${result.overheadP50Ms} ms, P95 ${result.overheadP95Ms} ms` +
      ` (server-measured P50 ${result.serverOverheadP50Ms}, P95 ${result.serverOverheadP95Ms}; ${result.otherCores} cores elsewhere)`,
  );
  return result;
}

/** Opens `count` sessions (connect + start_session), `batch` at a time so the handshakes do not time out. */
async function openSessions(url: string, count: number, sampleRate: number, batch = 50): Promise<TranscriptionClient[]> {
  const clients: TranscriptionClient[] = [];
  for (let i = 0; i < count; i += batch) {
    const group = Array.from(
      { length: Math.min(batch, count - i) },
      () => new TranscriptionClient({ url, socketOptions: { transports: ['websocket'] }, reconnect: { attempts: 3 } }),
    );
    clients.push(...group);
    await Promise.all(group.map((client) => client.start({ sampleRate })));
  }
  return clients;
}

export async function runMemory(
  configuration: Configuration,
  infra: Infrastructure,
  settings: BenchSettings,
  sample: SpeechSample,
  shared: RunningServer | undefined,
  log: Log,
): Promise<MemoryResult> {
  return withServer(configuration, infra, shared, 0, async (server) => {
    const redisPid = configuration.store === 'redis' ? infra.redisPid : undefined;
    // Warm up first: the modules and code paths of a session are loaded before the baseline is read.
    const warm = await openSessions(server.url, 20, sample.sampleRate);
    await Promise.all(warm.map((client) => client.end()));
    for (const client of warm) client.close();
    await sleep(settings.memory.settleMs);
    const baselineBytes = residentBytes(server.pid);
    const redisBaseline = redisPid ? residentBytes(redisPid) : undefined;
    const n = settings.memory.sessions;
    const clients = await openSessions(server.url, n, sample.sampleRate);
    try {
      await sleep(settings.memory.settleMs);
      const loadedBytes = residentBytes(server.pid);
      const redisLoaded = redisPid ? residentBytes(redisPid) : undefined;
      // A second batch as large: a process that had free heap left from start-up absorbs the first batch
      // partly for free, the second shows what a session really adds.
      clients.push(...(await openSessions(server.url, n, sample.sampleRate)));
      await sleep(settings.memory.settleMs);
      const doubledBytes = residentBytes(server.pid);
      const result: MemoryResult = {
        sessions: n,
        baselineBytes,
        loadedBytes,
        perSessionBytes: Math.round((loadedBytes - baselineBytes) / n),
        marginalPerSessionBytes: Math.round((doubledBytes - loadedBytes) / n),
        redisPerSessionBytes: redisPid && redisBaseline !== undefined ? Math.round((redisLoaded! - redisBaseline) / n) : undefined,
      };
      log(
        `memory: ${n} idle sessions, RSS ${(baselineBytes / 2 ** 20).toFixed(1)} → ${(loadedBytes / 2 ** 20).toFixed(1)} MiB,` +
          ` ${(result.perSessionBytes / 1024).toFixed(1)} KiB per session; ${n} more: ${(result.marginalPerSessionBytes / 1024).toFixed(1)} KiB each` +
          (result.redisPerSessionBytes === undefined ? '' : ` (+ ${(result.redisPerSessionBytes / 1024).toFixed(1)} KiB in redis-server)`),
      );
      return result;
    } finally {
      for (const client of clients) client.close();
    }
  });
}
