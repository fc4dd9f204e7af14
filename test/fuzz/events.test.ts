// Fuzzing the three client events on a real server (real Socket.IO, memory store, Whisper engine against the local
// stub): random and mutated payloads always get one well-formed ack, and a well-behaved session beside them —
// whose id the fuzzer knows and uses — completes untouched. Seeded and bounded: a failure prints its seed and path.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOpenAIEngine } from '../../src/engines/openai.js';
import { AUDIO_FORMATS, ErrorCode } from '../../src/protocol/index.js';
import { chunksOf, loudPcm } from '../support/audio.js';
import { connect, startServer, type TestClient, type TestServer } from '../support/harness.js';
import { startOpenAIStub, type OpenAIStub } from '../support/openai-stub.js';
import { startSession } from '../support/pipeline.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261130);
const RUNS = Number(process.env.FUZZ_RUNS ?? 400);
const CODES = new Set<string>(Object.values(ErrorCode));
const EVENTS = ['start_session', 'audio_chunk', 'end_session'] as const;

/** Accepted, or refused with a protocol code, a message and a retryable flag: nothing else may come back. */
function expectWellFormed(ack: any, what: string): void {
  if (ack?.ok === true) return;
  const ok = ack?.ok === false && CODES.has(ack.error?.code) && typeof ack.error.message === 'string' && ack.error.message.length > 0 && typeof ack.error.retryable === 'boolean';
  if (!ok) throw new Error(`malformed ack for ${what}: ${JSON.stringify(ack)?.slice(0, 300)}`);
}

describe('fuzzing the events', () => {
  let stub: OpenAIStub;
  let server: TestServer;
  let fuzzer: TestClient;
  let owner: TestClient;

  beforeAll(async () => {
    stub = await startOpenAIStub({ respond: () => ({ text: 'steady' }) });
    const engine = createOpenAIEngine({ apiKey: 'sk-test', baseUrl: stub.url, model: 'whisper-1', maxRetries: 0, timeoutMs: 10_000 });
    server = await startServer({ store: 'memory', engine, env: { AUDIO_RATE_LIMIT: '0' } });
    fuzzer = await connect(server.url);
    owner = await connect(server.url);
  });
  afterAll(async () => {
    fuzzer?.close();
    owner?.close();
    await server?.close();
    await stub?.close();
  });

  it('every payload gets a well-formed ack, and the session beside the fuzzer completes', async () => {
    const goodId = await startSession(owner);
    // The well-behaved session: 4 s of speech in 100 ms chunks, streamed while the fuzzer runs.
    const goodChunks = chunksOf(loudPcm(4000), 100);
    const good = (async () => {
      for (let seq = 0; seq < goodChunks.length; seq++) {
        const ack = await owner.call('audio_chunk', { session_id: goodId, seq, chunk: goodChunks[seq] });
        if (!ack.ok) throw new Error(`the well-behaved session's chunk ${seq} was refused: ${JSON.stringify(ack)}`);
        await new Promise((r) => setTimeout(r, 5));
      }
      return owner.call('end_session', { session_id: goodId });
    })();
    // Settled here, so its failure is reported after the fuzzing rather than as an unhandled rejection.
    const goodOutcome = good.then((end) => ({ end, error: undefined }), (error: unknown) => ({ end: undefined, error }));

    // The fuzzer's own sessions, opened as it goes, so mutated payloads hit live sessions too.
    const ownIds: string[] = [];
    const sessionId = fc.oneof(
      fc.constant(goodId),
      fc.constantFrom('', ' ', 'x'.repeat(129), 'ok-id', '../../etc/passwd', '{sess}', 'a:b', '\u0000', '🙂'),
      fc.string({ maxLength: 140 }),
      fc.integer().map((i) => ownIds[Math.abs(i) % Math.max(1, ownIds.length)] ?? 'none'),
      fc.anything(),
    );
    const chunk = fc.oneof(
      fc.uint8Array({ maxLength: 4000 }),
      // Starts of an Ogg page or a WebM header with garbage after, for the decoded formats' sessions.
      fc.uint8Array({ maxLength: 600 }).map((rest) => Buffer.concat([Buffer.from('OggS\0\x02', 'latin1'), rest])),
      fc.uint8Array({ maxLength: 600 }).map((rest) => Buffer.concat([Buffer.from([0x1a, 0x45, 0xdf, 0xa3]), rest])),
      fc.integer({ min: 0, max: 70_000 }).map((n) => Buffer.alloc(n, 1)),
      fc.constant(new ArrayBuffer(3200)),
      fc.constant(new Uint8Array(new ArrayBuffer(10), 1, 5)),
      fc.string(),
      fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 50 }),
      fc.constant({ _placeholder: true, num: 0 }),
      fc.constant({ _placeholder: true, num: 'splice' }),
      fc.anything(),
    );
    const seq = fc.oneof(fc.nat(50), fc.integer(), fc.double(), fc.constant(Number.MAX_SAFE_INTEGER + 2), fc.string(), fc.constant(null), fc.constant(undefined));
    const valid = {
      start_session: fc.record(
        {
          session_id: sessionId,
          format: fc.oneof(fc.constantFrom(...AUDIO_FORMATS), fc.string()),
          sample_rate: fc.oneof(fc.constantFrom(8000, 16000, 48000), fc.integer(), fc.double()),
          channels: fc.oneof(fc.constant(1), fc.integer()),
          language: fc.oneof(fc.constantFrom('en', 'pt-BR'), fc.string()),
          prompt: fc.string({ maxLength: 1200 }),
          model: fc.string({ maxLength: 120 }),
          resume_token: fc.string({ maxLength: 220 }),
          interim_results: fc.anything(),
          interim_interval_ms: fc.oneof(fc.nat(10_000), fc.double()),
        },
        { requiredKeys: [] },
      ),
      audio_chunk: fc.record({ session_id: sessionId, seq, chunk }, { requiredKeys: [] }),
      end_session: fc.record({ session_id: sessionId }, { requiredKeys: [] }),
    };
    const withExtra = (base: fc.Arbitrary<Record<string, unknown>>) =>
      fc.tuple(base, fc.dictionary(fc.string({ maxLength: 12 }), fc.anything(), { maxKeys: 3 })).map(([b, extra]) => ({ ...extra, ...b }));
    const call = fc.tuple(
      fc.constantFrom(...EVENTS),
      fc.nat(4),
      fc.anything(),
    ).chain(([event, mode, anything]) => {
      if (mode === 0) return fc.constant({ event, payload: anything as unknown });
      if (mode === 1) return withExtra(valid[event]).map((payload) => ({ event, payload: payload as unknown }));
      return valid[event].map((payload) => ({ event, payload: payload as unknown }));
    });

    await fc.assert(
      fc.asyncProperty(call, async ({ event, payload }) => {
        const ack = await fuzzer.call(event, payload);
        expectWellFormed(ack, event);
        if (event === 'start_session' && ack.ok && !ownIds.includes(ack.session_id)) ownIds.push(ack.session_id);
        // The fuzzer must never reach into the well-behaved session.
        if (ack.ok && event !== 'start_session' && (payload as { session_id?: unknown })?.session_id === goodId) {
          throw new Error(`${event} from another connection was accepted for the well-behaved session`);
        }
      }),
      { seed: SEED, numRuns: RUNS, interruptAfterTimeLimit: 40_000, markInterruptAsFailure: false, endOnFailure: true },
    );

    const { end, error } = await goodOutcome;
    if (error) throw error;
    expect(end).toMatchObject({ ok: true, session_id: goodId, duration_ms: 4000 });
    expect(end.text).toMatch(/steady/);
    expect(owner.results.filter((r) => r.session_id === goodId).length).toBe(end.segments);
    expect(fuzzer.results.some((r) => r.session_id === goodId)).toBe(false);
    // The fuzzer's connection is still usable.
    expect((await fuzzer.call('start_session', {})).ok).toBe(true);
  }, 90_000);

  it('payloads without an ack callback, and several arguments, leave the connection working', async () => {
    const raw = fuzzer.socket as unknown as { emit(event: string, ...args: unknown[]): void };
    for (const event of [...EVENTS, 'unknown_event', 'transcription_result']) {
      raw.emit(event);
      raw.emit(event, { session_id: 'x' });
      raw.emit(event, 1, 2, 3);
    }
    expect((await fuzzer.call('start_session', {})).ok).toBe(true);
  });
});
