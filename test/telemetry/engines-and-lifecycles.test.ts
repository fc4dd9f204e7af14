// The span tree with the offline engine (its own child span under 'ai'), and the same tree sent as v2 span
// items when SENTRY_TRACE_LIFECYCLE=stream.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeWavToPcm16 } from '../../src/engines/wav.js';
import { chunksOf, loudPcm } from '../support/audio.js';
import { connect, until, type TestClient } from '../support/harness.js';
import { startOpenAIStub, type OpenAIStub } from '../support/openai-stub.js';
import { sendChunks, startSession } from '../support/pipeline.js';
import { childrenOf, startSentrySink, type SentrySink } from '../support/sentry-sink.js';
import { spawnServer, type SpawnedServer } from '../support/spawn-server.js';

const hello = decodeWavToPcm16(readFileSync(new URL('../fixtures/hello.wav', import.meta.url)), 16000).pcm;

let server: SpawnedServer | undefined;
let sink: SentrySink | undefined;
let stub: OpenAIStub | undefined;
let client: TestClient | undefined;
afterEach(async () => {
  client?.close();
  await server?.stop();
  await Promise.all([sink?.close(), stub?.close()]);
  server = sink = stub = client = undefined;
});

/** Streams `pcm` in 100 ms chunks and waits for `segments` results; returns the session id. */
async function stream(pcm: Buffer, segments: number, language = 'en'): Promise<string> {
  client = await connect(server!.url);
  const id = await startSession(client, { language });
  await sendChunks(client, id, chunksOf(pcm, 100));
  await until(() => client!.results.length >= segments, `${segments} results`);
  return id;
}

describe('offline engine spans', () => {
  it('shows the pocketsphinx run as the queue.process span’s own child under ai, with no HTTP request', async () => {
    sink = await startSentrySink();
    server = await spawnServer({ SENTRY_DSN: sink.dsn, SENTRY_TRACES_SAMPLE_RATE: '1', SENTRY_PROFILES_SAMPLE_RATE: '0', TRANSCRIBER: 'pocketsphinx', SEGMENT_MAX_MS: '2000' });
    const id = await stream(hello.subarray(0, 32000 * 2), 1);
    expect(client!.results[0]!.text).toMatch(/hello/);

    const received = await sink.waitFor((r) => r.transactions.some((t) => t.data['session.id'] === id && t.spans.some((s) => s.op === 'ai')), 'the segment');
    const segmentChunk = received.transactions.find((t) => t.data['session.id'] === id && t.spans.some((s) => s.op === 'ai'))!;
    const ai = segmentChunk.spans.find((s) => s.op === 'ai')!;
    expect(ai.data).toMatchObject({ 'engine.name': 'pocketsphinx', 'engine.model': 'en-us', 'segment.audio_ms': 2000 });
    const underAi = childrenOf(segmentChunk, ai);
    expect(underAi.map((s) => `${s.op}:${s.name}`)).toEqual([
      'cache.get:Read segment audio',
      'queue.publish:Queue segment for engine',
      'queue.process:Process segment from engine',
    ]);
    expect(childrenOf(segmentChunk, underAi[2]!).map((s) => `${s.op}:${s.name}`)).toEqual(['ai.run:Transcribe with pocketsphinx']);
    expect(segmentChunk.spans.some((s) => s.op === 'http.client')).toBe(false);
    expect(segmentChunk.tags).toMatchObject({ engine: 'pocketsphinx', model: 'en-us', language: 'en' });
  });
});

describe('SENTRY_TRACE_LIFECYCLE=stream', () => {
  it('sends the same session as v2 span items: one trace per segment with its link, the same tree, tag values as attributes', async () => {
    [sink, stub] = await Promise.all([startSentrySink(), startOpenAIStub()]);
    server = await spawnServer({
      SENTRY_DSN: sink.dsn,
      SENTRY_TRACE_LIFECYCLE: 'stream',
      SENTRY_TRACES_SAMPLE_RATE: '1',
      SENTRY_PROFILES_SAMPLE_RATE: '0',
      TRANSCRIBER: 'openai',
      OPENAI_API_KEY: 'sk-test-stream',
      OPENAI_BASE_URL: stub.url,
      SEGMENT_MAX_MS: '1000',
      SEGMENT_MIN_MS: '500',
    });
    const id = await stream(loudPcm(1000, 16000, 5), 1, 'de');
    expect((await client!.call('end_session', { session_id: id })).ok).toBe(true);
    // Span buffers are flushed every few seconds, and at shutdown.
    await server.stop();

    const received = await sink.received();
    expect(received.envelopes.some((e) => e.items.some((item) => item.header.type === 'span'))).toBe(true);
    expect(received.envelopes.some((e) => e.items.some((item) => item.header.type === 'transaction'))).toBe(false);
    const session = received.transactions.filter((t) => t.data['session.id'] === id);
    expect(session.map((t) => t.name).filter((n) => n !== 'audio_chunk_handler')).toEqual(
      expect.arrayContaining(['start_session_handler', 'end_session_handler']),
    );
    expect(session).toHaveLength(12);
    // The chunk that cut the only segment closes the first trace: end_session opens the second, linked to the first.
    expect(new Set(session.map((t) => t.traceId)).size).toBe(2);
    const start = session.find((t) => t.name === 'start_session_handler')!;
    const end = session.find((t) => t.name === 'end_session_handler')!;
    expect(end.traceId).not.toBe(start.traceId);
    expect(end.raw.links).toHaveLength(1);
    expect(end.raw.links[0]).toMatchObject({ trace_id: start.traceId, span_id: start.spanId, sampled: true });
    const linkType = end.raw.links[0].attributes['sentry.link.type'];
    expect(linkType?.value ?? linkType).toBe('previous_trace');
    expect(session.every((t) => t.op === 'websocket')).toBe(true);

    const segmentChunk = session.find((t) => t.spans.some((s) => s.op === 'ai'))!;
    expect(childrenOf(segmentChunk).map((s) => s.op)).toEqual(['process', 'cache.set', 'ai']);
    const ai = childrenOf(segmentChunk)[2]!;
    const underAi = childrenOf(segmentChunk, ai);
    expect(underAi.map((s) => s.op)).toEqual(['cache.get', 'queue.publish', 'queue.process']);
    expect(childrenOf(segmentChunk, underAi[2]!).map((s) => s.op)).toEqual(['http.client']);
    expect(ai.data).toMatchObject({ 'engine.language': 'de', 'segment.index': 0 });
    expect(segmentChunk.data).toMatchObject({ event: 'audio_chunk', namespace: '/transcription', engine: 'openai', language: 'de' });
  });
});
