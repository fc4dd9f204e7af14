// Long sessions through the built server with a sink in its own process: one trace per segment within its span
// budget, each linked to the one before; the engine queue as queue.publish / queue.process spans; interim work
// told apart; an unsampled session's failure still reported; nothing lost silently under a burst.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionSampler } from '../../src/telemetry/sampler.js';
import { chunksOf, loudPcm, silentPcm } from '../support/audio.js';
import { connect, until, type TestClient } from '../support/harness.js';
import { startOpenAIStub, type OpenAIStub } from '../support/openai-stub.js';
import { sendChunks, startSession } from '../support/pipeline.js';
import { childrenOf, startSentrySink, type Received, type SentrySink, type TransactionRecord } from '../support/sentry-sink.js';
import { spawnServer, type SpawnedServer } from '../support/spawn-server.js';

const RATE = 0.5;
const SEGMENT_MAX_MS = 10_000;
const CHUNK_MS = 200;
/** The stub fails every upload in this language (an engine error)… */
const FAILING_LANGUAGE = 'fr';
/** …and refuses the first upload in this one for load (a retry). */
const RETRIED_LANGUAGE = 'it';
const PERFORMANCE_TEST = 'GET /ops/test-sentry-performance';

/**
 * The span budget of one trace, as docs/monitoring.md states it: at most SEGMENT_MAX_MS / chunk length chunk
 * events plus start_session or end_session, three spans each (event, validate, buffer), and for the segment cut in
 * it five more (ai, read, publish, process, engine request), two per retry, three per interim.
 */
function spanBudget(options: { retries?: number; interims?: number } = {}) {
  const events = SEGMENT_MAX_MS / CHUNK_MS + 1;
  return { events, spans: events * 3 + 5 + 2 * (options.retries ?? 0) + 3 * (options.interims ?? 0) };
}

/** The spawned server's SENTRY_SAMPLING_SECRET: knowing it, the test can pick ids the server samples (a client cannot). */
const SAMPLING_SECRET = 'linked-traces-sampling-secret';
const sampleRand = sessionSampler(SAMPLING_SECRET);

/** A session id the sampler keeps (or drops) at RATE: sampling is decided by the keyed id, so tests choose. */
function sessionId(name: string, sampled: boolean): string {
  for (let i = 0; ; i++) {
    const id = `${name}-${i}`;
    if (sampleRand(id) < RATE === sampled) return id;
  }
}

const spanCount = (transactions: TransactionRecord[]) => transactions.reduce((sum, t) => sum + 1 + t.spans.length, 0);
const ofSession = (received: Received, id: string) => received.transactions.filter((t) => t.data['session.id'] === id);

function traces(transactions: TransactionRecord[]): TransactionRecord[][] {
  const byTrace = new Map<string, TransactionRecord[]>();
  for (const t of transactions) byTrace.set(t.traceId, [...(byTrace.get(t.traceId) ?? []), t]);
  return [...byTrace.values()].sort((a, b) => (a[0]!.data['session.trace_index'] as number) - (b[0]!.data['session.trace_index'] as number));
}

const rootOf = (trace: TransactionRecord[]) => trace.find((t) => t.parentSpanId === undefined)!;

describe('a sampled server at SENTRY_TRACES_SAMPLE_RATE=0.5', () => {
  let sink: SentrySink;
  let stub: OpenAIStub;
  let server: SpawnedServer;
  const clients: TestClient[] = [];
  let retried = false;

  beforeAll(async () => {
    [sink, stub] = await Promise.all([
      startSentrySink(),
      startOpenAIStub({
        respond: (upload) => {
          if (upload.language === FAILING_LANGUAGE) return { status: 500, text: 'stub outage' };
          if (upload.language === RETRIED_LANGUAGE && !retried) {
            retried = true;
            return { status: 429, text: 'slow down' };
          }
          return {};
        },
      }),
    ]);
    server = await spawnServer({
      SENTRY_DSN: sink.dsn,
      SENTRY_SAMPLING_SECRET: SAMPLING_SECRET,
      SENTRY_TRACES_SAMPLE_RATE: String(RATE),
      SENTRY_PROFILES_SAMPLE_RATE: '0',
      TRANSCRIBER: 'openai',
      OPENAI_API_KEY: 'sk-test-linked-traces',
      OPENAI_BASE_URL: stub.url,
      ENGINE_MAX_RETRIES: '1',
      SEGMENT_MAX_MS: String(SEGMENT_MAX_MS),
      // Three minutes of audio go as fast as acks allow: far above the default 10× real-time limit.
      AUDIO_RATE_LIMIT: '0',
    });
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await server?.stop();
    await Promise.all([sink?.close(), stub?.close()]);
  });

  async function client(): Promise<TestClient> {
    const c = await connect(server.url);
    clients.push(c);
    return c;
  }

  /** Everything the server sent before now has arrived: the always-sampled performance test is sent after it. */
  async function settle(): Promise<Received> {
    const before = (await sink.received()).transactions.filter((t) => t.name === PERFORMANCE_TEST).length;
    expect((await fetch(`${server.opsUrl}/ops/test-sentry-performance`)).status).toBe(200);
    return sink.waitFor((r) => r.transactions.filter((t) => t.name === PERFORMANCE_TEST).length > before, 'the performance-test transaction');
  }

  describe('three minutes of speech sent faster than real time', () => {
    const id = sessionId('long', true);
    const chunks = chunksOf(loudPcm(180_000, 16000, 41), CHUNK_MS);
    let session: TransactionRecord[];

    beforeAll(async () => {
      const c = await client();
      await startSession(c, { session_id: id, language: 'en' });
      const acks = await sendChunks(c, id, chunks);
      expect(acks.every((ack) => ack.ok)).toBe(true);
      await until(() => c.results.length >= 18, '18 results', 60_000);
      expect((await c.call('end_session', { session_id: id })).ok).toBe(true);
      const received = await sink.waitFor((r) => ofSession(r, id).length === chunks.length + 2, `the ${chunks.length + 2} transactions of ${id}`, 60_000);
      session = ofSession(received, id);
    }, 120_000);

    it('is one trace per segment: 18 segments of 50 chunks, then end_session after the last cut', () => {
      const byTrace = traces(session);
      expect(byTrace).toHaveLength(19);
      byTrace.forEach((trace, index) => {
        expect(trace.every((t) => t.data['session.trace_index'] === index)).toBe(true);
        const chunkEvents = trace.filter((t) => t.name === 'audio_chunk_handler');
        expect(chunkEvents.map((t) => t.data['chunk.seq'] as number).sort((a, b) => a - b)).toEqual(index < 18 ? Array.from({ length: 50 }, (_, i) => index * 50 + i) : []);
        // The chunk that cut the segment holds its transcription.
        if (index < 18) expect(chunkEvents.filter((t) => t.spans.some((s) => s.op === 'ai')).map((t) => t.data['chunk.seq'])).toEqual([index * 50 + 49]);
      });
      expect(byTrace[0]!.some((t) => t.name === 'start_session_handler')).toBe(true);
      expect(byTrace[18]!.map((t) => t.name)).toEqual(['end_session_handler']);
    });

    it('keeps every trace within the stated span budget', () => {
      const budget = spanBudget();
      for (const trace of traces(session)) {
        expect(trace.length).toBeLessThanOrEqual(budget.events);
        expect(spanCount(trace)).toBeLessThanOrEqual(budget.spans);
      }
      // The budget is tight: a full segment's trace has 50 chunk events of three spans and its transcription's five.
      expect(spanCount(traces(session)[1]!)).toBe(50 * 3 + 5);
    });

    it('links each trace’s root to the previous trace’s root, in order, and puts the session id on every root', () => {
      const roots = traces(session).map(rootOf);
      expect(roots[0]!.name).toBe('start_session_handler');
      expect(roots[0]!.raw.contexts.trace.links).toBeUndefined();
      for (let i = 1; i < roots.length; i++) {
        expect(roots[i]!.raw.contexts.trace.links).toEqual([
          { trace_id: roots[i - 1]!.traceId, span_id: roots[i - 1]!.spanId, sampled: true, attributes: { 'sentry.link.type': 'previous_trace' } },
        ]);
        expect(roots[i]!.startTimestamp).toBeGreaterThanOrEqual(roots[i - 1]!.startTimestamp);
      }
      for (const root of roots) expect(root.data['session.id']).toBe(id);
      // Every other event of a trace hangs under its root.
      for (const trace of traces(session)) for (const t of trace) if (t !== rootOf(trace)) expect(t.parentSpanId).toBe(rootOf(trace).spanId);
      expect(new Set(roots.map((r) => r.traceId)).size).toBe(roots.length);
    });

    it('shows each segment’s hand-off and engine work as queue spans with the messaging attributes', () => {
      const cutting = session.filter((t) => t.spans.some((s) => s.op === 'ai'));
      expect(cutting).toHaveLength(18);
      for (const t of cutting) {
        const ai = t.spans.find((s) => s.op === 'ai')!;
        const [read, publish, process] = childrenOf(t, ai);
        expect([read!.op, publish!.op, process!.op]).toEqual(['cache.get', 'queue.publish', 'queue.process']);
        expect(publish!.data).toMatchObject({
          'messaging.system': 'engine-scheduler',
          'messaging.destination.name': 'engine',
          'messaging.message.body.size': 320_000,
        });
        expect(process!.data).toMatchObject({
          'messaging.destination.name': 'engine',
          'messaging.message.id': publish!.data['messaging.message.id'],
          'messaging.message.body.size': 320_000,
          'messaging.message.retry.count': 0,
        });
        expect(String(publish!.data['messaging.message.id'])).toContain(id);
        const latency = process!.data['messaging.message.receive.latency'] as number;
        expect(latency).toBeGreaterThanOrEqual(0);
        // The consumer starts after the hand-off, by about its receive latency.
        expect(process!.startTimestamp).toBeGreaterThanOrEqual(publish!.startTimestamp);
        expect(typeof ai.data['segment.queue_ms']).toBe('number');
        expect(childrenOf(t, process!).map((s) => s.op)).toEqual(['http.client']);
      }
      const ids = cutting.map((t) => childrenOf(t, t.spans.find((s) => s.op === 'ai')!)[1]!.data['messaging.message.id']);
      expect(new Set(ids).size).toBe(18);
    });
  });

  // Before the retried segment: its 429 pauses interims for a few engine round trips (by design, interims yield to a
  // provider that pushes back), and on a loaded host that pause outlasted this session's whole stream in CI.
  it('tells interim work apart: its own ai spans (transcription.kind interim), outside the queue', async () => {
    const id = sessionId('interim', true);
    const c = await client();
    await startSession(c, { session_id: id, language: 'en', interim_results: true, interim_interval_ms: 500 });
    await sendChunks(c, id, chunksOf(loudPcm(3000, 16000, 47), CHUNK_MS));
    await until(() => c.results.some((r) => !r.is_final), 'an interim result');
    expect((await c.call('end_session', { session_id: id })).ok).toBe(true);
    const received = await sink.waitFor((r) => ofSession(r, id).length === 15 + 2, 'the interim session’s transactions');
    const spans = ofSession(received, id).flatMap((t) => t.spans.filter((s) => s.op === 'ai').map((ai) => ({ t, ai })));
    const interims = spans.filter(({ ai }) => ai.data['transcription.kind'] === 'interim');
    const finals = spans.filter(({ ai }) => ai.data['transcription.kind'] === 'final');
    expect(interims.length).toBeGreaterThan(0);
    expect(finals).toHaveLength(1);
    for (const { t, ai } of interims) {
      expect(ai.name).toBe('Interim transcription');
      expect(childrenOf(t, ai).map((s) => s.op)).not.toContain('queue.publish');
      expect(childrenOf(t, ai).map((s) => s.op)).not.toContain('queue.process');
    }
    expect(finals[0]!.ai.name).toBe('Process audio buffer');
    expect(childrenOf(finals[0]!.t, finals[0]!.ai).map((s) => s.op)).toEqual(['cache.get', 'queue.publish', 'queue.process']);
  });

  it('shows a retried segment as two queue.process spans of one message, counting the retry', async () => {
    const id = sessionId('retried', true);
    const c = await client();
    await startSession(c, { session_id: id, language: RETRIED_LANGUAGE });
    await sendChunks(c, id, chunksOf(loudPcm(SEGMENT_MAX_MS, 16000, 43), CHUNK_MS));
    await until(() => c.results.length >= 1, 'the retried segment’s result');
    const received = await sink.waitFor((r) => ofSession(r, id).some((t) => t.spans.some((s) => s.op === 'ai')), 'the segment’s transaction');
    const t = ofSession(received, id).find((x) => x.spans.some((s) => s.op === 'ai'))!;
    const ai = t.spans.find((s) => s.op === 'ai')!;
    const publishes = childrenOf(t, ai).filter((s) => s.op === 'queue.publish');
    const attempts = childrenOf(t, ai).filter((s) => s.op === 'queue.process');
    expect(publishes).toHaveLength(1);
    expect(attempts.map((s) => s.data['messaging.message.retry.count'])).toEqual([0, 1]);
    expect(attempts[0]!.status).not.toBe('ok');
    expect(attempts[1]!.status).toBe('ok');
    expect(attempts[1]!.data['messaging.message.id']).toBe(publishes[0]!.data['messaging.message.id']);
    expect(attempts[1]!.data['messaging.message.receive.latency']).toBeGreaterThanOrEqual(attempts[0]!.data['messaging.message.receive.latency'] as number);
    expect(ai.data['segment.retries']).toBe(1);
    expect(spanCount(traces(ofSession(received, id))[0]!)).toBeLessThanOrEqual(spanBudget({ retries: 1 }).spans);
  });

  it('continues the client’s trace in the session’s first trace, and links the traces after it', async () => {
    // The server's rate decides (the client's sampled flag only counts with SENTRY_TRUST_CLIENT_SAMPLING): a kept id.
    const id = sessionId('client-trace', true);
    const traceId = randomBytes(16).toString('hex');
    const spanId = randomBytes(8).toString('hex');
    const c = await connect(server.url, {
      'sentry-trace': `${traceId}-${spanId}-0`,
      baggage: `sentry-trace_id=${traceId},sentry-public_key=publickey,sentry-sample_rate=1,sentry-sampled=false,sentry-environment=test`,
    });
    clients.push(c);
    await startSession(c, { session_id: id, language: 'en' });
    // Two segments: two chunk traces, then end_session's.
    await sendChunks(c, id, chunksOf(loudPcm(2 * SEGMENT_MAX_MS, 16000, 59), CHUNK_MS));
    await until(() => c.results.length >= 2, 'two results');
    expect((await c.call('end_session', { session_id: id })).ok).toBe(true);
    const received = await sink.waitFor((r) => ofSession(r, id).length === 100 + 2, 'the client-traced session’s transactions');
    const byTrace = traces(ofSession(received, id));
    expect(byTrace).toHaveLength(3);
    // The first trace is the client's: its span parents the session's first transaction, which parents the rest.
    const start = byTrace[0]!.find((t) => t.name === 'start_session_handler')!;
    expect(start.parentSpanId).toBe(spanId);
    expect(byTrace[0]!.every((t) => t.traceId === traceId && t.parentSpanId === (t === start ? spanId : start.spanId))).toBe(true);
    expect(rootOf(byTrace[1]!).raw.contexts.trace.links).toEqual([
      { trace_id: traceId, span_id: start.spanId, sampled: true, attributes: { 'sentry.link.type': 'previous_trace' } },
    ]);
    expect(rootOf(byTrace[2]!).raw.contexts.trace.links[0].trace_id).toBe(byTrace[1]![0]!.traceId);
  });

  it('reports an unsampled session’s engine error as an error event with its context, and sends no transaction of it', async () => {
    const id = sessionId('unsampled', false);
    const c = await client();
    await startSession(c, { session_id: id, language: FAILING_LANGUAGE });
    // Two segments' worth: traces would have rotated, had the session been sampled.
    await sendChunks(c, id, chunksOf(loudPcm(2 * SEGMENT_MAX_MS, 16000, 53), CHUNK_MS));
    await until(() => c.errors.length > 0, 'transcription_error');
    expect(c.errors[0]!.code).toBe('ENGINE_ERROR');
    await sink.waitFor((r) => r.errors.some((e) => e.contexts?.session?.id === id), 'the engine error event');
    const received = await settle();
    const errors = received.errors.filter((e) => e.contexts?.session?.id === id);
    expect(errors[0]!.exception.values[0].type).toBe('EngineError');
    expect(errors[0]!.contexts.session).toMatchObject({ id, event: 'audio_chunk', namespace: '/transcription' });
    expect(errors[0]!.tags).toMatchObject({ 'error.code': 'ENGINE_ERROR', language: FAILING_LANGUAGE });
    expect(ofSession(received, id)).toEqual([]);
    expect(received.transactions.some((t) => errors.some((e) => e.contexts.trace.trace_id === t.traceId))).toBe(false);
  });
});

describe('a burst of sampled events (SENTRY_TRACES_SAMPLE_RATE=1)', () => {
  const SESSIONS = 20;
  const CHUNKS = 30;
  /** Every event of every session is sampled. */
  const SAMPLED = SESSIONS * (CHUNKS + 2);
  let stub: OpenAIStub;
  beforeAll(async () => {
    stub = await startOpenAIStub();
  });
  afterAll(async () => {
    await stub?.close();
  });

  /** SESSIONS sessions at once, each start, CHUNKS silent chunks as fast as acks come, end; then the server stops. */
  async function burst(env: Record<string, string>) {
    // A slow ingest (100 ms per envelope): at the burst's rate far more envelopes are in flight than the SDK's default 64.
    const sink = await startSentrySink({ delayMs: 100 });
    const server = await spawnServer({
      SENTRY_DSN: sink.dsn,
      SENTRY_TRACES_SAMPLE_RATE: '1',
      SENTRY_PROFILES_SAMPLE_RATE: '0',
      TRANSCRIBER: 'openai',
      OPENAI_API_KEY: 'sk-test-burst',
      OPENAI_BASE_URL: stub.url,
      ...env,
    });
    try {
      const clients = await Promise.all(Array.from({ length: SESSIONS }, () => connect(server.url)));
      await Promise.all(
        clients.map(async (c) => {
          const id = await startSession(c, {});
          await sendChunks(c, id, chunksOf(silentPcm(CHUNKS * 100), 100));
          expect((await c.call('end_session', { session_id: id })).ok).toBe(true);
          c.close();
        }),
      );
      // Let the transport drain (every sampled transaction in, or none more for 1.5 s), then stop: the shutdown flush
      // sends the client report of what was dropped.
      let last = -1;
      let quietSince = Date.now();
      for (;;) {
        const count = (await sink.received()).transactions.length;
        if (count >= SAMPLED) break;
        if (count !== last) {
          last = count;
          quietSince = Date.now();
        } else if (Date.now() - quietSince >= 1500) break;
        await new Promise((r) => setTimeout(r, 300));
      }
      await server.stop();
      return { received: await sink.received(), stdout: server.stdout };
    } finally {
      await server.stop();
      await sink.close();
    }
  }

  const websocket = (received: Received) => received.transactions.filter((t) => t.op === 'websocket');
  const overflow = (received: Received) =>
    received.discarded.filter((d) => d.reason === 'queue_overflow' && d.category === 'transaction').reduce((sum, d) => sum + d.quantity, 0);
  const loggedDrops = (stdout: string[]) =>
    stdout
      .filter((line) => line.includes('Sentry dropped'))
      .reduce((sum, line) => sum + ((JSON.parse(line) as { sentry_dropped: Record<string, number> }).sentry_dropped['queue_overflow:transaction'] ?? 0), 0);

  it('delivers every sampled transaction with the sized transport (no drop reported)', async () => {
    const { received, stdout } = await burst({});
    expect(websocket(received)).toHaveLength(SAMPLED);
    expect(overflow(received)).toBe(0);
    expect(loggedDrops(stdout)).toBe(0);
  }, 120_000);

  it('counts and reports every transaction an undersized transport drops: received + dropped = sampled', async () => {
    const { received, stdout } = await burst({ SENTRY_TRANSPORT_BUFFER_SIZE: '8', SENTRY_TRANSPORT_CONCURRENCY: '2' });
    const dropped = overflow(received);
    expect(dropped).toBeGreaterThan(0);
    expect(websocket(received).length + dropped).toBe(SAMPLED);
    // The same count in the server's log, as warnings naming the setting to raise.
    expect(loggedDrops(stdout)).toBe(dropped);
    expect(stdout.find((line) => line.includes('Sentry dropped'))).toContain('SENTRY_TRANSPORT_BUFFER_SIZE');
  }, 120_000);
});
