// Resampling of mono 16-bit PCM between any two rates (Lanczos, low-pass when downsampling); Node only: it takes
// and returns Buffers, as the engines and scripts that use it hold their audio in Buffers.
import { assertSampleRate, assertWholeSamples, BYTES_PER_SAMPLE } from './pcm.js';

/**
 * Resamples mono 16-bit PCM with a Lanczos (a = 3) kernel, widened when downsampling so it also
 * low-pass filters (no aliasing from 48 kHz to 16 kHz). Returns `pcm` itself when the rates match.
 */
export function resamplePcm16(pcm: Buffer, fromRate: number, toRate: number): Buffer {
  assertWholeSamples(pcm.length);
  assertSampleRate(fromRate);
  assertSampleRate(toRate);
  if (fromRate === toRate || pcm.length === 0) return pcm;

  const input = int16View(pcm);
  const inCount = input.length;
  const outCount = Math.max(1, Math.round((inCount * toRate) / fromRate));
  // A fresh Int16Array (not the Buffer pool) so the view is always 2-byte aligned.
  const output = new Int16Array(outCount);

  // Output sample i sits at input position i * from / to. With g = gcd(from, to) that position's
  // fractional part cycles through `phases` values, so kernel weights are computed once per phase
  // (for the usual rates: 8 kHz → 2 phases, 44.1 kHz → 160); odd rate pairs compute them per sample.
  const g = gcd(fromRate, toRate);
  const step = fromRate / g;
  const phases = toRate / g;
  const scale = Math.max(1, fromRate / toRate); // kernel stretch: cut off at the lower Nyquist
  const reach = Math.ceil(LANCZOS_A * scale);
  const taps = 2 * reach;
  const cached = phases <= MAX_CACHED_PHASES;
  const weights = new Float64Array((cached ? phases : 1) * taps);
  if (cached) for (let phase = 0; phase < phases; phase++) fillWeights(weights, phase * taps, taps, reach, phase / phases, scale);

  const last = inCount - 1;
  for (let i = 0; i < outCount; i++) {
    const position = i * step;
    const base = Math.floor(position / phases);
    const phase = position - base * phases;
    let w0 = 0;
    if (cached) w0 = phase * taps;
    else fillWeights(weights, 0, taps, reach, phase / phases, scale);
    const first = base - reach + 1;
    let acc = 0;
    for (let t = 0; t < taps; t++) {
      let j = first + t;
      if (j < 0) j = 0;
      else if (j > last) j = last; // repeat the edge sample instead of inventing silence
      acc += input[j]! * weights[w0 + t]!;
    }
    output[i] = acc >= 32767 ? 32767 : acc <= -32768 ? -32768 : Math.round(acc);
  }
  return Buffer.from(output.buffer, output.byteOffset, output.byteLength);
}

const LANCZOS_A = 3;
const MAX_CACHED_PHASES = 4096;

/** Kernel weights for taps at distances (t - reach + 1 - frac), normalised to unity gain at DC. */
function fillWeights(into: Float64Array, offset: number, taps: number, reach: number, frac: number, scale: number): void {
  let sum = 0;
  for (let t = 0; t < taps; t++) {
    const w = lanczos((t - reach + 1 - frac) / scale);
    into[offset + t] = w;
    sum += w;
  }
  for (let t = 0; t < taps; t++) into[offset + t]! /= sum;
}

function lanczos(x: number): number {
  if (x === 0) return 1;
  if (x <= -LANCZOS_A || x >= LANCZOS_A) return 0;
  const px = Math.PI * x;
  return (LANCZOS_A * Math.sin(px) * Math.sin(px / LANCZOS_A)) / (px * px);
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** Int16 samples of `pcm` (host order: little-endian on every platform Node supports in practice). */
function int16View(pcm: Buffer): Int16Array {
  if (pcm.byteOffset % BYTES_PER_SAMPLE === 0) {
    return new Int16Array(pcm.buffer, pcm.byteOffset, pcm.length / BYTES_PER_SAMPLE);
  }
  // An odd offset (a slice of a larger message) cannot be viewed as Int16: copy once.
  const aligned = new Int16Array(pcm.length / BYTES_PER_SAMPLE);
  new Uint8Array(aligned.buffer).set(pcm);
  return aligned;
}
