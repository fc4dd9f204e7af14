// Overload said out loud: when a new session's results could not arrive within MAX_RESULT_DELAY_MS, start_session
// is refused with OVERLOADED and a retry delay, while the sessions already running keep going and complete.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOpenAIEngine } from '../../src/engines/openai.js';
import { createReadinessProbe } from '../../src/ops/readiness.js';
import { capacityCheck } from '../../src/server/single.js';
import { chunksOf, loudPcm } from '../support/audio.js';
import { connect, startServer, until } from '../support/harness.js';
import { gate, startOpenAIStub, type OpenAIStubOptions } from '../support/openai-stub.js';
import { sendChunks, startSession } from '../support/pipeline.js';

/** A memory-store server with `env` whose Whisper engine talks to an OpenAI stub, for one describe block. */
function serverWithStub(env: Record<string, string>, stubOptions?: OpenAIStubOptions) {
  const setup = {} as Awaited<ReturnType<typeof start>>;
  async function start() {
    const stub = await startOpenAIStub(stubOptions);
    const engine = createOpenAIEngine({ apiKey: 'sk-test', baseUrl: stub.url, model: 'whisper-1', maxRetries: 0, timeoutMs: 10_000 });
    const server = await startServer({ store: 'memory', engine, env });
    return { stub, engine, server };
  }
  beforeAll(async () => {
    Object.assign(setup, await start());
  });
  afterAll(async () => {
    await setup.server?.close();
    await setup.stub?.close();
  });
  return setup;
}

describe('OVERLOADED', () => {
  // One request at a time, results due within 1 s: a queue of two segments is already too long. The first answer
  // takes 600 ms (the engine's pace); the rest wait until the test has seen the refusal, then come at once.
  const engineBehind = gate();
  const setup = serverWithStub(
    { SEGMENT_MAX_MS: '1000', SEGMENT_MIN_MS: '500', ENGINE_CONCURRENCY: '1', MAX_RESULT_DELAY_MS: '1000' },
    { respond: (_upload, index) => (index === 0 ? { delayMs: 600 } : { hold: engineBehind.held }) },
  );

  it('refuses a new session with a retry delay while the engine is behind; running sessions complete; then admits again', async () => {
    const { server, stub, engine } = setup;
    const running = await connect(server.url);
    const newcomer = await connect(server.url);
    try {
      const sessionId = await startSession(running);
      // Five 1 s segments at once: the engine (600 ms each, one at a time) is seconds behind.
      const audio = loudPcm(5000, 16000, 7);
      const acks = await sendChunks(running, sessionId, chunksOf(audio, 100));
      expect(acks.every((a) => a.ok)).toBe(true);
      // Once the engine's pace is known (the first result), the queue behind it says how late a new session would be.
      await until(() => running.results.length === 1, 'the first result');

      const refused = await newcomer.call('start_session', {});
      expect(refused).toMatchObject({ ok: false, error: { code: 'OVERLOADED', retryable: true } });
      expect(refused.error.retry_after_ms).toBeGreaterThanOrEqual(1000);
      expect(refused.error.message).toMatch(/MAX_RESULT_DELAY_MS=1000/);
      // Readiness says so too, so a load balancer sends new clients elsewhere.
      const probe = createReadinessProbe(server.store, engine, { extraChecks: { capacity: capacityCheck(server.app.sessions) } });
      const readiness = await probe();
      expect(readiness).toMatchObject({ status: 'not_ready', failed: ['capacity'] });
      expect(readiness.checks.capacity!.error).toMatch(/MAX_RESULT_DELAY_MS=1000/);
      // A live session is not new work: it may resume (here, on the same connection) while the engine is behind.
      expect(await running.call('start_session', { session_id: sessionId })).toMatchObject({ ok: true, resumed: true });

      engineBehind.open();
      const end = await running.call('end_session', { session_id: sessionId });
      expect(end).toMatchObject({ ok: true, segments: 5, duration_ms: 5000 });
      expect(Buffer.concat(stub.uploads.map((u) => u.pcm)).equals(audio)).toBe(true);

      // Caught up: new sessions are welcome again, and readiness says so. (Once the newcomer runs, this one-slot engine
      // has no room for a second session of 1 s segments: readiness is judged before it starts.)
      await until(() => server.app.scheduler.state.queued === 0 && server.app.scheduler.state.inFlight === 0, 'the queue to drain');
      expect((await probe()).failed).not.toContain('capacity');
      expect(await newcomer.call('start_session', {})).toMatchObject({ ok: true, resumed: false });
    } finally {
      running.close();
      newcomer.close();
    }
  });
});

describe('OVERLOADED while the event loop is saturated', () => {
  // In-process, the test's own busy-wait is the server's load.
  const setup = serverWithStub({ MAX_EVENT_LOOP_UTILIZATION: '0.3' });

  it('refuses new sessions with a retry delay and says so in readiness; the running session streams on; an idle window admits again', async () => {
    const { server } = setup;
    const running = await connect(server.url);
    const newcomer = await connect(server.url);
    try {
      const sessionId = await startSession(running);
      // Busy through more than the 3 s window the guard measures over.
      const busyUntil = performance.now() + 3500;
      while (performance.now() < busyUntil);
      await new Promise((resolve) => setTimeout(resolve, 10));

      const refused = await newcomer.call('start_session', {});
      expect(refused).toMatchObject({ ok: false, error: { code: 'OVERLOADED', retryable: true, retry_after_ms: 3000 } });
      expect(refused.error.message).toMatch(/MAX_EVENT_LOOP_UTILIZATION=0\.3/);
      await expect(capacityCheck(server.app.sessions)()).rejects.toThrow(/event loop was busy/);
      const acks = await sendChunks(running, sessionId, chunksOf(loudPcm(500, 16000, 3), 100));
      expect(acks.every((a) => a.ok)).toBe(true);

      await until(() => server.app.sessions.overloaded() === undefined, 'an idle window', 10_000);
      expect(await newcomer.call('start_session', {})).toMatchObject({ ok: true, resumed: false });
    } finally {
      running.close();
      newcomer.close();
    }
  });
});

describe('OVERLOADED at MAX_SESSIONS_PER_PROCESS', () => {
  const setup = serverWithStub({ MAX_SESSIONS_PER_PROCESS: '2' });

  it('refuses a third session across connections, lets a running one resume, and admits again once one ends', async () => {
    const { server } = setup;
    const first = await connect(server.url);
    const second = await connect(server.url);
    try {
      const a = await startSession(first);
      await startSession(second);
      const refused = await second.call('start_session', {});
      expect(refused).toMatchObject({ ok: false, error: { code: 'OVERLOADED', retryable: true, retry_after_ms: 5000 } });
      expect(refused.error.message).toMatch(/serves 2 sessions.*MAX_SESSIONS_PER_PROCESS=2/);
      await expect(capacityCheck(server.app.sessions)()).rejects.toThrow(/MAX_SESSIONS_PER_PROCESS=2/);
      // Not new work: a running session resumes at the cap.
      expect(await first.call('start_session', { session_id: a })).toMatchObject({ ok: true, resumed: true });

      expect(await first.call('end_session', { session_id: a })).toMatchObject({ ok: true });
      await until(() => server.app.sessions.overloaded() === undefined, 'room for a session');
      expect(await second.call('start_session', {})).toMatchObject({ ok: true, resumed: false });
    } finally {
      first.close();
      second.close();
    }
  });
});
