// The registry keeps a runtime only while it has a connection or work: runtimes that finish transcribing after
// their socket left, and runtimes made for a session fed without start_session, are released; a disconnect
// looks only at its own connection's sessions.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createOpenAIEngine } from '../../src/engines/openai.js';
import { SessionRuntime } from '../../src/sessions/session-runtime.js';
import { chunksOf, loudPcm, silentPcm } from '../support/audio.js';
import { connect, startServer, until, type TestServer } from '../support/harness.js';
import { gate, startOpenAIStub, type OpenAIStub } from '../support/openai-stub.js';
import { sendChunks, startSession } from '../support/pipeline.js';

let stub: OpenAIStub | undefined;
let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  await stub?.close();
  server = undefined;
  stub = undefined;
  vi.restoreAllMocks();
});

async function serverWithSlowEngine(delayMs: number, hold?: Promise<void>) {
  stub = await startOpenAIStub({ respond: () => ({ delayMs, ...(hold ? { hold } : {}) }) });
  const engine = createOpenAIEngine({ apiKey: 'sk-test', baseUrl: stub.url, model: 'whisper-1', maxRetries: 0, timeoutMs: 10_000 });
  // A fixed limit of 256 slots: admission, judging 1 s segments at its prior cost, lets the tests' 40 sessions in.
  server = await startServer({ store: 'memory', engine, env: { SEGMENT_MAX_MS: '1000', SEGMENT_MIN_MS: '500', ENGINE_CONCURRENCY: '256' } });
  return server;
}

describe('session registry', () => {
  it('releases a runtime that was still transcribing when its socket left, once the transcription is done', async () => {
    // The engine answers when the test lets it: the transcription is still running for as long as the test looks.
    const engine = gate();
    const { app, url } = await serverWithSlowEngine(0, engine.held);
    const client = await connect(url);
    const opened = await client.call('start_session', {});
    const sessionId = opened.session_id as string;
    await sendChunks(client, sessionId, chunksOf(loudPcm(1000), 100));
    await until(() => stub!.requests.some((r) => r.path.endsWith('/audio/transcriptions')), 'the segment to reach the engine');
    client.close();
    await until(() => !app.registry.find(sessionId)?.attachedTo, 'the disconnect');
    expect(app.registry.size).toBe(1); // still transcribing: kept
    engine.open();
    await until(() => app.registry.size === 0, 'the runtime to be released after its transcription');
    // The store keeps the session: it resumes with its result.
    const again = await connect(url);
    const ack = await again.call('start_session', { session_id: sessionId, resume_token: opened.resume_token });
    expect(ack).toMatchObject({ ok: true, resumed: true, next_seq: 10 });
    await until(() => again.results.length === 1, 'the replayed result');
    again.close();
  });

  it('makes no runtime for a session fed by a connection that does not hold it, and releases one that was resumed and left', async () => {
    const { app, url } = await serverWithSlowEngine(10);
    const owner = await connect(url);
    const opened = await owner.call('start_session', {});
    owner.close();
    await until(() => app.registry.size === 0, 'the idle runtime to be released');
    // Another connection feeding it (as a client might right after a server restart) is refused and leaves nothing behind.
    const feeder = await connect(url);
    const [refused] = await sendChunks(feeder, opened.session_id, chunksOf(silentPcm(100), 100));
    expect(refused).toMatchObject({ ok: false, error: { code: 'UNKNOWN_SESSION' } });
    expect(app.registry.size).toBe(0);
    // Resumed with its token, fed, then left: released again.
    expect(await feeder.call('start_session', { session_id: opened.session_id, resume_token: opened.resume_token })).toMatchObject({ ok: true, resumed: true });
    expect(await sendChunks(feeder, opened.session_id, chunksOf(silentPcm(300), 100))).toHaveLength(3);
    expect(app.registry.size).toBe(1);
    feeder.close();
    await until(() => app.registry.size === 0, 'the runtime to be released after the feeder left');
  });

  it('looks only at the leaving connection’s own sessions on disconnect (no scan of every session)', async () => {
    const { app, url } = await serverWithSlowEngine(10);
    const clients = await Promise.all(Array.from({ length: 40 }, () => connect(url)));
    await Promise.all(clients.map((c) => startSession(c)));
    expect(app.registry.size).toBe(40);
    const reads = vi.spyOn(SessionRuntime.prototype, 'attachedTo', 'get');
    clients[0]!.close();
    await until(() => app.registry.size === 39, 'the first client’s session to go');
    // The registry touched the leaving connection's runtime, not the 39 others.
    expect(reads.mock.calls.length).toBeLessThan(5);
    for (const c of clients.slice(1)) c.close();
    await until(() => app.registry.size === 0, 'every session to go');
  });
});
