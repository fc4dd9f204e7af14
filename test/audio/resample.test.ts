// Resampling mono 16-bit PCM: pitch, length and level kept, no aliasing, no wrap-around at full scale.
import { describe, expect, it } from 'vitest';
import { resamplePcm16 } from '../../src/audio/resample.js';
import { pcmOf, samplesOf, sine } from '../support/audio.js';

function rms(pcm: Buffer, skip = 0): number {
  const s = samplesOf(pcm).slice(skip, pcm.length / 2 - skip);
  return Math.sqrt(s.reduce((sum, v) => sum + v * v, 0) / s.length);
}

function zeroCrossings(pcm: Buffer): number {
  const s = samplesOf(pcm);
  let n = 0;
  for (let i = 1; i < s.length; i++) if (s[i - 1]! < 0 !== s[i]! < 0) n++;
  return n;
}

describe('resamplePcm16', () => {
  it('returns the same buffer when the rates match', () => {
    const pcm = sine(440, 16000, 0.1);
    expect(resamplePcm16(pcm, 16000, 16000)).toBe(pcm);
  });

  it('keeps pitch, length and level of a tone when converting between common rates', () => {
    for (const [from, to] of [
      [48000, 16000],
      [8000, 16000],
      [44100, 16000],
      [16000, 22050],
    ] as const) {
      const input = sine(440, from, 1);
      const out = resamplePcm16(input, from, to);
      expect(out.length / 2, `${from}→${to} length`).toBe(to);
      expect(zeroCrossings(out), `${from}→${to} pitch`).toBeGreaterThanOrEqual(879);
      expect(zeroCrossings(out), `${from}→${to} pitch`).toBeLessThanOrEqual(881);
      expect(rms(out, 50) / rms(input, 50), `${from}→${to} level`).toBeCloseTo(1, 1);
    }
  });

  it('filters out what the lower rate cannot hold instead of aliasing it', () => {
    // 11 kHz at 48 kHz would fold to 5 kHz at 16 kHz without a low-pass.
    const out = resamplePcm16(sine(11000, 48000, 0.5), 48000, 16000);
    expect(rms(out, 50) / rms(sine(11000, 48000, 0.5), 50)).toBeLessThan(0.05);
  });

  it('reads samples from a buffer at an odd byte offset', () => {
    const pcm = sine(440, 8000, 0.1);
    const backing = Buffer.alloc(pcm.length + 1);
    pcm.copy(backing, 1);
    expect(resamplePcm16(backing.subarray(1), 8000, 16000).equals(resamplePcm16(pcm, 8000, 16000))).toBe(true);
  });

  it('clips instead of wrapping around at full scale', () => {
    const square = pcmOf(Array.from({ length: 400 }, (_, i) => (Math.floor(i / 20) % 2 === 0 ? 32767 : -32768)));
    const out = samplesOf(resamplePcm16(square, 16000, 44100));
    expect(Math.max(...out)).toBe(32767);
    expect(Math.min(...out)).toBe(-32768);
    // Overshoot wrapped around would put large values of the opposite sign next to full scale.
    for (let i = 1; i < out.length; i++) expect(Math.abs(out[i]! - out[i - 1]!)).toBeLessThan(40000);
  });

  it('refuses a half sample', () => {
    expect(() => resamplePcm16(Buffer.alloc(5), 8000, 16000)).toThrow(RangeError);
  });
});
