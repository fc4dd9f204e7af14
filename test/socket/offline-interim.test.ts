// Interim results with the offline engine on real speech: the decoder pool transcribes the growing segment, the
// interims carry the final's segment number, and the finals match a session without interims.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPocketsphinxEngine } from '../../src/engines/pocketsphinx/engine.js';
import type { TranscriptionEngine } from '../../src/engines/engine.js';
import { decodeWavToPcm16 } from '../../src/engines/wav.js';
import { chunksOf } from '../support/audio.js';
import { connect, startServer, type TestClient, type TestServer } from '../support/harness.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function stream(client: TestClient, pcm: Buffer, sampleRate: number, options: Record<string, unknown>) {
  const start = await client.call('start_session', { sample_rate: sampleRate, language: 'en', ...options });
  expect(start.ok).toBe(true);
  const chunks = chunksOf(pcm, 100, sampleRate);
  for (let seq = 0; seq < chunks.length; seq++) {
    expect((await client.call('audio_chunk', { session_id: start.session_id, seq, chunk: chunks[seq] })).ok).toBe(true);
    // Real time, as a speaker: the decoder has time for interims while the segment grows.
    await sleep(100);
  }
  return client.call('end_session', { session_id: start.session_id });
}

describe('interim results with pocketsphinx', () => {
  let engine: TranscriptionEngine;
  let server: TestServer;
  beforeAll(async () => {
    engine = createPocketsphinxEngine({ command: 'pocketsphinx_batch', decoders: 2 });
    // No pause cuts before 7 s: the first segment grows for seconds, room for interims even on a busy machine.
    server = await startServer({ store: 'memory', engine, env: { SEGMENT_MIN_MS: '7000', SEGMENT_MAX_MS: '8000' } });
  });
  afterAll(async () => {
    await server.close();
    await engine.close?.();
  });

  it('sends interims of the growing segment before its final; the final is the one a session without interims gets', async () => {
    const { pcm, sampleRate } = decodeWavToPcm16(readFileSync('test/fixtures/hello-with-pauses.wav'));
    const withInterims = await connect(server.url);
    const without = await connect(server.url);
    try {
      const endWith = await stream(withInterims, pcm, sampleRate, { interim_results: true, interim_interval_ms: 1000 });
      const endWithout = await stream(without, pcm, sampleRate, {});
      expect(endWith.ok && endWithout.ok).toBe(true);
      expect(endWith.text).toBe(endWithout.text);
      expect(endWith.text).toMatch(/hello|world|morning|tomorrow|see|later/);

      const finals = withInterims.results.filter((r) => r.is_final);
      const interims = withInterims.results.filter((r) => !r.is_final);
      expect(finals.map((r) => [r.segment, r.text])).toEqual(without.results.map((r) => [r.segment, r.text]));
      expect(interims.length).toBeGreaterThanOrEqual(1);
      for (const interim of interims) {
        const final = finals.find((r) => r.segment === interim.segment)!;
        expect(final).toBeDefined();
        expect(interim.start_ms).toBe(final.start_ms);
        expect(interim.end_ms).toBeLessThan(final.end_ms);
        expect(withInterims.results.indexOf(interim)).toBeLessThan(withInterims.results.indexOf(final));
      }
    } finally {
      withInterims.close();
      without.close();
    }
  }, 60_000);
});
