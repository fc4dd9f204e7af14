// The page tests' check that a recording is the microphone's audio: it passes a 10 ms device glitch and catches a
// wrong sample rate.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeWavToPcm16 } from '../../src/audio/wav-decode.js';
import { blockFidelity, samplesOf } from './page-harness.js';

const reference = samplesOf(decodeWavToPcm16(readFileSync('test/fixtures/hello-with-pauses.wav')).pcm);
const window = { from: 1600, length: 80_000, maxLag: 4000 };

/** `reference` after `lead` samples of silence, with `gap` samples of silence inserted at `at`. */
function withSilence(lead: number, at: number, gap: number): Int16Array {
  const out = new Int16Array(lead + reference.length + gap);
  out.set(reference.subarray(0, at), lead);
  out.set(reference.subarray(at), lead + at + gap);
  return out;
}

/** `reference` read at `ratio` times its rate with linear interpolation (a resampler with the wrong rate). */
function atRate(ratio: number): Int16Array {
  const out = new Int16Array(Math.floor(reference.length / ratio));
  for (let i = 0; i < out.length; i++) {
    const position = i * ratio;
    const low = Math.floor(position);
    const high = Math.min(low + 1, reference.length - 1);
    out[i] = Math.round(reference[low]! + (reference[high]! - reference[low]!) * (position - low));
  }
  return out;
}

describe('blockFidelity', () => {
  it('finds every speech block of an exact copy, delayed', () => {
    const fidelity = blockFidelity(withSilence(138, 0, 0), reference, window);
    expect(fidelity.speechBlocks).toBeGreaterThanOrEqual(10);
    expect(fidelity.faithful).toBe(fidelity.speechBlocks);
    expect(fidelity.lagSteps).toBe(0);
  });

  it('counts a 10 ms glitch as one lag step and still finds the blocks around it', () => {
    const fidelity = blockFidelity(withSilence(0, 18_500, 160), reference, window);
    expect(fidelity.lagSteps).toBe(1);
    expect(fidelity.faithful / fidelity.speechBlocks).toBeGreaterThanOrEqual(0.9);
    expect(fidelity.median).toBeGreaterThan(0.99);
  });

  it('sees a rate 0.3 % off as a lag that moves at nearly every block', () => {
    const fidelity = blockFidelity(atRate(1.003), reference, window);
    expect(fidelity.lagSteps).toBeGreaterThan(fidelity.speechBlocks / 2);
  });

  it('fails audio resampled at a rate 1 % off on every count', () => {
    const fidelity = blockFidelity(atRate(1.01), reference, window);
    expect(fidelity.faithful).toBe(0);
    expect(fidelity.lagSteps).toBeGreaterThan(fidelity.speechBlocks / 2);
    expect(fidelity.median).toBeLessThan(0.9);
  });
});
