// The /transcription protocol end to end: real server, real store, real Socket.IO client, and the openai
// engine talking to a local OpenAI-compatible server that checks every WAV upload.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createOpenAIEngine } from '../../src/engines/openai.js';
import { chunksOf, loudPcm, silentPcm } from '../support/audio.js';
import { connect, createStore, STORE_KINDS, startServer, type TestClient, type TestServer } from '../support/harness.js';
import { startOpenAIStub } from '../support/openai-stub.js';
import { sendChunks, startSession, streamWhole } from '../support/pipeline.js';

type Stub = Awaited<ReturnType<typeof startOpenAIStub>>;

function engineFor(stub: Stub, maxRetries = 0) {
  return createOpenAIEngine({ apiKey: 'sk-test-secret', baseUrl: stub.url, model: 'whisper-1', maxRetries, timeoutMs: 10_000 });
}

const uploadedPcm = (stub: Stub) => Buffer.concat(stub.uploads.map((u) => u.pcm));

describe.each(STORE_KINDS)('streaming with the %s store', (storeKind) => {
  let stub: Stub;
  let server: TestServer;
  let client: TestClient;

  beforeEach(async () => {
    stub = await startOpenAIStub();
    server = await startServer({ store: storeKind, engine: engineFor(stub) });
    client = await connect(server.url);
  });
  afterEach(async () => {
    client.close();
    await server.close();
    await stub.close();
  });

  it('starts a new session with defaults', async () => {
    const ack = await client.call('start_session', {});
    expect(ack).toMatchObject({ ok: true, resumed: false, next_seq: 0, sample_rate: 16000 });
    expect(ack.session_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('cuts continuous speech at SEGMENT_MAX_MS, uploads exactly the streamed PCM in order, and emits ordered results', async () => {
    const audio = loudPcm(20_000, 16000, 7);
    const { sessionId, acks, end } = await streamWhole(client, audio, { language: 'en' });

    expect(acks.map((a) => a.seq)).toEqual(acks.map((_, i) => i));
    expect(uploadedPcm(stub).equals(audio)).toBe(true);
    expect(stub.uploads.map((u) => u.sampleRate)).toEqual([16000, 16000, 16000]);
    expect(stub.uploads.every((u) => u.language === 'en' && u.model === 'whisper-1')).toBe(true);
    // The previous segment's text is the prompt when the session set none.
    expect(stub.uploads.map((u) => u.prompt)).toEqual([undefined, 'segment 0', 'segment 1']);

    expect(client.results.map((r) => [r.segment, r.text, r.start_ms, r.end_ms, r.is_final])).toEqual([
      [0, 'segment 0', 0, 8000, true],
      [1, 'segment 1', 8000, 16000, true],
      [2, 'segment 2', 16000, 20000, true],
    ]);
    expect(client.results.every((r) => r.session_id === sessionId && r.latency_ms >= 0)).toBe(true);
    expect(end).toEqual({ ok: true, session_id: sessionId, text: 'segment 0 segment 1 segment 2', segments: 3, duration_ms: 20000 });
  });

  it('acks before transcription: buffered_ms grows, and drops after a segment is transcribed', async () => {
    const sessionId = await startSession(client);
    const acks = await sendChunks(client, sessionId, chunksOf(loudPcm(1000), 100));
    expect(acks.map((a) => a.buffered_ms)).toEqual([100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);
  });

  it('cuts at pauses and never sends a segment without speech to the engine', async () => {
    const audio = Buffer.concat([loudPcm(1500, 16000, 1), silentPcm(1500), loudPcm(1500, 16000, 2), silentPcm(3000)]);
    const { end } = await streamWhole(client, audio);
    // Segments: speech + 600 ms of pause | 900 ms of pause + speech + 600 ms of pause | 2400 ms of silence (never uploaded).
    expect(stub.uploads).toHaveLength(2);
    expect(uploadedPcm(stub).equals(audio.subarray(0, audio.length - 2400 * 32))).toBe(true);
    expect(client.results.map((r) => [r.segment, r.start_ms, r.end_ms])).toEqual([
      [0, 0, 2100],
      [1, 2100, 5100],
    ]);
    expect(end).toMatchObject({ ok: true, segments: 2, duration_ms: 7500 });
  });

  it('a silent session makes no engine call and no result', async () => {
    const { end } = await streamWhole(client, silentPcm(5000));
    expect(stub.uploads).toHaveLength(0);
    expect(client.results).toHaveLength(0);
    expect(end).toMatchObject({ ok: true, text: '', segments: 0, duration_ms: 5000 });
  });

  it('acks a retransmission as duplicate without buffering it, refuses a gap, and appends a chunk without seq as the next', async () => {
    const sessionId = await startSession(client);
    const chunks = chunksOf(loudPcm(600, 16000, 3), 100);
    await sendChunks(client, sessionId, chunks.slice(0, 3));
    expect(await client.call('audio_chunk', { session_id: sessionId, seq: 1, chunk: chunks[1] })).toEqual({ ok: true, seq: 1, buffered_ms: 300, duplicate: true });
    const gap = await client.call('audio_chunk', { session_id: sessionId, seq: 5, chunk: chunks[5] });
    expect(gap).toMatchObject({ ok: false, error: { code: 'SEQ_GAP', expected_seq: 3, retryable: false } });
    expect(await client.call('audio_chunk', { session_id: sessionId, chunk: chunks[3] })).toEqual({ ok: true, seq: 3, buffered_ms: 400 });
    await sendChunks(client, sessionId, chunks.slice(4), 4);
    await client.call('end_session', { session_id: sessionId });
    expect(uploadedPcm(stub).equals(Buffer.concat(chunks))).toBe(true);
  });

  it('resumes after a disconnect: resending from next_seq (some chunks twice) leaves no gap and no duplicate', async () => {
    const audio = loudPcm(12_000, 16000, 11);
    const chunks = chunksOf(audio, 100);
    const opened = await client.call('start_session', { language: 'en' });
    const sessionId = opened.session_id as string;
    await sendChunks(client, sessionId, chunks.slice(0, 50));
    client.close();

    client = await connect(server.url);
    // Another connection resumes with the session's resume_token (its first ack's).
    const resumed = await client.call('start_session', { session_id: sessionId, resume_token: opened.resume_token, language: 'en' });
    expect(resumed).toMatchObject({ ok: true, session_id: sessionId, resumed: true, next_seq: 50 });
    const acks = await sendChunks(client, sessionId, chunks.slice(45), 45);
    expect(acks.slice(0, 5).every((a) => a.ok && a.duplicate)).toBe(true);
    expect(acks.slice(5).every((a) => a.ok && !a.duplicate)).toBe(true);
    const end = await client.call('end_session', { session_id: sessionId });

    expect(uploadedPcm(stub).equals(audio)).toBe(true);
    expect(end).toMatchObject({ ok: true, text: 'segment 0 segment 1', segments: 2, duration_ms: 12000 });
    // The resumed client got every segment (segment 0 was cut before the disconnect and replayed after it).
    const bySegment = new Map(client.results.map((r) => [r.segment, r]));
    expect([...bySegment.keys()].sort()).toEqual([0, 1]);
  });

  it('a repeated end_session gets the same answer; chunks after it are refused', async () => {
    const { sessionId, end } = await streamWhole(client, loudPcm(2000));
    expect(await client.call('end_session', { session_id: sessionId })).toEqual(end);
    const late = await client.call('audio_chunk', { session_id: sessionId, seq: 20, chunk: loudPcm(100) });
    expect(late).toMatchObject({ ok: false, error: { code: 'SESSION_ENDED' } });
    const restart = await client.call('start_session', { session_id: sessionId });
    expect(restart).toMatchObject({ ok: false, error: { code: 'SESSION_ENDED' } });
  });

  it('serves concurrent sessions independently', async () => {
    const clients = await Promise.all([1, 2, 3].map(() => connect(server.url)));
    try {
      const audios = [21, 22, 23].map((seed) => loudPcm(3000, 16000, seed));
      const ends = await Promise.all(clients.map((c, i) => streamWhole(c, audios[i]!)));
      for (const { end } of ends) expect(end).toMatchObject({ ok: true, segments: 1, duration_ms: 3000 });
      const uploads = stub.uploads.map((u) => u.pcm);
      for (const audio of audios) expect(uploads.some((pcm) => pcm.equals(audio))).toBe(true);
    } finally {
      for (const c of clients) c.close();
    }
  });
});

describe('engine failures', () => {
  it('a failed segment is reported as ENGINE_ERROR, its audio kept and transcribed at end_session', async () => {
    let failures = 2;
    const stub = await startOpenAIStub({ respond: () => (failures-- > 0 ? { status: 503 } : {}) });
    // The engine scheduler retries a 503 by itself: with no retries the failure reaches the client.
    const server = await startServer({ store: 'memory', engine: engineFor(stub), env: { SEGMENT_MAX_MS: '2000', ENGINE_MAX_RETRIES: '0' } });
    const client = await connect(server.url);
    try {
      const audio = loudPcm(5000, 16000, 5);
      const { end } = await streamWhole(client, audio);
      expect(client.errors.length).toBeGreaterThanOrEqual(1);
      expect(client.errors[0]).toMatchObject({ code: 'ENGINE_ERROR', retryable: true });
      expect(client.errors[0]!.message).not.toContain('sk-test-secret');
      // Only the answered uploads count: together they are the whole stream, in order.
      const answered = stub.uploads.filter((u) => u.status === 200);
      expect(Buffer.concat(answered.map((u) => u.pcm)).equals(audio)).toBe(true);
      expect(end).toMatchObject({ ok: true, segments: 3, duration_ms: 5000 });
      expect(client.results.map((r) => [r.segment, r.start_ms, r.end_ms])).toEqual([
        [0, 0, 2000],
        [1, 2000, 4000],
        [2, 4000, 5000],
      ]);
    } finally {
      client.close();
      await server.close();
      await stub.close();
    }
  });

  it('end_session refuses with ENGINE_ERROR while the engine is down, and succeeds once it is back', async () => {
    let down = true;
    const stub = await startOpenAIStub({ respond: () => (down ? { status: 500 } : {}) });
    const server = await startServer({ store: 'memory', engine: engineFor(stub) });
    const client = await connect(server.url);
    try {
      const sessionId = await startSession(client);
      await sendChunks(client, sessionId, chunksOf(loudPcm(1000), 100));
      const refused = await client.call('end_session', { session_id: sessionId });
      expect(refused).toMatchObject({ ok: false, error: { code: 'ENGINE_ERROR', retryable: true } });
      down = false;
      const end = await client.call('end_session', { session_id: sessionId });
      expect(end).toMatchObject({ ok: true, segments: 1, duration_ms: 1000 });
    } finally {
      client.close();
      await server.close();
      await stub.close();
    }
  });
});

describe('Redis-backed sessions across a server restart', () => {
  it('a session survives a restart: the client resumes on the new server and nothing is lost or doubled', async () => {
    const stub = await startOpenAIStub();
    const prefix = `restart:${Date.now()}:`;
    let server = await startServer({ store: await createStore('redis', prefix), engine: engineFor(stub) });
    let client = await connect(server.url);
    const audio = loudPcm(10_000, 16000, 9);
    const chunks = chunksOf(audio, 100);
    const opened = await client.call('start_session', {});
    const sessionId = opened.session_id as string;
    await sendChunks(client, sessionId, chunks.slice(0, 60));
    client.close();
    const oldStore = server.store;
    await server.close();
    await oldStore.close();

    server = await startServer({ store: await createStore('redis', prefix), engine: engineFor(stub) });
    client = await connect(server.url);
    try {
      const resumed = await client.call('start_session', { session_id: sessionId, resume_token: opened.resume_token });
      expect(resumed).toMatchObject({ ok: true, resumed: true, next_seq: 60 });
      await sendChunks(client, sessionId, chunks.slice(58), 58);
      const end = await client.call('end_session', { session_id: sessionId });
      expect(end).toMatchObject({ ok: true, duration_ms: 10000, segments: 2 });
      expect(uploadedPcm(stub).equals(audio)).toBe(true);
    } finally {
      client.close();
      await server.close();
      await server.store.close();
      await stub.close();
    }
  });
});
