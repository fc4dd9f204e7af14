// The energy VAD (a frame is speech when its RMS level reaches VAD_SPEECH_DBFS, whatever the chunk's alignment) and
// the page meter's level.
import { describe, expect, it } from 'vitest';
import { forEachFrame, hasSpeech, levelDbfs, speechStart } from '../../src/audio/vad.js';

/** 10 ms frames at 16 kHz of constant amplitude, one amplitude per frame. */
function framesOf(amplitudes: number[]): Buffer {
  const pcm = Buffer.alloc(amplitudes.length * 320);
  amplitudes.forEach((amplitude, frame) => {
    for (let i = 0; i < 160; i++) pcm.writeInt16LE(i % 2 === 0 ? amplitude : -amplitude, frame * 320 + i * 2);
  });
  return pcm;
}

function speechFlags(pcm: Uint8Array, speechDbfs: number): boolean[] {
  const flags: boolean[] = [];
  forEachFrame(pcm, 16000, speechDbfs, (isSpeech) => {
    flags.push(isSpeech);
  });
  return flags;
}

describe('VAD', () => {
  it('measures the RMS level against full scale', () => {
    // A square wave at half scale is -6.02 dBFS.
    expect(speechFlags(framesOf([16384]), -6.03)).toEqual([true]);
    expect(speechFlags(framesOf([16384]), -6.01)).toEqual([false]);
    expect(speechFlags(framesOf([0]), -120)).toEqual([false]);
  });

  it('calls a frame speech exactly from the threshold up', () => {
    // -45 dBFS is an amplitude of 184.3 for a square wave: 184 is below, 185 above.
    expect(speechFlags(framesOf([184, 185, 0, 3000]), -45)).toEqual([false, true, false, true]);
    expect(20 * Math.log10(184 / 32768)).toBeLessThan(-45);
    expect(20 * Math.log10(185 / 32768)).toBeGreaterThanOrEqual(-45);
  });

  it('reads chunks that start at an odd byte offset the same as aligned ones', () => {
    const aligned = framesOf([0, 500, 100, 4000, 0]);
    const backing = Buffer.alloc(aligned.length + 1);
    aligned.copy(backing, 1);
    const unaligned = backing.subarray(1);
    expect(unaligned.byteOffset % 2).toBe(1);
    expect(speechFlags(aligned, -40)).toEqual([false, true, false, true, false]);
    expect(speechFlags(unaligned, -40)).toEqual(speechFlags(aligned, -40));
  });

  it('reports every byte in frame sizes, the last frame short', () => {
    const sizes: number[] = [];
    forEachFrame(framesOf([1, 1, 1]).subarray(0, 800), 16000, -45, (_speech, bytes) => {
      sizes.push(bytes);
    });
    expect(sizes).toEqual([320, 320, 160]);
  });

  it('stops when the callback says so', () => {
    let frames = 0;
    forEachFrame(framesOf([9000, 9000, 9000, 9000]), 16000, -45, () => ++frames === 2);
    expect(frames).toBe(2);
  });
});

describe('speechStart', () => {
  it('is where the first loud frame begins once three are loud, and what hasSpeech answers', () => {
    const loud = 16384;
    // Two quiet frames, a loud one, a quiet one, two loud ones: speech from byte 640.
    const speech = framesOf([0, 0, loud, 0, loud, loud]);
    expect(speechStart(speech, 16000, -20)).toBe(640);
    expect(hasSpeech(speech, 16000, -20)).toBe(true);
    // Two loud frames are a click, not speech.
    const click = framesOf([0, loud, loud, 0]);
    expect(speechStart(click, 16000, -20)).toBeUndefined();
    expect(hasSpeech(click, 16000, -20)).toBe(false);
    expect(speechStart(Buffer.alloc(0), 16000, -20)).toBeUndefined();
  });
});

describe('levelDbfs', () => {
  it('is the RMS level against full scale, −Infinity for silence or nothing', () => {
    const frame = framesOf([16384]);
    const half = new Int16Array(frame.buffer, frame.byteOffset, 160);
    expect(levelDbfs(half)).toBeCloseTo(20 * Math.log10(0.5), 10);
    expect(levelDbfs(Int16Array.from([-32768, -32768]))).toBe(0);
    expect(levelDbfs(new Int16Array(160))).toBe(-Infinity);
    expect(levelDbfs(new Int16Array(0))).toBe(-Infinity);
  });
});
