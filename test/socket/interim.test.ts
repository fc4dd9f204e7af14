// Interim results end to end with the real server and a real OpenAI-compatible HTTP stub: interims of a growing
// segment share the number of the final that replaces them, finals are the same with and without interims, and
// interims are shed — never queued — when the engine is busy.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createOpenAIEngine } from '../../src/engines/openai.js';
import { AdmissionControl } from '../../src/scheduler/admission.js';
import type { TranscriptionResult } from '../../src/protocol/index.js';
import { chunksOf, loudPcm, silentPcm } from '../support/audio.js';
import { connect, startServer, type TestClient, type TestServer } from '../support/harness.js';
import { gate, startOpenAIStub, type OpenAIStub } from '../support/openai-stub.js';
import { startSession } from '../support/pipeline.js';

/** The stub answers with the audio's length, so the same audio always gets the same text. */
function stubByLength(delayMs: number) {
  return startOpenAIStub({ respond: (upload) => ({ text: `heard ${upload.pcm.length} bytes`, delayMs }) });
}

const engineOf = (stub: OpenAIStub) =>
  createOpenAIEngine({ apiKey: 'sk-test', baseUrl: stub.url, model: 'whisper-1', maxRetries: 0, timeoutMs: 10_000 });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sends `pcm` in 100 ms chunks, one every `everyMs` of wall time, each after its ack. */
async function send(client: TestClient, sessionId: string, pcm: Buffer, everyMs: number) {
  const chunks = chunksOf(pcm, 100);
  for (let seq = 0; seq < chunks.length; seq++) {
    const ack = await client.call('audio_chunk', { session_id: sessionId, seq, chunk: chunks[seq] });
    expect(ack.ok).toBe(true);
    await sleep(everyMs);
  }
}

/** Streams `pcm` as `send` does; returns end_session's ack. */
async function stream(client: TestClient, sessionId: string, pcm: Buffer, everyMs: number) {
  await send(client, sessionId, pcm, everyMs);
  return client.call('end_session', { session_id: sessionId });
}

/** 6 s of speech, a pause, 3 s of speech: two segments, the first long enough for interims. */
const speech = () => Buffer.concat([loudPcm(6000, 16000, 3), silentPcm(1000), loudPcm(3000, 16000, 4)]);

describe('interim results', () => {
  let stub: OpenAIStub;
  let server: TestServer;
  beforeAll(async () => {
    stub = await stubByLength(100);
    server = await startServer({ store: 'memory', engine: engineOf(stub), env: { SEGMENT_MAX_MS: '8000' } });
  });
  afterAll(async () => {
    await server.close();
    await stub.close();
  });

  it('sends interims before a long segment’s final, with its number; the finals are those of a session without interims', async () => {
    const withInterims = await connect(server.url);
    const without = await connect(server.url);
    try {
      const ack = await withInterims.call('start_session', { interim_results: true, interim_interval_ms: 1000 });
      expect(ack).toMatchObject({ ok: true, interim_interval_ms: 1000 });
      const plainAck = await without.call('start_session', {});
      expect(plainAck.interim_interval_ms).toBeUndefined();
      const [endWith, endWithout] = await Promise.all([
        stream(withInterims, ack.session_id, speech(), 25),
        stream(without, plainAck.session_id, speech(), 25),
      ]);

      const finals = (results: TranscriptionResult[]) => results.filter((r) => r.is_final).map((r) => [r.segment, r.text, r.start_ms, r.end_ms]);
      expect(finals(withInterims.results)).toEqual(finals(without.results));
      expect(endWith.text).toBe(endWithout.text);
      expect(without.results.every((r) => r.is_final)).toBe(true);

      const interims = withInterims.results.filter((r) => !r.is_final);
      expect(interims.length).toBeGreaterThanOrEqual(1);
      for (const interim of interims) {
        const final = withInterims.results.find((r) => r.is_final && r.segment === interim.segment)!;
        expect(final).toBeDefined();
        // Before its final, covering the segment from its start to audio heard so far.
        expect(withInterims.results.indexOf(interim)).toBeLessThan(withInterims.results.indexOf(final));
        expect(interim.start_ms).toBe(final.start_ms);
        expect(interim.end_ms).toBeGreaterThan(interim.start_ms);
        expect(interim.end_ms).toBeLessThanOrEqual(final.end_ms);
        expect(interim.text).toBe(`heard ${((interim.end_ms - interim.start_ms) * 32)} bytes`);
      }
      // Per segment: zero or more interims, then exactly one final, never an interim after it.
      const seen = new Set<number>();
      for (const result of withInterims.results) {
        expect(seen.has(result.segment)).toBe(false);
        if (result.is_final) seen.add(result.segment);
      }
    } finally {
      withInterims.close();
      without.close();
    }
  });

  it('refuses an interval out of bounds, naming the field', async () => {
    const client = await connect(server.url);
    try {
      const ack = await client.call('start_session', { interim_results: true, interim_interval_ms: 10 });
      expect(ack).toMatchObject({ ok: false, error: { code: 'INVALID_PAYLOAD' } });
      expect(ack.error.message).toMatch(/interim_interval_ms must be from 250/);
    } finally {
      client.close();
    }
  });

  it('gives silence no interim', async () => {
    const client = await connect(server.url);
    try {
      const sessionId = await startSession(client, { interim_results: true, interim_interval_ms: 500 });
      const before = stub.uploads.length;
      const end = await stream(client, sessionId, silentPcm(3000), 5);
      expect(end).toMatchObject({ ok: true, segments: 0 });
      expect(stub.uploads.length).toBe(before);
      expect(client.results).toEqual([]);
    } finally {
      client.close();
    }
  });
});

describe('interim results under a saturated engine', () => {
  it('are shed, not queued, while the engine is busy: every final still arrives', async () => {
    // The engine is busy for as long as the test says: it answers nothing until all the audio is in.
    const engine = gate();
    const stub = await startOpenAIStub({ respond: (upload) => ({ text: `heard ${upload.pcm.length} bytes`, hold: engine.held }) });
    // One request at a time: while a final runs, no interim may start.
    const server = await startServer({ store: 'memory', engine: engineOf(stub), env: { SEGMENT_MAX_MS: '2000', SEGMENT_MIN_MS: '500', ENGINE_CONCURRENCY: '1' } });
    const asked = vi.spyOn(server.app.scheduler, 'askInterimRoom');
    // Three sessions of 1 s segments on a one-slot engine is overload on purpose: admission (test/scheduler) would
    // turn two away; here it lets them in, so that the interims' shedding is what is tested.
    const admissionOff = vi.spyOn(AdmissionControl.prototype, 'refusal').mockReturnValue(undefined);
    const clients = await Promise.all([connect(server.url), connect(server.url), connect(server.url)]);
    try {
      const sessions = await Promise.all(clients.map((c) => startSession(c, { interim_results: true, interim_interval_ms: 500 })));
      await Promise.all(clients.map((c, i) => send(c, sessions[i]!, loudPcm(6000, 16000, 10 + i), 10)));
      // Interims came due while the engine was busy and were turned away: the engine holds its one request, no more.
      expect(asked.mock.results.filter((r) => r.value === false).length).toBeGreaterThan(0);
      expect(stub.uploads).toHaveLength(1);
      engine.open();
      const ends = await Promise.all(clients.map((c, i) => c.call('end_session', { session_id: sessions[i]! })));
      const interimUploads = stub.uploads.filter((u) => u.pcm.length % 64000 !== 0 || u.pcm.length === 0);
      for (const [i, client] of clients.entries()) {
        expect(ends[i]).toMatchObject({ ok: true, segments: 3, duration_ms: 6000 });
        expect(client.results.filter((r) => r.is_final).map((r) => r.segment)).toEqual([0, 1, 2]);
      }
      // Three sessions × three 2 s segments = 9 finals; the engine took few interims besides (each only in an idle slot).
      const finals = stub.uploads.filter((u) => u.pcm.length === 64000);
      expect(finals).toHaveLength(9);
      const interimsSent = clients.flatMap((c) => c.results.filter((r) => !r.is_final));
      expect(interimsSent.length).toBeLessThanOrEqual(stub.uploads.length - finals.length);
      expect(stub.uploads.length - finals.length).toBeLessThan(9);
      expect(interimUploads.length).toBe(stub.uploads.length - finals.length);
    } finally {
      admissionOff.mockRestore();
      for (const c of clients) c.close();
      await server.close();
      await stub.close();
    }
  });
});
