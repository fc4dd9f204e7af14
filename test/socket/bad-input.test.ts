// Every malformed event gets a refused ack with the right code; the connection and every other session
// keep working, and nothing already accepted is lost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOpenAIEngine } from '../../src/engines/openai.js';
import { createRedisStore } from '../../src/store/redis-store.js';
import { chunksOf, loudPcm } from '../support/audio.js';
import { connect, startServer, until, type TestClient, type TestServer } from '../support/harness.js';
import { gate, startOpenAIStub } from '../support/openai-stub.js';
import { sendChunks, startSession, streamWhole } from '../support/pipeline.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

type Stub = Awaited<ReturnType<typeof startOpenAIStub>>;
const engineFor = (stub: Stub) => createOpenAIEngine({ apiKey: 'sk-test', baseUrl: stub.url, model: 'whisper-1', maxRetries: 0, timeoutMs: 10_000 });

describe('refused events', () => {
  let stub: Stub;
  let server: TestServer;
  let client: TestClient;
  let sessionId: string;

  beforeAll(async () => {
    stub = await startOpenAIStub();
    server = await startServer({ store: 'memory', engine: engineFor(stub) });
    client = await connect(server.url);
    sessionId = await startSession(client);
  });
  afterAll(async () => {
    client.close();
    await server.close();
    await stub.close();
  });

  it.each([
    ['a string payload', 'hello', 'INVALID_PAYLOAD', /start_session: payload must be an object/],
    ['an unknown field', { sample_rate: 16000, volume: 3 }, 'INVALID_PAYLOAD', /unknown field\(s\) volume/],
    ['a session id with spaces', { session_id: 'not ok!' }, 'INVALID_PAYLOAD', /session_id may hold only/],
    ['a compressed format', { format: 'opus' }, 'UNSUPPORTED_FORMAT', /format "opus" is not supported; send one of "pcm_s16le", "mulaw", "alaw", "ogg_opus", "webm_opus"/],
    ['a sample rate above 48 kHz', { sample_rate: 96000 }, 'UNSUPPORTED_FORMAT', /sample_rate must be a whole number from 8000 to 48000 Hz, got 96000/],
    ['stereo', { channels: 2 }, 'UNSUPPORTED_FORMAT', /channels must be 1/],
    ['a sample rate as text', { sample_rate: '16000' }, 'INVALID_PAYLOAD', /sample_rate/],
  ])('start_session with %s', async (_name, payload, code, message) => {
    const ack = await client.call('start_session', payload);
    expect(ack).toMatchObject({ ok: false, error: { code, retryable: false } });
    expect(ack.error.message).toMatch(message);
  });

  it.each([
    ['no payload', undefined, 'INVALID_PAYLOAD', /audio_chunk: payload must be an object/],
    ['no chunk', () => ({ session_id: sessionId, seq: 0 }), 'INVALID_PAYLOAD', /chunk/],
    ['a text chunk', () => ({ session_id: sessionId, seq: 0, chunk: 'AAAA' }), 'INVALID_PAYLOAD', /chunk must be binary/],
    ['a JSON array chunk', () => ({ session_id: sessionId, seq: 0, chunk: [1, 2] }), 'INVALID_PAYLOAD', /chunk must be binary/],
    ['a negative seq', () => ({ session_id: sessionId, seq: -1, chunk: loudPcm(100) }), 'INVALID_PAYLOAD', /seq must be 0 or more/],
    ['a fractional seq', () => ({ session_id: sessionId, seq: 1.5, chunk: loudPcm(100) }), 'INVALID_PAYLOAD', /seq must be a whole number/],
    ['a seq as text', () => ({ session_id: sessionId, seq: '0', chunk: loudPcm(100) }), 'INVALID_PAYLOAD', /seq/],
    ['an empty chunk', () => ({ session_id: sessionId, seq: 0, chunk: Buffer.alloc(0) }), 'INVALID_AUDIO', /non-zero, even byte count/],
    ['an odd byte count', () => ({ session_id: sessionId, seq: 0, chunk: Buffer.alloc(3201) }), 'INVALID_AUDIO', /3201 bytes/],
    ['a chunk over MAX_CHUNK_BYTES', () => ({ session_id: sessionId, seq: 0, chunk: Buffer.alloc(64002) }), 'CHUNK_TOO_LARGE', /64002 bytes, above MAX_CHUNK_BYTES=64000/],
    ['a 2 MB chunk', () => ({ session_id: sessionId, seq: 0, chunk: Buffer.alloc(2 * 1024 * 1024) }), 'CHUNK_TOO_LARGE', /MAX_CHUNK_BYTES/],
    ['an unknown session', () => ({ session_id: 'nobody', seq: 0, chunk: loudPcm(100) }), 'UNKNOWN_SESSION', /no live session nobody; call start_session first/],
  ])('audio_chunk with %s', async (_name, payload, code, message) => {
    const ack = await client.call('audio_chunk', typeof payload === 'function' ? payload() : payload);
    expect(ack).toMatchObject({ ok: false, error: { code } });
    expect(ack.error.message).toMatch(message);
  });

  it.each([
    ['no session id', {}, 'INVALID_PAYLOAD'],
    ['an unknown session', { session_id: 'nobody' }, 'UNKNOWN_SESSION'],
  ])('end_session with %s', async (_name, payload, code) => {
    expect(await client.call('end_session', payload)).toMatchObject({ ok: false, error: { code } });
  });

  it('after all of that the connection is up and the session intact: nothing refused was buffered', async () => {
    expect(client.socket.connected).toBe(true);
    const audio = loudPcm(1500, 16000, 4);
    const acks = await sendChunks(client, sessionId, chunksOf(audio, 100));
    expect(acks[0]).toEqual({ ok: true, seq: 0, buffered_ms: 100 });
    const end = await client.call('end_session', { session_id: sessionId });
    expect(end).toMatchObject({ ok: true, duration_ms: 1500 });
    expect(stub.uploads.at(-1)!.pcm.equals(audio)).toBe(true);
  });

  it('an event sent without an ack callback is handled without harm', async () => {
    (client.socket as unknown as { emit(event: string, payload: unknown): void }).emit('audio_chunk', { session_id: 'nobody', chunk: 'x' });
    expect(await client.call('start_session', {})).toMatchObject({ ok: true });
  });
});

describe('a burst of malformed events from one client', () => {
  it('does not disturb a session streaming correctly on another socket', async () => {
    const stub = await startOpenAIStub();
    const server = await startServer({ store: 'memory', engine: engineFor(stub) });
    const good = await connect(server.url);
    const bad = await connect(server.url);
    try {
      const audio = loudPcm(10_000, 16000, 12);
      const badStarts = ['x', 42, { session_id: 1 }, { format: 'mp3' }, { sample_rate: 1 }];
      const badChunks = [undefined, 'x', { session_id: 'ghost', seq: 0, chunk: Buffer.alloc(5) }, { session_id: 1 }, { session_id: 'a', chunk: Buffer.alloc(70000) }];
      const burst = Promise.all(
        Array.from({ length: 300 }, (_, i) =>
          i % 3 === 0 ? bad.call('start_session', badStarts[i % badStarts.length]) : bad.call('audio_chunk', badChunks[i % badChunks.length]),
        ),
      );
      const [{ end }, refusals] = await Promise.all([streamWhole(good, audio), burst]);
      expect(refusals.every((ack) => ack.ok === false)).toBe(true);
      expect(end).toMatchObject({ ok: true, segments: 2, duration_ms: 10000 });
      expect(Buffer.concat(stub.uploads.map((u) => u.pcm)).equals(audio)).toBe(true);
      expect(bad.socket.connected).toBe(true);
    } finally {
      good.close();
      bad.close();
      await server.close();
      await stub.close();
    }
  });
});

describe('back-pressure', () => {
  it('refuses with BUFFER_FULL when a session buffers MAX_BUFFER_MS awaiting a slow engine; the client resends later and nothing is lost', async () => {
    // The engine answers nothing until the buffer has filled: slow for exactly as long as the test needs it to be.
    const engine = gate();
    const stub = await startOpenAIStub({ respond: () => ({ hold: engine.held }) });
    const server = await startServer({
      store: 'memory',
      engine: engineFor(stub),
      env: { SEGMENT_MAX_MS: '1000', SEGMENT_MIN_MS: '500', MAX_BUFFER_MS: '2000', ENGINE_CONCURRENCY: '1' },
    });
    const client = await connect(server.url);
    try {
      const audio = loudPcm(4000, 16000, 8);
      const chunks = chunksOf(audio, 100);
      const sessionId = await startSession(client);
      let fullSeen = 0;
      let firstFullAt: number | undefined;
      for (let seq = 0; seq < chunks.length; ) {
        const ack = await client.call('audio_chunk', { session_id: sessionId, seq, chunk: chunks[seq] });
        if (ack.ok) seq += 1;
        else {
          expect(ack.error).toMatchObject({ code: 'BUFFER_FULL', retryable: true });
          fullSeen += 1;
          firstFullAt ??= seq;
          // The client resends once a segment has been transcribed (what frees the buffer), not after a guessed delay.
          const results = client.results.length;
          engine.open();
          await until(() => client.results.length > results, 'a transcribed segment to free the buffer', 10_000);
        }
      }
      expect(fullSeen).toBeGreaterThan(0);
      // Refused only once MAX_BUFFER_MS (2 s) of audio waited for the engine.
      expect(firstFullAt).toBe(20);
      const end = await client.call('end_session', { session_id: sessionId });
      expect(end).toMatchObject({ ok: true, duration_ms: 4000 });
      expect(Buffer.concat(stub.uploads.map((u) => u.pcm)).equals(audio)).toBe(true);
    } finally {
      client.close();
      await server.close();
      await stub.close();
    }
  });
});

describe('handshake token', () => {
  it('with AUTH_TOKEN set, a client without the token is refused at connect and one with it is served', async () => {
    const stub = await startOpenAIStub();
    const server = await startServer({ store: 'memory', engine: engineFor(stub), env: { AUTH_TOKEN: 'let-me-in-16-chars' } });
    try {
      await expect(connect(server.url)).rejects.toThrow(/UNAUTHORIZED: pass the server AUTH_TOKEN as auth.token/);
      await expect(connect(server.url, { token: 'wrong' })).rejects.toThrow(/UNAUTHORIZED/);
      const client = await connect(server.url, { token: 'let-me-in-16-chars' });
      expect(await client.call('start_session', {})).toMatchObject({ ok: true });
      client.close();
    } finally {
      await server.close();
      await stub.close();
    }
  });
});

describe('store outage', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(() => redis.kill());

  it('answers STORE_UNAVAILABLE (retryable) while Redis is down, and keeps the connection', async () => {
    const stub = await startOpenAIStub();
    const store = await createRedisStore({ url: redis.url, keyPrefix: 'outage:', ttlS: 60, commandTimeoutMs: 500 });
    const server = await startServer({ store, engine: engineFor(stub) });
    const client = await connect(server.url);
    try {
      const sessionId = await startSession(client);
      expect(await client.call('audio_chunk', { session_id: sessionId, seq: 0, chunk: loudPcm(100) })).toMatchObject({ ok: true });
      await redis.kill();
      const ack = await client.call('audio_chunk', { session_id: sessionId, seq: 1, chunk: loudPcm(100) });
      expect(ack).toMatchObject({ ok: false, error: { code: 'STORE_UNAVAILABLE', retryable: true } });
      expect(ack.error.message).toMatch(/Buffer store \(Redis\) failed/);
      expect(client.socket.connected).toBe(true);
    } finally {
      client.close();
      await server.close();
      await store.close();
      await stub.close();
    }
  });
});
