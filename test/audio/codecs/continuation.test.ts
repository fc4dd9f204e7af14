// A decoder's continuation, restored in a fresh decoder (another process), goes on with the same stream.
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AudioDecodeError,
  createStreamDecoder,
  MAX_CONTINUATION_BYTES,
  restoreStreamDecoder,
  type StreamFormat,
} from '../../../src/audio/codecs/index.js';
import { type CodecFixtures, codecFixtures } from './fixtures.js';
import { correlation, decodeAll, samples } from './helpers.js';

let f: CodecFixtures;
beforeAll(() => {
  f = codecFixtures();
});

const options = { sampleRate: 16000 };

/** Decodes bytes[0, cut) in one decoder, the rest in one restored from its continuation. */
async function moved(format: StreamFormat, bytes: Uint8Array, cut: number, opts = options): Promise<{ out: Buffer; before: number; size: number }> {
  const first = await createStreamDecoder(format, opts);
  const head = first.decode(bytes.subarray(0, cut));
  const state = first.continuation();
  first.close();
  const second = await restoreStreamDecoder(format, opts, state);
  try {
    return { out: Buffer.concat([head, decodeAll(second, [bytes.subarray(cut)])]), before: head.length / 2, size: state.length };
  } finally {
    second.close();
  }
}

describe.each([
  ['pcm_s16le', (x: CodecFixtures) => x.pcm16k, { sampleRate: 16000 }],
  ['mulaw', (x: CodecFixtures) => x.mulaw, { sampleRate: 16000, inputRate: 8000 }],
  ['alaw', (x: CodecFixtures) => x.alaw, { sampleRate: 8000 }],
] as const)('%s', (format, bytesOf, opts) => {
  it('continues exactly: the same PCM as without the move, wherever the cut', async () => {
    const bytes = bytesOf(f);
    const d = await createStreamDecoder(format, opts);
    const whole = decodeAll(d, [bytes]);
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: bytes.length }), async (cut) => {
        const { out, size } = await moved(format, bytes, cut, opts);
        expect(out.equals(whole)).toBe(true);
        expect(size).toBeLessThan(200);
      }),
      { numRuns: 30 },
    );
  });
});

describe.each([
  ['ogg_opus', (x: CodecFixtures) => x.ogg],
  ['webm_opus', (x: CodecFixtures) => x.webmLive],
  ['webm_opus', (x: CodecFixtures) => x.webm],
] as const)('%s', (format, bytesOf) => {
  it('continues at the next byte: length right, content close to the uninterrupted decode, a small snapshot', async () => {
    const bytes = bytesOf(f);
    const d = await createStreamDecoder(format, options);
    const whole = samples(decodeAll(d, [bytes]));
    d.close();
    const sizes: number[] = [];
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: bytes.length }), async (cut) => {
        const { out, before, size } = await moved(format, bytes, cut);
        const s = samples(out);
        expect(s.length).toBe(whole.length); // the same packets are decoded: no byte lost or repeated
        expect(Array.from(s.subarray(0, before))).toEqual(Array.from(whole.subarray(0, before)));
        expect(correlation(s, whole, 0)).toBeGreaterThan(0.999);
        sizes.push(size);
        expect(size).toBeLessThanOrEqual(MAX_CONTINUATION_BYTES);
      }),
      { numRuns: 20 },
    );
    console.info(`${format}: continuation sizes ${Math.min(...sizes)}–${Math.max(...sizes)} bytes`);
  });

  it('glitches only briefly after a move: the fresh libopus decoder converges within a few packets', async () => {
    const bytes = bytesOf(f);
    const d = await createStreamDecoder(format, options);
    const whole = samples(decodeAll(d, [bytes]));
    d.close();
    // Cut in the middle of the speech; compare 20 ms windows after the restore point with the uninterrupted decode.
    const { out, before } = await moved(format, bytes, Math.floor(bytes.length / 2));
    const s = samples(out);
    const window = 320;
    const errorDb = (from: number): number => {
      let e = 0;
      let p = 0;
      for (let i = from; i < from + window; i++) {
        e += (s[i]! - whole[i]!) ** 2;
        p += whole[i]! ** 2;
      }
      return 10 * Math.log10(p / Math.max(e, 1));
    };
    const snrs = [0, 1, 2, 3, 4, 5].map((w) => errorDb(before + w * window));
    // A fresh libopus warmed by the 160 ms pre-roll: close to the uninterrupted decode from the first packet.
    expect(Math.min(...snrs)).toBeGreaterThan(35);
    console.info(`${format}: SNR of 20 ms windows after a move vs uninterrupted (dB): ${snrs.map((x) => x.toFixed(1)).join(', ')}`);
  });
});

describe('invalid continuations', () => {
  it('refuses garbage, a truncated one and one from another format with AudioDecodeError', async () => {
    const d = await createStreamDecoder('ogg_opus', options);
    d.decode(f.ogg.subarray(0, 5000));
    const state = d.continuation();
    d.close();
    await expect(restoreStreamDecoder('ogg_opus', options, new Uint8Array([1, 2, 3]))).rejects.toThrow(AudioDecodeError);
    await expect(restoreStreamDecoder('ogg_opus', options, state.subarray(0, state.length - 1))).rejects.toThrow(AudioDecodeError);
    await expect(restoreStreamDecoder('webm_opus', options, state)).rejects.toThrow('another format');
  });
});
