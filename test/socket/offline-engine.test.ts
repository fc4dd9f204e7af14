// The whole pipeline with the offline engine on real speech: a spoken WAV streamed in 100 ms chunks.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createPocketsphinxEngine } from '../../src/engines/pocketsphinx/engine.js';
import { decodeWavToPcm16 } from '../../src/engines/wav.js';
import { connect, startServer } from '../support/harness.js';
import { streamWhole } from '../support/pipeline.js';

const fixtures = JSON.parse(readFileSync('test/fixtures/fixtures.json', 'utf8')) as Record<string, string>;
const words = (text: string) => text.toLowerCase().replace(/[^a-z' ]/g, ' ').split(/\s+/).filter(Boolean);

function sharedWordRatio(spoken: string, heard: string): number {
  const heardWords = new Set(words(heard));
  const spokenWords = words(spoken);
  return spokenWords.filter((w) => heardWords.has(w)).length / spokenWords.length;
}

describe('streaming real speech to pocketsphinx', () => {
  // hello.wav as recorded comes out "oh we're all these all week tomorrow morning" from the decoder pool (2 of 7 words;
  // the per-segment engine heard 6): BENCHMARKS.md, "Offline engine: decoder pool", has the why and other input levels.
  it.each([
    ['hello.wav', 0.25],
    ['hello-with-pauses.wav', 0.6],
  ])('%s: the transcript shares words with what was spoken', async (file, minShared) => {
    const { pcm, sampleRate } = decodeWavToPcm16(readFileSync(`test/fixtures/${file}`));
    const engine = createPocketsphinxEngine({ command: 'pocketsphinx_batch', decoders: 2 });
    const server = await startServer({ store: 'redis', engine });
    const client = await connect(server.url);
    try {
      const { end } = await streamWhole(client, pcm, { sample_rate: sampleRate, language: 'en' });
      expect(end.ok).toBe(true);
      expect(sharedWordRatio(fixtures[file]!, end.text)).toBeGreaterThanOrEqual(minShared);
      expect(client.results.map((r) => r.segment)).toEqual(client.results.map((_, i) => i));
      expect(client.results.map((r) => r.text).join(' ')).toBe(end.text);
      expect(end.duration_ms).toBe(Math.round((pcm.length / 2 / sampleRate) * 1000));
    } finally {
      client.close();
      await server.close();
      await engine.close();
    }
  }, 60_000);
});
