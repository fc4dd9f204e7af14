// Comparing decoded speech with its source: whole-signal correlation at the best small lag, and sample views.
import { type StreamDecoder } from '../../../src/audio/codecs/index.js';

export function samples(pcm: Buffer): Int16Array {
  const out = new Int16Array(pcm.length / 2);
  new Uint8Array(out.buffer).set(pcm);
  return out;
}

/** Normalised cross-correlation of a and b over their common length, best over lags −maxLag…maxLag samples. */
export function correlation(a: Int16Array, b: Int16Array, maxLag = 160): number {
  let best = -1;
  for (let lag = -maxLag; lag <= maxLag; lag++) {
    let ab = 0;
    let aa = 0;
    let bb = 0;
    const from = Math.max(0, -lag);
    const to = Math.min(a.length, b.length - lag);
    for (let i = from; i < to; i++) {
      const x = a[i]!;
      const y = b[i + lag]!;
      ab += x * y;
      aa += x * x;
      bb += y * y;
    }
    if (aa > 0 && bb > 0) best = Math.max(best, ab / Math.sqrt(aa * bb));
  }
  return best;
}

/** Everything the decoder gives for `chunks`, then its flush. */
export function decodeAll(decoder: StreamDecoder, chunks: Iterable<Uint8Array>): Buffer {
  const parts: Buffer[] = [];
  for (const c of chunks) parts.push(decoder.decode(c));
  parts.push(decoder.flush());
  return Buffer.concat(parts);
}

/** `bytes` cut at the given offsets (sorted, deduplicated, within range). */
export function cutAt(bytes: Uint8Array, offsets: number[]): Uint8Array[] {
  const cuts = [...new Set(offsets.map((o) => Math.min(bytes.length, Math.max(0, o))))].sort((x, y) => x - y);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const c of [...cuts, bytes.length]) {
    out.push(bytes.subarray(prev, c));
    prev = c;
  }
  return out;
}
