// Trace sampling through the built server: rate 0 records nothing, rate 1 everything, an intermediate rate keeps or
// drops sessions whole, and a client's trace (handshake sentry-trace/baggage) is continued with its decision.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sessionSampleRand } from '../../src/telemetry/sampler.js';
import { chunksOf, silentPcm } from '../support/audio.js';
import { connect, type TestClient } from '../support/harness.js';
import { startOpenAIStub, type OpenAIStub } from '../support/openai-stub.js';
import { sendChunks, startSession } from '../support/pipeline.js';
import { startSentrySink, type Received, type SentrySink } from '../support/sentry-sink.js';
import { spawnServer, type SpawnedServer } from '../support/spawn-server.js';

const PERFORMANCE_TEST = 'GET /ops/test-sentry-performance';

let stub: OpenAIStub;
const running: Array<{ server: SpawnedServer; sink: SentrySink }> = [];
const clients: TestClient[] = [];

beforeAll(async () => {
  stub = await startOpenAIStub();
});
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});
afterAll(async () => {
  await Promise.all(running.map(async ({ server, sink }) => (await server.stop(), await sink.close())));
  await stub?.close();
});

async function serverAt(rate: string) {
  const sink = await startSentrySink();
  const server = await spawnServer({
    SENTRY_DSN: sink.dsn,
    SENTRY_TRACES_SAMPLE_RATE: rate,
    SENTRY_PROFILES_SAMPLE_RATE: '0',
    TRANSCRIBER: 'openai',
    OPENAI_API_KEY: 'sk-test-sampling',
    OPENAI_BASE_URL: stub.url,
  });
  running.push({ server, sink });
  return { server, sink };
}

/** A session of start, three silent chunks (no engine call) and end: five events. */
async function session(url: string, options: { sessionId?: string; auth?: Record<string, string> } = {}): Promise<string> {
  const c = await connect(url, options.auth);
  clients.push(c);
  const id = await startSession(c, options.sessionId ? { session_id: options.sessionId } : {});
  await sendChunks(c, id, chunksOf(silentPcm(300), 100));
  const end = await c.call('end_session', { session_id: id });
  expect(end.ok).toBe(true);
  return id;
}

/**
 * Everything sent before this point has arrived: the performance test is always sampled and its transaction
 * is sent after the events that came before it.
 */
async function settle(server: SpawnedServer, sink: SentrySink): Promise<Received> {
  const before = (await sink.received()).transactions.filter((t) => t.name === PERFORMANCE_TEST).length;
  const response = await fetch(`${server.opsUrl}/ops/test-sentry-performance`);
  expect(response.status).toBe(200);
  return sink.waitFor((r) => r.transactions.filter((t) => t.name === PERFORMANCE_TEST).length > before, 'the performance-test transaction');
}

const websocket = (received: Received) => received.transactions.filter((t) => t.op === 'websocket');
const ofSession = (received: Received, id: string) => websocket(received).filter((t) => t.data['session.id'] === id);

function traceHeaders(sampled: '0' | '1') {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return {
    traceId,
    spanId,
    auth: {
      'sentry-trace': `${traceId}-${spanId}-${sampled}`,
      baggage: `sentry-trace_id=${traceId},sentry-public_key=publickey,sentry-sample_rate=1,sentry-sampled=${sampled === '1'},sentry-environment=test`,
    },
  };
}

describe('SENTRY_TRACES_SAMPLE_RATE=0', () => {
  it('records no transaction of any session, yet continues a client trace that was sampled', async () => {
    const { server, sink } = await serverAt('0');
    const unsampled = await Promise.all([session(server.url), session(server.url, { sessionId: `fixed-${randomUUID()}` })]);
    const client = traceHeaders('1');
    const continued = await session(server.url, { auth: client.auth });

    const received = await settle(server, sink);
    for (const id of unsampled) expect(ofSession(received, id)).toEqual([]);

    const events = ofSession(received, continued);
    expect(events.map((t) => t.name).sort()).toEqual(
      ['start_session_handler', 'audio_chunk_handler', 'audio_chunk_handler', 'audio_chunk_handler', 'end_session_handler'].sort(),
    );
    for (const t of events) {
      expect(t.traceId).toBe(client.traceId);
      expect(t.parentSpanId).toBe(client.spanId);
    }
    expect(websocket(received)).toHaveLength(5);
  });
});

describe('SENTRY_TRACES_SAMPLE_RATE=1', () => {
  it('records every event of every session, but not a client trace that was not sampled', async () => {
    const { server, sink } = await serverAt('1');
    const sampled = await Promise.all([session(server.url), session(server.url)]);
    const refused = traceHeaders('0');
    const notSampled = await session(server.url, { auth: refused.auth });

    const received = await settle(server, sink);
    for (const id of sampled) expect(ofSession(received, id)).toHaveLength(5);
    expect(ofSession(received, notSampled)).toEqual([]);
    expect(received.transactions.some((t) => t.traceId === refused.traceId)).toBe(false);
  });
});

describe('SENTRY_TRACES_SAMPLE_RATE=0.5', () => {
  it('keeps or drops each session whole, decided by its id', async () => {
    const { server, sink } = await serverAt('0.5');
    const named = Array.from({ length: 16 }, () => `named-${randomUUID()}`);
    const ids: string[] = [];
    // Four at a time: concurrent sessions must not mix up their decisions.
    for (let i = 0; i < named.length; i += 4) {
      ids.push(...(await Promise.all(named.slice(i, i + 4).map((id) => session(server.url, { sessionId: id })))));
      ids.push(...(await Promise.all([session(server.url), session(server.url)])));
    }
    const received = await settle(server, sink);

    const counts = ids.map((id) => ofSession(received, id).length);
    for (const count of counts) expect([0, 5]).toContain(count);
    const kept = counts.filter((c) => c === 5).length;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(ids.length);
    // Sessions named by the client are sampled exactly when their id's sample_rand is under the rate.
    for (const id of named) expect(ofSession(received, id).length === 5).toBe(sessionSampleRand(id) < 0.5);
    // And every transaction of a kept session is in one trace (its silent chunks cut no segment).
    for (const id of ids) expect(new Set(ofSession(received, id).map((t) => t.traceId)).size).toBeLessThanOrEqual(1);
  });
});
