// Streams audio through the built server (Sentry on, every session sampled, Whisper = a local OpenAI stub) and
// checks what a local envelope sink receives: transactions, span tree, data, tags, traces, failures, privacy.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { chunksOf, loudPcm } from '../support/audio.js';
import { connect, until, type TestClient } from '../support/harness.js';
import { findAudio, findSecret } from '../support/leaks.js';
import { startOpenAIStub, type OpenAIStub } from '../support/openai-stub.js';
import { sendChunks, startSession } from '../support/pipeline.js';
import { childrenOf, startSentrySink, type Received, type SentrySink, type TransactionRecord } from '../support/sentry-sink.js';
import { spawnServer, type SpawnedServer } from '../support/spawn-server.js';

const API_KEY = 'sk-test-telemetry-4f1c9e2a7b-DO-NOT-LEAK';
/** The stub fails every upload of a session in this language, to make an engine error. */
const FAILING_LANGUAGE = 'fr';
/** The stub answers this language's first upload slowly, so a second segment is cut while it runs. */
const SLOW_LANGUAGE = 'es';
/** Redis: its commands carry the audio, so this is where a leak would be. */
const KEY_PREFIX = `telemetry-test:${randomUUID()}:`;

let sink: SentrySink;
let stub: OpenAIStub;
let server: SpawnedServer;
const clients: TestClient[] = [];
/** Every chunk streamed in this file, for the audio-leak search. */
const streamed: Buffer[] = [];
let slowAnswered = false;

beforeAll(async () => {
  [sink, stub] = await Promise.all([
    startSentrySink(),
    startOpenAIStub({
      respond: (upload) => {
        if (upload.language === FAILING_LANGUAGE) return { status: 500, text: 'stub outage' };
        if (upload.language === SLOW_LANGUAGE && !slowAnswered) {
          slowAnswered = true;
          return { delayMs: 600 };
        }
        return {};
      },
    }),
  ]);
  server = await spawnServer({
    SENTRY_DSN: sink.dsn,
    SENTRY_ENVIRONMENT: 'test',
    SENTRY_TRACES_SAMPLE_RATE: '1',
    SENTRY_PROFILES_SAMPLE_RATE: '1',
    TRANSCRIBER: 'openai',
    OPENAI_API_KEY: API_KEY,
    OPENAI_BASE_URL: stub.url,
    ENGINE_MAX_RETRIES: '0',
    REDIS_URL: inject('redisUrl'),
    REDIS_KEY_PREFIX: KEY_PREFIX,
    // A segment every second of audio: the 10th 100 ms chunk completes one.
    SEGMENT_MAX_MS: '1000',
    SEGMENT_MIN_MS: '500',
  });
});

afterAll(async () => {
  for (const client of clients) client.close();
  await server?.stop();
  await Promise.all([sink?.close(), stub?.close()]);
});

async function client(auth: Record<string, string> = {}): Promise<TestClient> {
  const c = await connect(server.url, auth);
  clients.push(c);
  return c;
}

function ofSession(received: Received, sessionId: string): TransactionRecord[] {
  return received.transactions.filter((t) => t.data['session.id'] === sessionId);
}

/** start_session, `chunks` chunks of 100 ms (one segment per 10), end_session; waits for every transaction. */
async function streamSession(options: { language: string; chunks: number; seed: number }) {
  const c = await client();
  const sessionId = await startSession(c, { language: options.language });
  const chunks = chunksOf(loudPcm(options.chunks * 100, 16000, options.seed), 100);
  streamed.push(...chunks);
  const acks = await sendChunks(c, sessionId, chunks);
  expect(acks.every((ack) => ack.ok)).toBe(true);
  const segments = Math.floor(options.chunks / 10);
  await until(() => c.results.length + c.errors.length >= segments, 'segment results');
  const end = await c.call('end_session', { session_id: sessionId });
  const received = await sink.waitFor((r) => ofSession(r, sessionId).length === options.chunks + 2, `the ${options.chunks + 2} transactions of ${sessionId}`);
  return { sessionId, end, c, transactions: ofSession(received, sessionId), received };
}

describe('Sentry transactions of a streamed session', () => {
  let session: Awaited<ReturnType<typeof streamSession>>;
  beforeAll(async () => {
    session = await streamSession({ language: 'en', chunks: 12, seed: 7 });
  });

  it('records every event as a websocket transaction with its handler name', () => {
    const names = session.transactions.map((t) => t.name).sort();
    expect(names).toEqual(['audio_chunk_handler', ...Array(11).fill('audio_chunk_handler'), 'end_session_handler', 'start_session_handler'].sort());
    expect(session.transactions.every((t) => t.op === 'websocket')).toBe(true);
    expect(session.transactions.every((t) => t.status === 'ok')).toBe(true);
  });

  it('puts each segment in a trace of its own: the chunks up to its cut under the trace’s first transaction', () => {
    const start = session.transactions.find((t) => t.name === 'start_session_handler')!;
    const bySeq = new Map(session.transactions.filter((t) => t.name === 'audio_chunk_handler').map((t) => [t.data['chunk.seq'], t]));
    const end = session.transactions.find((t) => t.name === 'end_session_handler')!;
    // Chunk 9 cuts the first segment: start and chunks 0–9 are the first trace; chunk 10 opens the second.
    const first = [start, ...[0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((seq) => bySeq.get(seq)!)];
    const secondRoot = bySeq.get(10)!;
    const second = [secondRoot, bySeq.get(11)!, end];
    for (const t of first) expect(t.traceId).toBe(start.traceId);
    for (const t of first.slice(1)) expect(t.parentSpanId).toBe(start.spanId);
    for (const t of second) expect(t.traceId).toBe(secondRoot.traceId);
    for (const t of second.slice(1)) expect(t.parentSpanId).toBe(secondRoot.spanId);
    expect(secondRoot.traceId).not.toBe(start.traceId);
    expect(secondRoot.parentSpanId).toBeUndefined();
    expect(secondRoot.raw.contexts.trace.links).toEqual([
      { trace_id: start.traceId, span_id: start.spanId, sampled: true, attributes: { 'sentry.link.type': 'previous_trace' } },
    ]);
    expect(start.raw.contexts.trace.links).toBeUndefined();
    expect(first.map((t) => t.data['session.trace_index'])).toEqual(Array(11).fill(0));
    expect(second.map((t) => t.data['session.trace_index'])).toEqual([1, 1, 1]);
  });

  it('nests validate, buffer and (for the chunk that completes a segment) ai → cache.get, queue.publish, queue.process → http.client', () => {
    const chunkTransactions = session.transactions.filter((t) => t.name === 'audio_chunk_handler');
    const withAi = chunkTransactions.filter((t) => t.spans.some((s) => s.op === 'ai'));
    expect(withAi).toHaveLength(1);
    const segmentChunk = withAi[0]!;
    expect(segmentChunk.data['chunk.seq']).toBe(9);

    const top = childrenOf(segmentChunk).map((s) => `${s.op}:${s.name}`);
    expect(top).toEqual(['process:Validate audio chunk', 'cache.set:Buffer audio chunk', 'ai:Process audio buffer']);
    const ai = segmentChunk.spans.find((s) => s.op === 'ai')!;
    const underAi = childrenOf(segmentChunk, ai);
    expect(underAi.map((s) => `${s.op}:${s.name}`)).toEqual([
      'cache.get:Read segment audio',
      'queue.publish:Queue segment for engine',
      'queue.process:Process segment from engine',
    ]);
    const underProcess = childrenOf(segmentChunk, underAi[2]!);
    expect(underProcess.map((s) => s.op)).toEqual(['http.client']);
    const request = underProcess[0]!;
    expect(request.name).toMatch(/^POST http:\/\/127\.0\.0\.1:\d+\/v1\/audio\/transcriptions$/);
    expect(request.data['http.response.status_code']).toBe(200);

    // Every other chunk: validate and buffer only.
    for (const t of chunkTransactions.filter((x) => x !== segmentChunk)) {
      expect(childrenOf(t).map((s) => s.op)).toEqual(['process', 'cache.set']);
    }
  });

  it('carries the useful data on spans, and only low-cardinality values as tags', () => {
    const segmentChunk = session.transactions.find((t) => t.spans.some((s) => s.op === 'ai'))!;
    expect(segmentChunk.data).toMatchObject({ 'session.id': session.sessionId, 'chunk.seq': 9, 'chunk.bytes': 3200, 'session.buffered_ms': 1000 });
    const buffer = segmentChunk.spans.find((s) => s.op === 'cache.set')!;
    expect(buffer.data).toMatchObject({ 'cache.key': `${KEY_PREFIX}{${session.sessionId}}:audio`, 'cache.item_size': 3200, 'db.system': 'redis' });
    const validate = segmentChunk.spans.find((s) => s.op === 'process')!;
    expect(validate.data['chunk.bytes']).toBe(3200);
    const ai = segmentChunk.spans.find((s) => s.op === 'ai')!;
    expect(ai.data).toMatchObject({
      'session.id': session.sessionId,
      'segment.start_ms': 0,
      'segment.audio_ms': 1000,
      'segment.index': 0,
      'engine.name': 'openai',
      'engine.model': 'whisper-1',
      'engine.language': 'en',
      'result.text_length': 'segment 0'.length,
    });

    expect(segmentChunk.tags).toMatchObject({ event: 'audio_chunk', namespace: '/transcription', engine: 'openai', model: 'whisper-1', language: 'en' });
    // What one event learnt (the language) is tagged on the session's later events too.
    const later = session.transactions.find((t) => t.name === 'end_session_handler')!;
    expect(later.tags).toMatchObject({ event: 'end_session', language: 'en' });
    const tagValues = session.transactions.flatMap((t) => Object.values(t.tags));
    expect(tagValues).not.toContain(session.sessionId);

    const end = session.transactions.find((t) => t.name === 'end_session_handler')!;
    // The 200 ms tail was cut at end_session and transcribed in its transaction: a second segment.
    expect(end.data).toMatchObject({ 'session.segments': 2, 'session.duration_ms': 1200 });
    expect(end.spans.filter((s) => s.op === 'ai')).toHaveLength(1);
  });

  it('sends no trace headers to the transcription provider', () => {
    const uploads = stub.requests.filter((r) => r.path === '/v1/audio/transcriptions');
    expect(uploads.length).toBeGreaterThan(0);
    for (const request of uploads) {
      expect(Object.keys(request.headers)).not.toEqual(expect.arrayContaining(['sentry-trace']));
      expect(request.headers['sentry-trace']).toBeUndefined();
      expect(request.headers.baggage).toBeUndefined();
      expect(request.headers.traceparent).toBeUndefined();
    }
  });

  it('sends a profile while sampled transactions run', async () => {
    const received = await sink.waitFor((r) => r.profiles.length > 0, 'a profile item');
    const chunk = received.profiles[0]!;
    expect(['profile', 'profile_chunk']).toContain(chunk.type);
    expect(chunk.payload.profile.samples.length).toBeGreaterThan(0);
    expect(chunk.payload.release).toBe('transcription-server@0.1.0');
  });
});

describe('Sentry spans of segments queued behind a slow one', () => {
  it('puts each segment’s ai span in the transaction of the chunk that cut it', async () => {
    // Chunk 10 cuts segment 0, whose upload takes 600 ms; chunk 20 cuts segment 1 meanwhile. Segment 1 is then
    // transcribed by the queue that chunk 10's event started, yet belongs to chunk 20's transaction.
    const s = await streamSession({ language: SLOW_LANGUAGE, chunks: 20, seed: 31 });
    const bySeq = new Map(s.transactions.filter((t) => t.name === 'audio_chunk_handler').map((t) => [t.data['chunk.seq'], t]));
    for (const [seq, segment] of [
      [9, 0],
      [19, 1],
    ] as const) {
      const t = bySeq.get(seq)!;
      const ai = childrenOf(t).filter((span) => span.op === 'ai');
      expect(ai).toHaveLength(1);
      expect(ai[0]!.data['segment.index']).toBe(segment);
      expect(childrenOf(t, ai[0]!).map((span) => span.op)).toEqual(['cache.get', 'queue.publish', 'queue.process']);
      expect(childrenOf(t, childrenOf(t, ai[0]!)[2]!).map((span) => span.op)).toEqual(['http.client']);
    }
    const first = childrenOf(bySeq.get(9)!).find((span) => span.op === 'ai')!;
    const second = childrenOf(bySeq.get(19)!).find((span) => span.op === 'ai')!;
    // Segment 1 really was cut while segment 0 was still being transcribed.
    expect(bySeq.get(19)!.startTimestamp).toBeLessThan(first.startTimestamp + 0.6);
    expect(second.startTimestamp).toBeGreaterThanOrEqual(first.startTimestamp + 0.5);
  });
});

describe('Sentry failures and refusals', () => {
  it('marks a refused chunk with a non-ok status and its code, without capturing an exception', async () => {
    const c = await client();
    const sessionId = await startSession(c, {});
    const gap = await c.call('audio_chunk', { session_id: sessionId, seq: 5, chunk: loudPcm(100) });
    expect(gap.error.code).toBe('SEQ_GAP');
    const text = await c.call('audio_chunk', { session_id: sessionId, seq: 0, chunk: 'not audio' });
    expect(text.error.code).toBe('INVALID_PAYLOAD');

    const received = await sink.waitFor((r) => ofSession(r, sessionId).length === 3, 'the start, gap and invalid-chunk transactions');
    const chunks = ofSession(received, sessionId).filter((t) => t.name === 'audio_chunk_handler');
    const refusedGap = chunks.find((t) => t.data['error.code'] === 'SEQ_GAP')!;
    expect(refusedGap.status).toBe('failed_precondition');
    expect(refusedGap.tags['error.code']).toBe('SEQ_GAP');
    expect(childrenOf(refusedGap).map((s) => [s.op, s.status])).toEqual([
      ['process', 'ok'],
      ['cache.set', 'ok'],
    ]);

    const invalidChunk = chunks.find((t) => t.data['error.code'] === 'INVALID_PAYLOAD')!;
    expect(invalidChunk.status).toBe('invalid_argument');
    // Validation refused it: its span says so, and nothing was buffered.
    expect(childrenOf(invalidChunk).map((s) => [s.op, s.status])).toEqual([['process', 'invalid_argument']]);

    const now = await sink.received();
    expect(now.errors.filter((e) => e.contexts?.session?.id === sessionId)).toEqual([]);
  });

  it('captures an engine failure with the session context and fails the transaction', async () => {
    const c = await client();
    const sessionId = await startSession(c, { language: FAILING_LANGUAGE });
    const chunks = chunksOf(loudPcm(1000, 16000, 11), 100);
    streamed.push(...chunks);
    await sendChunks(c, sessionId, chunks);
    await until(() => c.errors.length > 0, 'transcription_error');
    expect(c.errors[0]!.code).toBe('ENGINE_ERROR');

    const received = await sink.waitFor(
      (r) => r.errors.some((e) => e.contexts?.session?.id === sessionId) && ofSession(r, sessionId).length === 11,
      'the captured engine error',
    );
    const error = received.errors.find((e) => e.contexts?.session?.id === sessionId)!;
    expect(error.exception.values[0].type).toBe('EngineError');
    expect(error.exception.values[0].value).toMatch(/OpenAI server error \(500\)/);
    expect(error.contexts.session).toMatchObject({ id: sessionId, event: 'audio_chunk', namespace: '/transcription' });
    expect(error.tags).toMatchObject({ 'error.code': 'ENGINE_ERROR', engine: 'openai', language: FAILING_LANGUAGE, event: 'audio_chunk' });

    const failed = ofSession(received, sessionId).find((t) => t.spans.some((s) => s.op === 'ai'))!;
    expect(error.contexts.trace.trace_id).toBe(failed.traceId);
    expect(failed.status).toBe('internal_error');
    expect(failed.data['error.code']).toBe('ENGINE_ERROR');
    const ai = failed.spans.find((s) => s.op === 'ai')!;
    expect(ai.status).toBe('internal_error');
    const process = childrenOf(failed, ai).find((s) => s.op === 'queue.process')!;
    expect(process.status).toBe('internal_error');
    expect(childrenOf(failed, process).find((s) => s.op === 'http.client')?.data['http.response.status_code']).toBe(500);
    // Exactly one exception for the one failure.
    expect(received.errors.filter((e) => e.contexts?.session?.id === sessionId)).toHaveLength(1);
  });
});

describe('Sentry isolation of concurrent sessions', () => {
  it('never shows one session’s tags or data on another’s transactions', async () => {
    const [a, b] = await Promise.all([
      streamSession({ language: 'en', chunks: 15, seed: 21 }),
      streamSession({ language: 'de', chunks: 15, seed: 22 }),
    ]);
    for (const [s, language] of [
      [a, 'en'],
      [b, 'de'],
    ] as const) {
      for (const t of s.transactions) {
        expect(t.data['session.id']).toBe(s.sessionId);
        if (t.tags.language !== undefined) expect(t.tags.language).toBe(language);
        for (const span of t.spans) if (span.data['session.id'] !== undefined) expect(span.data['session.id']).toBe(s.sessionId);
      }
      // Chunks after the first segment carry the language learnt from it.
      expect(s.transactions.filter((t) => t.tags.language === language).length).toBeGreaterThanOrEqual(6);
    }
    expect(a.transactions[0]!.traceId).not.toBe(b.transactions[0]!.traceId);
  });
});

describe('Sentry privacy', () => {
  it('sends no streamed audio bytes and not the API key, in any envelope', async () => {
    const received = await sink.received();
    expect(received.bodies.length).toBeGreaterThan(10);
    expect(streamed.length).toBeGreaterThan(30);
    expect(findAudio(received.bodies, streamed)).toBeUndefined();
    expect(findSecret(received.bodies, API_KEY)).toBe(false);
    expect(findSecret(received.bodies, 'Bearer ')).toBe(false);
    // The check can fail: the same search finds the audio where it is (what the stub received).
    expect(findAudio([stub.uploads[0]!.pcm], streamed)).toBeDefined();
  });
});
