// The worklet's audio conversion, run in Node: downmix, band-limited resampling to 16 kHz, 16-bit samples, 100 ms chunks.
import { describe, expect, it } from 'vitest';
import { DEFAULT_SAMPLE_RATE } from '../../src/audio/pcm.js';
import { CHUNK_SAMPLES, PcmChunker, toInt16 } from '../../src/web/pcm-chunker.js';

function sine(rate: number, seconds: number, hz: number, amplitude: number): Float32Array {
  const out = new Float32Array(Math.round(rate * seconds));
  for (let i = 0; i < out.length; i++) out[i] = amplitude * Math.sin((2 * Math.PI * hz * i) / rate);
  return out;
}

/** Feeds `channels` in render-quantum-sized blocks like an AudioWorklet and returns every sample produced. */
function convert(rate: number, channels: Float32Array[], block = 128): { chunks: Int16Array[]; samples: Int16Array } {
  const chunker = new PcmChunker(rate);
  const chunks: Int16Array[] = [];
  const frames = channels[0]!.length;
  for (let start = 0; start < frames; start += block) {
    chunks.push(...chunker.push(channels.map((channel) => channel.subarray(start, Math.min(frames, start + block)))));
  }
  chunks.push(...chunker.flush());
  const samples = new Int16Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    samples.set(chunk, offset);
    offset += chunk.length;
  }
  return { chunks, samples };
}

/** Largest difference from the ideal 16 kHz signal, in full-scale units, away from the stream's two edges. */
function worstError(samples: Int16Array, hz: number, amplitude: number): number {
  let worst = 0;
  for (let i = 100; i < samples.length - 100; i++) {
    const ideal = amplitude * Math.sin((2 * Math.PI * hz * i) / DEFAULT_SAMPLE_RATE);
    worst = Math.max(worst, Math.abs(samples[i]! / 32768 - ideal));
  }
  return worst;
}

function rms(samples: Int16Array, from = 100, to = samples.length - 100): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum += (samples[i]! / 32768) ** 2;
  return Math.sqrt(sum / (to - from));
}

describe('PcmChunker', () => {
  it.each([48000, 44100, 32000, 22050, 16000, 8000])('%i Hz: keeps a 440 Hz tone and yields exactly the 16 kHz sample count', (rate) => {
    const input = sine(rate, 1.3, 440, 0.5);
    const { samples } = convert(rate, [input]);
    expect(samples.length).toBe(Math.ceil((input.length * DEFAULT_SAMPLE_RATE) / rate));
    expect(worstError(samples, 440, 0.5)).toBeLessThan(0.01);
  });

  it('cuts 100 ms chunks and hands over the shorter tail at flush', () => {
    const { chunks } = convert(48000, [sine(48000, 0.35, 300, 0.3)]);
    expect(chunks.map((chunk) => chunk.length)).toEqual([CHUNK_SAMPLES, CHUNK_SAMPLES, CHUNK_SAMPLES, 800]);
  });

  it('gives the same samples whatever the block sizes the browser delivers', () => {
    const input = sine(44100, 0.5, 1000, 0.4);
    const reference = convert(44100, [input], input.length).samples;
    for (const block of [1, 128, 441, 4096]) expect(convert(44100, [input], block).samples).toEqual(reference);
  });

  it('removes tones above 8 kHz instead of folding them into the speech band', () => {
    const { samples } = convert(48000, [sine(48000, 1, 12000, 0.5)]);
    // An unfiltered 3:1 decimation would turn this into a 4 kHz tone at full strength (RMS 0.35).
    expect(20 * Math.log10(rms(samples) / (0.5 / Math.SQRT2))).toBeLessThan(-40);
  });

  it('downmixes channels by averaging them', () => {
    const left = sine(48000, 0.5, 500, 0.4);
    const inverted = left.map((value) => -value);
    expect(rms(convert(48000, [left, inverted]).samples)).toBe(0);
    expect(convert(48000, [left, left]).samples).toEqual(convert(48000, [left]).samples);
  });

  it('clips overdriven input to the 16-bit range', () => {
    expect([toInt16(1.5), toInt16(1), toInt16(0), toInt16(-1), toInt16(-3)]).toEqual([32767, 32767, 0, -32768, -32768]);
  });
});
