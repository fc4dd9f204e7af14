// The configurations the benchmark compares, and how each one's server process is started: the bare Socket.IO
// server, or the real server (dist/) with its store and Sentry settings, all pointed at local stand-ins.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, getJson, startChild, type Child } from './processes.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/**
 * Where the server under test is built: this checkout, or BENCH_BUILD=<another checkout>/ (built, with its
 * node_modules) to measure an older build under the same harness, in the same run.
 */
const SERVER_ROOT = process.env.BENCH_BUILD ? path.join(path.resolve(process.env.BENCH_BUILD), path.sep) : ROOT;

export interface Configuration {
  id: string;
  label: string;
  kind: 'bare' | 'server';
  store?: 'memory' | 'redis';
  /** SENTRY_TRACES_SAMPLE_RATE; undefined for no Sentry at all (no DSN). */
  tracesSampleRate?: number;
  /** WORKERS (a cluster primary and its workers; CPU and memory are summed over the process tree). */
  workers?: number;
}

export const CONFIGURATIONS: Configuration[] = [
  { id: 'bare', label: 'bare Socket.IO server (no work)', kind: 'bare' },
  { id: 'memory-no-sentry', label: 'memory store, no Sentry (no DSN)', kind: 'server', store: 'memory' },
  { id: 'memory-tracing-off', label: 'memory store, Sentry on, tracing off', kind: 'server', store: 'memory', tracesSampleRate: 0 },
  { id: 'memory-0.1', label: 'memory store, tracing 0.1', kind: 'server', store: 'memory', tracesSampleRate: 0.1 },
  { id: 'memory-1.0', label: 'memory store, tracing 1.0', kind: 'server', store: 'memory', tracesSampleRate: 1 },
  { id: 'redis-0.1', label: 'Redis store, tracing 0.1', kind: 'server', store: 'redis', tracesSampleRate: 0.1 },
  { id: 'redis-0.1-workers-2', label: 'Redis store, tracing 0.1, WORKERS=2', kind: 'server', store: 'redis', tracesSampleRate: 0.1, workers: 2 },
];

/** The stand-ins every server talks to, started once for the whole benchmark. */
export interface Infrastructure {
  /** The engine stub's origin; the server's OPENAI_BASE_URL is this plus [/delay/<ms>]/v1. */
  engineUrl: string;
  /** The envelope counter's origin; the DSN points at it. */
  sinkUrl: string;
  redisUrl: string | undefined;
  redisPid: number | undefined;
  children: Child[];
}

export async function startInfrastructure(needRedis: boolean): Promise<Infrastructure> {
  const children: Child[] = [];
  const node = process.execPath;
  const engine = await startChild('engine stub', {
    command: node,
    args: ['bench/shared/engine-stub.mjs'],
    cwd: ROOT,
    env: { PATH: process.env.PATH },
    readyLine: /listening on port (\d+)/,
  });
  children.push(engine.child);
  const sink = await startChild('envelope counter', {
    command: node,
    args: ['bench/shared/envelope-counter.mjs'],
    cwd: ROOT,
    env: { PATH: process.env.PATH },
    readyLine: /listening on port (\d+)/,
  });
  children.push(sink.child);
  let redisUrl: string | undefined;
  let redisPid: number | undefined;
  if (needRedis) {
    const port = await freePort();
    const redis = await startChild('redis-server', {
      command: 'redis-server',
      args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      env: { PATH: process.env.PATH },
      readyLine: /Ready to accept connections/,
    });
    children.push(redis.child);
    redisUrl = `redis://127.0.0.1:${port}`;
    redisPid = redis.child.pid;
  }
  return {
    engineUrl: `http://127.0.0.1:${engine.match![1]}`,
    sinkUrl: `http://127.0.0.1:${sink.match![1]}`,
    redisUrl,
    redisPid,
    children,
  };
}

export async function envelopesReceived(infra: Infrastructure): Promise<number> {
  return (await getJson<{ envelopes: number }>(`${infra.sinkUrl}/count`)).envelopes;
}

export interface RunningServer {
  configuration: Configuration;
  url: string;
  pid: number;
  child: Child;
}

/** The real server's entry, with Sentry's instrument module loaded first when the build has it. */
function serverArgs(): string[] {
  if (!existsSync(`${SERVER_ROOT}dist/main.js`)) throw new Error('dist/main.js is missing: run `npm run build` (npm run bench does) first');
  const instrument = existsSync(`${SERVER_ROOT}dist/telemetry/instrument.js`) ? ['--import', './dist/telemetry/instrument.js'] : [];
  return [...instrument, 'dist/main.js'];
}

export async function startServer(
  configuration: Configuration,
  infra: Infrastructure,
  options: {
    engineDelayMs?: number;
    /** The stub's settings path instead of /delay/<engineDelayMs>, e.g. /delay/700/jitter/600/quota/48 (see engine-stub.mjs). */
    enginePath?: string;
    /** Server settings for this run, applied after the configuration's (e.g. TRANSCRIBER=pocketsphinx). */
    env?: Record<string, string>;
    cpuProfileDir?: string;
    /** Listen on this port instead of a free one (a server restarted where its clients knew it). */
    port?: number;
  } = {},
): Promise<RunningServer> {
  const port = options.port ?? (await freePort());
  const profiling = options.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`] : [];
  if (configuration.kind === 'bare') {
    const { child } = await startChild('bare server', {
      command: process.execPath,
      args: [...profiling, '--import', 'tsx', 'bench/shared/bare-server.ts'],
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: String(port) },
      readyLine: /listening on port (\d+)/,
    });
    return { configuration, url: `http://127.0.0.1:${port}`, pid: child.pid, child };
  }
  // A clean environment: nothing from the caller's shell (a real SENTRY_DSN, REDIS_URL) may leak in.
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    NODE_ENV: 'production',
    // Bench clients connect without credentials, hundreds at once from one address.
    ALLOW_ANONYMOUS: 'true',
    HANDSHAKES_PER_MINUTE: '0',
    HOST: '127.0.0.1',
    PORT: String(port),
    OPS_PORT: '0',
    LOG_LEVEL: 'warn',
    TRANSCRIBER: 'openai',
    OPENAI_API_KEY: 'sk-bench',
    // The stub reads its answer delay from the path.
    OPENAI_BASE_URL: `${infra.engineUrl}${options.enginePath ?? (options.engineDelayMs ? `/delay/${options.engineDelayMs}` : '')}/v1`,
    // Profiling samples whole processes at random: off, so every run of a configuration measures the same thing.
    SENTRY_PROFILES_SAMPLE_RATE: '0',
    // The replay scenario sends as fast as acks come, far above the 10× real time a client may send by default.
    AUDIO_RATE_LIMIT: '0',
    // The steps go past capacity on purpose, to find it; the guard that refuses sessions there is measured apart
    // (BENCHMARKS.md, "Past capacity").
    MAX_EVENT_LOOP_UTILIZATION: '1',
  };
  if (configuration.tracesSampleRate !== undefined) {
    env.SENTRY_DSN = `${infra.sinkUrl.replace('http://', 'http://bench@')}/1`;
    env.SENTRY_TRACES_SAMPLE_RATE = String(configuration.tracesSampleRate);
    env.SENTRY_ENVIRONMENT = 'bench';
  }
  if (configuration.store === 'redis') {
    if (!infra.redisUrl) throw new Error('the Redis configuration needs redis-server (apt-get install redis-server)');
    env.REDIS_URL = infra.redisUrl;
    env.REDIS_KEY_PREFIX = `bench:${randomUUID()}:`;
  }
  if (configuration.workers !== undefined) env.WORKERS = String(configuration.workers);
  Object.assign(env, options.env);
  // Experiments: BENCH_SERVER_<NAME>=value in the benchmark's environment sets <NAME> for the server under test.
  for (const [name, value] of Object.entries(process.env)) {
    if (name.startsWith('BENCH_SERVER_')) env[name.slice('BENCH_SERVER_'.length)] = value;
  }
  const { child } = await startChild(`server (${configuration.id})`, {
    command: process.execPath,
    args: [...profiling, ...serverArgs()],
    cwd: SERVER_ROOT,
    env,
    readyPort: port,
    // A cluster primary listens only once its workers have started, each loading the whole server.
    timeoutMs: configuration.workers ? 60_000 : undefined,
  });
  return { configuration, url: `http://127.0.0.1:${port}`, pid: child.pid, child };
}
