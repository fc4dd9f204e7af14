// The ops server inside the built server with Sentry on: the performance test's transaction and its four spans,
// probes never traced, and the OPS_TOKEN never sent to Sentry.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findSecret } from '../support/leaks.js';
import { startOpenAIStub, type OpenAIStub } from '../support/openai-stub.js';
import { childrenOf, startSentrySink, type SentrySink } from '../support/sentry-sink.js';
import { spawnServer, type SpawnedServer } from '../support/spawn-server.js';

const OPS_TOKEN = 'ops-token-7d3e1f-DO-NOT-LEAK';
const NAME = 'GET /ops/test-sentry-performance';

let sink: SentrySink;
let stub: OpenAIStub;
let server: SpawnedServer;
/** When the performance test was requested (seconds, like profile timestamps). */
let requestedAt = 0;

beforeAll(async () => {
  [sink, stub] = await Promise.all([startSentrySink(), startOpenAIStub({ respond: () => ({ text: 'hello world' }) })]);
  server = await spawnServer({
    SENTRY_DSN: sink.dsn,
    // Nothing else is sampled: the performance test is, always.
    SENTRY_TRACES_SAMPLE_RATE: '0',
    // This process profiles: it must do so only while the sampled transaction runs.
    SENTRY_PROFILES_SAMPLE_RATE: '1',
    TRANSCRIBER: 'openai',
    OPENAI_API_KEY: 'sk-test-ops-sentry',
    OPENAI_BASE_URL: stub.url,
    OPS_TOKEN,
  });
});

afterAll(async () => {
  await server?.stop();
  await Promise.all([sink?.close(), stub?.close()]);
});

describe('the performance test in Sentry', () => {
  it('is one http.server transaction whose four operations are spans with the measured durations', async () => {
    // Probes first: if they were traced, their transactions would arrive before the performance test's.
    for (let i = 0; i < 3; i++) {
      expect((await fetch(`${server.opsUrl}/healthz`)).status).toBe(200);
      expect((await fetch(`${server.opsUrl}/readyz`)).status).toBe(200);
    }
    requestedAt = Date.now() / 1000;
    const response = await fetch(`${server.opsUrl}/ops/test-sentry-performance`, { headers: { authorization: `Bearer ${OPS_TOKEN}` } });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { operations: Array<{ name: string; duration_ms: number }> };

    const received = await sink.waitFor((r) => r.transactions.some((t) => t.name === NAME), 'the performance-test transaction');
    expect(received.transactions.map((t) => t.name)).toEqual([NAME]);
    const transaction = received.transactions[0]!;
    expect(transaction.op).toBe('http.server');
    expect(transaction.status).toBe('ok');
    expect(transaction.data['http.response.status_code']).toBe(200);

    const operations = transaction.spans.filter((s) => ['Database Query', 'OpenAI API Call', 'Data Processing', 'Cache Write'].includes(s.name));
    expect(operations.map((s) => `${s.op}:${s.name}`)).toEqual(['db.query:Database Query', 'ai:OpenAI API Call', 'function:Data Processing', 'cache.set:Cache Write']);
    // All four under the Fastify route handler's span.
    expect(new Set(operations.map((s) => s.parentSpanId)).size).toBe(1);
    const handler = transaction.spans.find((s) => s.spanId === operations[0]!.parentSpanId)!;
    expect(handler.op).toBe('handler');
    // The engine call made the real request, as a child span.
    const engineCall = operations[1]!;
    expect(childrenOf(transaction, engineCall).map((s) => s.op)).toEqual(['http.client']);

    for (const [i, span] of operations.entries()) {
      const raw = transaction.raw.spans.find((s: { span_id: string }) => s.span_id === span.spanId);
      const spanMs = (raw.timestamp - raw.start_timestamp) * 1000;
      expect(body.operations[i]!.name).toBe(span.name);
      // The report rounds to 0.01 ms; it is the span's own duration, not a second clock.
      expect(Math.abs(body.operations[i]!.duration_ms - spanMs)).toBeLessThan(0.006);
    }
  });

  it('profiles while the transaction runs, not from the untraced probes on', async () => {
    // Were the probes' unsampled spans counted, the profiler would run from the first probe until its 60 s chunk.
    const received = await sink.waitFor((r) => r.profiles.length > 0, 'a profile chunk', 10_000);
    expect(received.profiles).toHaveLength(1);
    const samples = received.profiles[0]!.payload.profile.samples as Array<{ timestamp: number }>;
    expect(samples.length).toBeGreaterThan(0);
    expect(Math.min(...samples.map((s) => s.timestamp))).toBeGreaterThan(requestedAt - 0.05);
  });

  it('never sends the OPS_TOKEN or the Authorization header', async () => {
    const received = await sink.received();
    expect(received.bodies.length).toBeGreaterThan(0);
    expect(findSecret(received.bodies, OPS_TOKEN)).toBe(false);
    const transaction = received.transactions.find((t) => t.name === NAME)!;
    expect([undefined, '[Filtered]']).toContain(transaction.raw.request.headers.authorization);
    expect(transaction.raw.request.headers['user-agent']).toBeDefined();
  });
});
