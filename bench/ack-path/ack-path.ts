// The per-chunk ack path in one process, without the transport: the real app (createApp with its real sessions,
// store, metrics and telemetry) gets each audio_chunk from a stand-in socket, so the CPU time per chunk is ours
// alone, measured with process.cpuUsage and steady on a shared machine where a fan-in's wall-clock latency is not.
// Usage (after `npm run build`; Sentry needs its instrument module loaded first, as in production):
//   npx tsx bench/ack-path/ack-path.ts [--sessions 200] [--rounds 600] [--repeat 5] [--store memory|redis]
//   SENTRY_DSN=http://k@127.0.0.1:<port>/1 SENTRY_TRACES_SAMPLE_RATE=0.1 \
//     node --import ./dist/telemetry/instrument.js --import tsx bench/ack-path/ack-path.ts
// (bench/shared/envelope-counter.mjs is a DSN target that only counts envelopes.) `--baseline` answers each chunk with an
// ack and nothing else: the stand-in socket's own cost, to subtract.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createApp } from '../../src/server/compose.js';
import { loadConfig } from '../../src/config/config.js';
import type { TranscriptionEngine } from '../../src/engines/engine.js';
import { createEngine } from '../../src/engines/index.js';
import { ChunkedLoop, loadSpeechSample } from '../../src/loadtest/index.js';
import { createPrometheusMetrics } from '../../src/metrics/prometheus-metrics.js';
import { NAMESPACE } from '../../src/protocol/index.js';
import { createMemoryStore } from '../../src/store/memory-store.js';
import { createRedisStore } from '../../src/store/redis-store.js';
import { createTelemetry } from '../../src/telemetry/sentry-telemetry.js';

const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '600' },
    repeat: { type: 'string', default: '5' },
    store: { type: 'string', default: 'memory' },
    baseline: { type: 'boolean', default: false },
    /** The real OpenAI engine at OPENAI_BASE_URL (e.g. bench/shared/engine-stub.mjs) instead of one that answers in-process. */
    'openai-engine': { type: 'boolean', default: false },
  },
});
const sessions = Number(values.sessions);
const rounds = Number(values.rounds);

const config = loadConfig({
  ...process.env,
  TRANSCRIBER: 'openai',
  OPENAI_API_KEY: 'sk-bench',
  AUDIO_RATE_LIMIT: '0',
  LOG_LEVEL: 'warn',
  // A fixed engine limit: admission's prior (one segment per half SEGMENT_MAX_MS per new session, against the 16 an
  // adaptive limit starts at) would refuse most of these sessions, which all start before any segment is cut.
  ENGINE_CONCURRENCY: '1024',
});
// By default an engine that answers at once: its upload is not the ack path's cost (--openai-engine measures it).
const engine: TranscriptionEngine = values['openai-engine']
  ? await createEngine(config)
  : { name: 'bench', model: 'bench', transcribe: async () => ({ text: 'hello' }), check: async () => {} };
const store =
  values.store === 'redis'
    ? await createRedisStore({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', keyPrefix: `bench:${process.pid}:`, ttlS: 600 })
    : createMemoryStore({ ttlS: 600 });
const prometheus = createPrometheusMetrics();
const telemetry = createTelemetry({ tags: { engine: engine.name, model: engine.model }, metrics: prometheus.metrics });
const app = createApp(config, { store, engine, telemetry, metrics: prometheus.metrics });

type Listener = (...args: unknown[]) => void;
type Middleware = (packet: unknown[], next: (error?: Error) => void) => void;
/**
 * A connection as the namespace sees it: the handlers it binds are kept here and called directly, after the
 * per-packet middlewares it registers (`socket.use`: the transport throttle's read budget), as Socket.IO runs them.
 * Its transport is no WebSocket, so the throttle has no reads to pause (as on long-polling).
 */
function connect(): Map<string, Listener> {
  const listeners = new Map<string, Listener>();
  const middlewares: Middleware[] = [];
  const socket = {
    id: `bench-${Math.random()}`,
    handshake: { auth: {} },
    data: {},
    conn: { transport: { name: 'stand-in' } },
    on: (event: string, fn: Listener) => listeners.set(event, fn),
    once: () => socket,
    use: (fn: Middleware) => middlewares.push(fn),
    emit: () => true,
  };
  const namespace = app.io.of(NAMESPACE) as unknown as { listeners(event: string): Listener[] };
  for (const onConnection of namespace.listeners('connection')) onConnection(socket);
  const dispatched = new Map<string, Listener>();
  for (const [event, listener] of listeners) {
    dispatched.set(event, (...args: unknown[]) => {
      const packet = [event, ...args];
      const run = (i: number): void => (i < middlewares.length ? middlewares[i]!(packet, () => run(i + 1)) : listener(...args));
      run(0);
    });
  }
  return dispatched;
}

const hello = await loadSpeechSample(fileURLToPath(new URL('../../test/fixtures/hello.wav', import.meta.url)));
const loop = new ChunkedLoop(hello, 100);
// One connection per session, as the load generator's clients have.
const chunkEvents: Listener[] = [];
const ids: string[] = [];
const seqs: number[] = [];
for (let i = 0; i < sessions; i++) {
  // Fixed ids: the sessions tracing samples (by id) are the same in every run.
  const id = `bench-session-${i}`;
  const connection = connect();
  chunkEvents.push(connection.get('audio_chunk')!);
  await new Promise<void>((resolve, reject) =>
    connection.get('start_session')!({ session_id: id }, (ack: { ok: boolean; error?: unknown }) => (ack.ok ? resolve() : reject(new Error(JSON.stringify(ack.error))))),
  );
  ids.push(id);
  seqs.push(0);
}

let failures = 0;
/** One round: every session sends its next chunk; resolves when all are acked. */
function round(): Promise<void> {
  return new Promise((resolve) => {
    let pending = sessions;
    const onAck = (ack: { ok: boolean }) => {
      if (!ack.ok && failures++ === 0) console.error(JSON.stringify(ack));
      if (--pending === 0) resolve();
    };
    for (let i = 0; i < sessions; i++) {
      const seq = seqs[i]!++;
      const payload = { session_id: ids[i], seq, chunk: Buffer.from(loop.chunk(seq)!) };
      if (values.baseline) onAck({ ok: true });
      else chunkEvents[i]!(payload, onAck);
    }
  });
}

// Warm-up: the JIT settles and every session cuts a few segments.
for (let r = 0; r < 200; r++) await round();
const results: number[] = [];
for (let rep = 0; rep < Number(values.repeat); rep++) {
  const before = process.cpuUsage();
  for (let r = 0; r < rounds; r++) {
    await round();
    // Let the transcriptions started by this round run, as the event loop would between real chunks.
    await new Promise((resolve) => setImmediate(resolve));
  }
  const used = process.cpuUsage(before);
  results.push((used.user + used.system) / (rounds * sessions));
}
await app.sessions.settled();
const sorted = [...results].sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)]!;
console.log(
  `${values.baseline ? 'baseline' : `${store.kind}${values['openai-engine'] ? ', openai engine' : ''}, tracing ${process.env.SENTRY_DSN ? (process.env.SENTRY_TRACES_SAMPLE_RATE ?? '?') : 'no Sentry'}`}: ` +
    `${sessions} sessions × ${rounds} rounds, µs per chunk ${results.map((us) => us.toFixed(1)).join(' ')}, median ${median.toFixed(1)}` +
    `${failures ? `, ${failures} refused` : ''}`,
);
await app.close();
await store.close();
process.exit(0);
