// A segment the provider refuses for good (a 4xx) ends that segment, not the session: it is committed as failed,
// its owner told ENGINE_REJECTED with the stretch, later segments go on in order, and the summary lists it.
// Real server, real stores, the openai engine against the local OpenAI-compatible stub.
import { afterEach, describe, expect, it } from 'vitest';
import { TranscriptionClient } from '../../src/client/index.js';
import type { TranscriptionClientError } from '../../src/client/errors.js';
import { createOpenAIEngine } from '../../src/engines/openai.js';
import { noopMetrics, type ServerMetrics } from '../../src/metrics/metrics.js';
import type { TranscriptionResult } from '../../src/protocol/index.js';
import { chunksOf, loudPcm } from '../support/audio.js';
import { connect, STORE_KINDS, startServer, until, type TestServer } from '../support/harness.js';
import { startOpenAIStub, type OpenAIStub, type OpenAIStubOptions } from '../support/openai-stub.js';
import { sendChunks, startSession, streamWhole } from '../support/pipeline.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The provider refuses this upload only, in the words (and with the internals) a real one might use. */
const REFUSED_UPLOAD = 2;
const PROVIDER_WORDS = 'Invalid file format. Supported formats: flac, m4a, mp3, wav';

async function setup(storeKind: (typeof STORE_KINDS)[number], stubOptions: OpenAIStubOptions, env: Record<string, string> = {}) {
  const stub = await startOpenAIStub(stubOptions);
  const engine = createOpenAIEngine({ apiKey: 'sk-test-secret', baseUrl: stub.url, model: 'whisper-1', maxRetries: 0, timeoutMs: 10_000 });
  // The sessions_active gauge as Prometheus would last have read it.
  const gauge = { sessionsActive: -1 };
  const metrics: ServerMetrics = { ...noopMetrics, sessionsActive: (count) => (gauge.sessionsActive = count) };
  const server = await startServer({ store: storeKind, engine, metrics, env: { SEGMENT_MAX_MS: '2000', ENGINE_MAX_RETRIES: '0', ...env } });
  cleanups.push(() => stub.close(), () => server.close());
  return { stub, server, gauge };
}

/** Nothing internal in a client-facing text: not the provider's host or port, not a request id. */
function expectNoInternals(text: string, stub: OpenAIStub): void {
  const { host } = new URL(stub.url);
  expect(text).not.toContain(host);
  expect(text).not.toContain('127.0.0.1');
  expect(text).not.toMatch(/req_[A-Za-z0-9]/);
  expect(text).not.toMatch(/https?:\/\//);
}

describe.each(STORE_KINDS)('a segment refused for good, %s store', (storeKind) => {
  it('the third segment refused with a 400 still lets the fourth be transcribed; ENGINE_REJECTED carries its stretch; the summary lists it', async () => {
    const { stub, server } = await setup(storeKind, {
      respond: (upload) => (upload.index === REFUSED_UPLOAD ? { status: 400, text: PROVIDER_WORDS, param: 'file' } : {}),
    });
    const client = await connect(server.url);
    cleanups.push(() => client.close());

    const { sessionId, end } = await streamWhole(client, loudPcm(8000, 16000, 3));

    // Each segment went up once: a refusal is not retried, and it did not hold the later ones back.
    expect(stub.uploads.map((u) => u.status)).toEqual([200, 200, 400, 200]);
    // The refused segment gave no text, so the fourth is prompted with the second's.
    expect(stub.uploads[3]!.prompt).toBe('segment 1');
    expect(client.results.map((r) => [r.segment, r.text, r.start_ms, r.end_ms])).toEqual([
      [0, 'segment 0', 0, 2000],
      [1, 'segment 1', 2000, 4000],
      [3, 'segment 3', 6000, 8000],
    ]);
    expect(client.errors).toHaveLength(1);
    const rejected = client.errors[0]!;
    expect(rejected).toMatchObject({ session_id: sessionId, code: 'ENGINE_REJECTED', retryable: false, segment: 2, start_ms: 4000, end_ms: 6000 });
    expect(rejected.message).toContain(PROVIDER_WORDS);
    expect(rejected.message).toContain('400');
    expectNoInternals(rejected.message, stub);

    expect(end).toMatchObject({ ok: true, session_id: sessionId, text: 'segment 0 segment 1 segment 3', segments: 4, duration_ms: 8000 });
    expect(end.untranscribed).toEqual([{ segment: 2, start_ms: 4000, end_ms: 6000, code: 'ENGINE_REJECTED', reason: expect.stringContaining(PROVIDER_WORDS) }]);
    expectNoInternals(end.untranscribed[0].reason, stub);
  });

  it('a client resuming the session is told of the refused segment again, in its place among the replayed results', async () => {
    const { server } = await setup(storeKind, { respond: (upload) => (upload.index === 1 ? { status: 422, text: PROVIDER_WORDS } : {}) });
    const first = await connect(server.url);
    const opened = await first.call('start_session', {});
    await sendChunks(first, opened.session_id, chunksOf(loudPcm(7000, 16000, 4), 100));
    await until(() => first.results.length === 2 && first.errors.length === 1, 'two results and one refusal');
    first.close();

    const second = await connect(server.url);
    cleanups.push(() => second.close());
    const resumed = await second.call('start_session', { session_id: opened.session_id, resume_token: opened.resume_token });
    expect(resumed).toMatchObject({ ok: true, resumed: true });
    await until(() => second.results.length === 2 && second.errors.length === 1, 'the replay');
    expect(second.results.map((r) => [r.segment, r.replayed])).toEqual([
      [0, true],
      [2, true],
    ]);
    expect(second.errors[0]).toMatchObject({ code: 'ENGINE_REJECTED', segment: 1, start_ms: 2000, end_ms: 4000 });
  });
});

describe('the client library and a refused segment', () => {
  it('delivers the later finals at once (no wait for the missing number), reports ENGINE_REJECTED, and the session ends normally', async () => {
    const { server } = await setup('memory', {
      respond: (upload) => (upload.index === REFUSED_UPLOAD ? { status: 400, text: PROVIDER_WORDS } : {}),
    });
    // A gap timeout far beyond the test's own: only skipping the refused number can deliver segment 3 in time.
    const client = new TranscriptionClient({ url: server.url, socketOptions: { transports: ['websocket'] }, reconnect: { attempts: 0 }, segmentGapTimeoutMs: 600_000 });
    cleanups.push(() => client.close());
    const results: TranscriptionResult[] = [];
    const errors: TranscriptionClientError[] = [];
    client.on('result', (result) => results.push(result));
    client.on('error', (error) => errors.push(error as TranscriptionClientError));

    await client.start();
    for (const chunk of chunksOf(loudPcm(8000, 16000, 5), 100)) await client.sendChunk(chunk);
    await until(() => results.length === 3, 'three finals delivered before end()', 10_000);
    expect(results.map((r) => r.segment)).toEqual([0, 1, 3]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'ENGINE_REJECTED', retryable: false, segment: 2 });

    const summary = await client.end();
    expect(summary).toMatchObject({ text: 'segment 0 segment 1 segment 3', segments: 4 });
    expect(summary.untranscribed?.map((u) => [u.segment, u.start_ms, u.end_ms, u.code])).toEqual([[2, 4000, 6000, 'ENGINE_REJECTED']]);
  });
});

describe('client-facing engine failures carry no internals', () => {
  it('ENGINE_ERROR and ENGINE_REJECTED messages hold the status and the provider words, not its origin or request ids', async () => {
    // The stub sends x-request-id on every answer; the provider's words themselves name a URL and a request id too.
    const words = 'Upstream failed at https://internal.example:8443/v1/x (request ID req_abc123XYZ); try again';
    const { stub, server } = await setup('memory', {
      respond: (upload) => (upload.index === 0 ? { status: 500, text: words } : upload.index === 1 ? { status: 400, text: words } : {}),
    });
    const client = await connect(server.url);
    cleanups.push(() => client.close());
    const sessionId = await startSession(client);
    await sendChunks(client, sessionId, chunksOf(loudPcm(2000, 16000, 6), 100));
    await until(() => client.errors.length === 1, 'the 500 reported');
    // The next cut retries the failed segment: the 400 now refuses it for good.
    await sendChunks(client, sessionId, chunksOf(loudPcm(2000, 16000, 7), 100), 20);
    await until(() => client.errors.length === 2 && client.results.length === 1, 'the 400 reported, the next segment transcribed');

    expect(client.errors.map((e) => e.code)).toEqual(['ENGINE_ERROR', 'ENGINE_REJECTED']);
    for (const error of client.errors) {
      expect(error.message).toContain('Upstream failed at');
      expectNoInternals(error.message, stub);
      expect(error.message).not.toContain('internal.example');
    }
    expect(client.errors[0]!.message).toMatch(/500/);
    expect(client.errors[1]!.message).toMatch(/400/);
  });
});

describe('ALLOWED_MODELS and the stub refusing unknown models', () => {
  it('a model outside ALLOWED_MODELS is INVALID_MODEL at start_session, naming the allowed ones; nothing reaches the provider', async () => {
    const { stub, server } = await setup('memory', { models: ['whisper-1'] }, { ALLOWED_MODELS: 'whisper-1,gpt-4o-transcribe' });
    const client = await connect(server.url);
    cleanups.push(() => client.close());
    const ack = await client.call('start_session', { model: 'bad-model' });
    expect(ack).toMatchObject({ ok: false, error: { code: 'INVALID_MODEL', retryable: false } });
    expect(ack.error.message).toContain('"whisper-1", "gpt-4o-transcribe"');
    expect((await client.call('start_session', { model: 'gpt-4o-transcribe' })).ok).toBe(true);
    expect(stub.uploads).toHaveLength(0);
  });

  it('by default only WHISPER_MODEL is allowed', async () => {
    const { server } = await setup('memory', {});
    const client = await connect(server.url);
    cleanups.push(() => client.close());
    expect(await client.call('start_session', { model: 'gpt-4o-transcribe' })).toMatchObject({ ok: false, error: { code: 'INVALID_MODEL' } });
    expect(await client.call('start_session', { model: 'whisper-1' })).toMatchObject({ ok: true });
  });
});

describe('abandoned sessions are released at their idle time-out, whatever the engine does', () => {
  const SESSIONS = 12;
  /** Short, yet long enough that a busy test host does not end a session between its start and its first chunk. */
  const IDLE_MS = '1000';

  /** Opens SESSIONS sessions with `model`, each sends 7 s of speech and its client goes away without end_session. */
  async function abandonMany(server: TestServer, model: string): Promise<string[]> {
    return Promise.all(
      Array.from({ length: SESSIONS }, async (_, i) => {
        const client = await connect(server.url);
        const sessionId = await startSession(client, { model });
        const acks = await sendChunks(client, sessionId, chunksOf(loudPcm(7000, 16000, 10 + i), 100));
        expect(acks.every((ack) => ack.ok)).toBe(true);
        client.close();
        return sessionId;
      }),
    );
  }

  async function expectReleased(server: TestServer, ids: string[]): Promise<void> {
    const deadline = Date.now() + 15_000;
    const allEnded = async () => (await Promise.all(ids.map((id) => server.store.getSession(id)))).every((record) => record?.ended);
    while (!(server.app.registry.size === 0 && (await allEnded()))) {
      if (Date.now() > deadline) throw new Error(`not released: ${server.app.registry.size} runtimes left`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    for (const id of ids) {
      const record = await server.store.getSession(id);
      expect(record?.ended).toBe(true);
      // Ended means the store let go of the audio.
      expect((await server.store.readAudio(id, record!.committedBytes, record!.receivedBytes)).length).toBe(0);
    }
  }

  it.each(STORE_KINDS)('a model the provider refuses (allowed by ALLOWED_MODELS), %s store: every session ended and released, each refusal listed', async (storeKind) => {
    const { stub, server, gauge } = await setup(
      storeKind,
      { models: ['whisper-1'] },
      { ALLOWED_MODELS: 'whisper-1,bad-model', SESSION_IDLE_TIMEOUT_MS: IDLE_MS },
    );
    const ids = await abandonMany(server, 'bad-model');
    expect(gauge.sessionsActive).toBeGreaterThan(0);
    await expectReleased(server, ids);
    expect(gauge.sessionsActive).toBe(0);
    // Three cuts while streaming and the rest at the idle end: four segments each, every one refused and listed.
    expect(stub.uploads).toHaveLength(SESSIONS * 4);
    expect(stub.uploads.every((u) => u.status === 404 && u.model === 'bad-model')).toBe(true);
    for (const id of ids) {
      const segments = await server.store.segmentsFrom(id, 0);
      expect(segments.map((s) => s.segment)).toEqual([0, 1, 2, 3]);
      expect(segments.every((s) => s.failed?.code === 'ENGINE_REJECTED' && !s.failed.reason.includes('127.0.0.1'))).toBe(true);
    }
  });

  it('an engine that keeps failing (retryable 503): the ending fails, the session is ended anyway with its audio listed untranscribed', async () => {
    const { server } = await setup('memory', { respond: () => ({ status: 503, text: 'overloaded' }), retryAfterMs: 0 }, { SESSION_IDLE_TIMEOUT_MS: IDLE_MS });
    const ids = await abandonMany(server, 'whisper-1');
    await expectReleased(server, ids);
    for (const id of ids) {
      const segments = await server.store.segmentsFrom(id, 0);
      const record = await server.store.getSession(id);
      // Whatever was not transcribed is listed, up to the last byte received.
      expect(segments.at(-1)).toMatchObject({ endByte: record!.receivedBytes, failed: { code: 'ENGINE_ERROR' } });
    }
  });

  it('an engine that does not answer (a segment in flight): the session is ended after a further idle time-out', async () => {
    const { server } = await setup('memory', { respond: () => ({ delayMs: 60_000 }) }, { SESSION_IDLE_TIMEOUT_MS: IDLE_MS, ENGINE_TIMEOUT_MS: '60000' });
    const ids = await abandonMany(server, 'whisper-1');
    await expectReleased(server, ids);
    for (const id of ids) {
      const segments = await server.store.segmentsFrom(id, 0);
      expect(segments).toHaveLength(1);
      expect(segments[0]).toMatchObject({ startByte: 0, failed: { code: 'ENGINE_ERROR', reason: expect.stringContaining('still being transcribed') } });
    }
  });
});
