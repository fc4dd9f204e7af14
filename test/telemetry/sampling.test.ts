// Trace sampling through the built server: rate 0 records nothing, rate 1 everything, an intermediate rate keeps or
// drops sessions whole; a client's trace (handshake sentry-trace/baggage) is linked but decides nothing unless
// SENTRY_TRUST_CLIENT_SAMPLING=true, and ids a client picks do not raise its share.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sessionSampler } from '../../src/telemetry/sampler.js';
import { chunksOf, silentPcm } from '../support/audio.js';
import { connect, type TestClient } from '../support/harness.js';
import { startOpenAIStub, type OpenAIStub } from '../support/openai-stub.js';
import { sendChunks, startSession } from '../support/pipeline.js';
import { startSentrySink, type Received, type SentrySink } from '../support/sentry-sink.js';
import { spawnServer, type SpawnedServer } from '../support/spawn-server.js';

const PERFORMANCE_TEST = 'GET /ops/test-sentry-performance';
/** Shared by the spawned servers and this test, so it can tell which ids the server samples. */
const SAMPLING_SECRET = `sampling-${randomUUID()}`;
const sampleRand = sessionSampler(SAMPLING_SECRET);

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

async function serverAt(rate: string, env: Record<string, string> = {}) {
  const sink = await startSentrySink();
  const server = await spawnServer({
    ...env,
    SENTRY_DSN: sink.dsn,
    SENTRY_SAMPLING_SECRET: SAMPLING_SECRET,
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

/** A client's trace headers; sampled ones also carry the lowest sample_rand, as a client forcing its way in would. */
function traceHeaders(sampled: '0' | '1') {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  const rand = sampled === '1' ? '0.000001' : '0.999999';
  const headers = {
    'sentry-trace': `${traceId}-${spanId}-${sampled}`,
    baggage: `sentry-trace_id=${traceId},sentry-public_key=publickey,sentry-sample_rate=1,sentry-sample_rand=${rand},sentry-sampled=${sampled === '1'},sentry-environment=test`,
  };
  return { traceId, spanId, auth: headers, headers };
}

/** Session ids anyone could have chosen to be sampled at `rate` under an unkeyed hash of the id. */
function chosenIds(rate: number, count: number): string[] {
  const ids: string[] = [];
  const prefix = `chosen-${randomUUID()}-`;
  for (let i = 0; ids.length < count; i++) {
    const rand = createHash('sha256').update(`sentry-sample:${prefix}${i}`).digest().readUIntBE(0, 6) / 2 ** 48;
    if (rand < rate) ids.push(`${prefix}${i}`);
  }
  return ids;
}

describe('SENTRY_TRACES_SAMPLE_RATE=0', () => {
  it('records no transaction of any session, nor of a client that sends a sampled trace (linking only)', async () => {
    const { server, sink } = await serverAt('0');
    const client = traceHeaders('1');
    const ids = await Promise.all([session(server.url), session(server.url, { sessionId: `fixed-${randomUUID()}` }), session(server.url, { auth: client.auth })]);
    // An HTTP request with the same headers is not traced either.
    expect((await fetch(`${server.url}/`, { headers: client.headers })).status).toBeLessThan(500);

    const received = await settle(server, sink);
    for (const id of ids) expect(ofSession(received, id)).toEqual([]);
    expect(received.transactions.filter((t) => t.traceId === client.traceId)).toEqual([]);
    expect(websocket(received)).toEqual([]);
  });

  it('with SENTRY_TRUST_CLIENT_SAMPLING=true, continues a client trace that was sampled, and records nothing else', async () => {
    const { server, sink } = await serverAt('0', { SENTRY_TRUST_CLIENT_SAMPLING: 'true' });
    const unsampled = await Promise.all([session(server.url), session(server.url, { sessionId: `fixed-${randomUUID()}` })]);
    const client = traceHeaders('1');
    const continued = await session(server.url, { auth: client.auth });
    // Trusted, the client's headers decide for an HTTP request too.
    expect((await fetch(`${server.url}/`, { headers: client.headers })).status).toBeLessThan(500);

    const received = await settle(server, sink);
    expect(received.transactions.some((t) => t.traceId === client.traceId && t.op === 'http.server')).toBe(true);
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
  it('records every event of every session, a client’s unsampled trace too, linked into the client’s trace', async () => {
    const { server, sink } = await serverAt('1');
    const client = traceHeaders('0');
    const linked = await session(server.url, { auth: client.auth });
    const received = await settle(server, sink);

    const events = ofSession(received, linked);
    expect(events).toHaveLength(5);
    // Trace continuation: the client's trace id throughout, its span the parent of the session's first transaction.
    for (const t of events) expect(t.traceId).toBe(client.traceId);
    const start = events.find((t) => t.name === 'start_session_handler')!;
    expect(start.parentSpanId).toBe(client.spanId);
    for (const t of events.filter((t) => t !== start)) expect(t.parentSpanId).toBe(start.spanId);
  });

  it('with SENTRY_TRUST_CLIENT_SAMPLING=true, records every session but not a client trace that was not sampled', async () => {
    const { server, sink } = await serverAt('1', { SENTRY_TRUST_CLIENT_SAMPLING: 'true' });
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
    // Sessions named by the client are sampled exactly when their id's keyed sample_rand is under the rate.
    for (const id of named) expect(ofSession(received, id).length === 5).toBe(sampleRand(id) < 0.5);
    // And every transaction of a kept session is in one trace (its silent chunks cut no segment).
    for (const id of ids) expect(new Set(ofSession(received, id).map((t) => t.traceId)).size).toBeLessThanOrEqual(1);
  });
});

describe('a client forcing its way into tracing at SENTRY_TRACES_SAMPLE_RATE=0.1', () => {
  const SESSIONS = 200;

  /** One connection sending a sampled trace (lowest sample_rand) with every session, each named by an id it chose. */
  async function forcedSessions(url: string): Promise<{ ids: string[]; traceId: string }> {
    const client = traceHeaders('1');
    const c = await connect(url, client.auth);
    clients.push(c);
    const ids = chosenIds(0.1, SESSIONS);
    for (const id of ids) {
      await startSession(c, { session_id: id });
      expect((await c.call('end_session', { session_id: id })).ok).toBe(true);
    }
    return { ids, traceId: client.traceId };
  }

  it('gets about a tenth of its sessions traced, each linked to its trace', async () => {
    const { server, sink } = await serverAt('0.1');
    const { ids, traceId } = await forcedSessions(server.url);
    const received = await settle(server, sink);

    const traced = ids.filter((id) => ofSession(received, id).length > 0);
    // Binomial(200, 0.1): 20 ± 4.2; under 45 is 6 sigma away from chance, and 100 % is what the client asked for.
    expect(traced.length).toBeLessThan(45);
    expect(traced.length).toBeGreaterThan(3);
    // Exactly the sessions the server's own keyed hash picks, whole (start and end), in the client's trace.
    expect(traced).toEqual(ids.filter((id) => sampleRand(id) < 0.1));
    for (const id of traced) {
      expect(ofSession(received, id)).toHaveLength(2);
      for (const t of ofSession(received, id)) expect(t.traceId).toBe(traceId);
    }
  }, 60_000);

  it('with SENTRY_TRUST_CLIENT_SAMPLING=true, gets every session traced: the client decides', async () => {
    const { server, sink } = await serverAt('0.1', { SENTRY_TRUST_CLIENT_SAMPLING: 'true' });
    const { ids } = await forcedSessions(server.url);
    const received = await settle(server, sink);
    for (const id of ids) expect(ofSession(received, id)).toHaveLength(2);
  }, 60_000);
});
