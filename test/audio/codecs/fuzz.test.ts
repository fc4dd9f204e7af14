// Hostile bytes: only AudioDecodeError, no hang, bounded pending bytes, and a refused chunk changes nothing.
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { AudioDecodeError, createStreamDecoder, MAX_CONTINUATION_BYTES, type StreamDecoder, type StreamFormat } from '../../../src/audio/codecs/index.js';
import { MAX_OGG_PAGE_BYTES } from '../../../src/audio/codecs/ogg.js';
import { MAX_WEBM_BUFFERED_ELEMENT } from '../../../src/audio/codecs/webm.js';
import { type CodecFixtures, codecFixtures } from './fixtures.js';
import { cutAt, decodeAll } from './helpers.js';

let f: CodecFixtures;
beforeAll(() => {
  f = codecFixtures();
});

const PENDING_BOUND = Math.max(MAX_OGG_PAGE_BYTES + 3840, 12 + MAX_WEBM_BUFFERED_ELEMENT);

/** A valid stream spoiled one of the ways a broken client or an attacker would. */
function spoiled(bytes: Uint8Array) {
  const flips = fc.array(fc.tuple(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 }).map((fl) => {
    const copy = Uint8Array.from(bytes);
    for (const [at, x] of fl) copy[at]! ^= x;
    return copy;
  });
  const truncated = fc.nat({ max: bytes.length }).map((n) => bytes.subarray(0, n));
  const inserted = fc.tuple(fc.nat({ max: bytes.length }), fc.uint8Array({ minLength: 1, maxLength: 300 })).map(([at, junk]) => {
    const out = new Uint8Array(bytes.length + junk.length);
    out.set(bytes.subarray(0, at));
    out.set(junk, at);
    out.set(bytes.subarray(at), at + junk.length);
    return out;
  });
  const garbage = fc.uint8Array({ maxLength: 4000 });
  const headerThenGarbage = fc.tuple(fc.nat({ max: 400 }), fc.uint8Array({ maxLength: 2000 })).map(([n, junk]) => {
    const out = new Uint8Array(n + junk.length);
    out.set(bytes.subarray(0, n));
    out.set(junk, n);
    return out;
  });
  return fc.oneof(flips, truncated, inserted, garbage, headerThenGarbage);
}

/** Feeds bytes from `from` one at a time until a page or block completes (audio out, nothing pending). */
function toBoundary(d: StreamDecoder, bytes: Uint8Array, from: number): { out: Buffer[]; at: number } {
  const out: Buffer[] = [];
  let at = from;
  while (at < bytes.length) {
    const pcm = d.decode(bytes.subarray(at, ++at));
    out.push(pcm);
    if (d.pendingBytes === 0 && pcm.length > 0) break;
  }
  return { out, at };
}

describe.each([
  ['ogg_opus', (x: CodecFixtures) => x.ogg],
  ['webm_opus', (x: CodecFixtures) => x.webmLive],
  ['webm_opus', (x: CodecFixtures) => x.webm],
  ['mulaw', (x: CodecFixtures) => x.mulaw],
  ['pcm_s16le', (x: CodecFixtures) => x.pcm16k.subarray(0, 20000)],
] as const)('%s', (format: StreamFormat, bytesOf) => {
  it('never throws anything but AudioDecodeError, never hangs, keeps pending bytes bounded', async () => {
    const d = await createStreamDecoder(format, { sampleRate: 16000 });
    try {
      await fc.assert(
        fc.asyncProperty(spoiled(bytesOf(f)), fc.array(fc.nat(), { maxLength: 6 }), async (bytes, offsets) => {
          const fresh = await createStreamDecoder(format, { sampleRate: 16000 });
          const started = performance.now();
          try {
            for (const chunk of cutAt(bytes, offsets.map((o) => o % (bytes.length + 1)))) {
              try {
                fresh.decode(chunk);
              } catch (err) {
                if (!(err instanceof AudioDecodeError)) throw err;
              }
              expect(fresh.pendingBytes).toBeLessThanOrEqual(PENDING_BOUND);
              expect(fresh.continuation().length).toBeLessThanOrEqual(MAX_CONTINUATION_BYTES);
            }
          } finally {
            fresh.close();
          }
          expect(performance.now() - started).toBeLessThan(2000);
        }),
        { numRuns: 150 },
      );
    } finally {
      d.close();
    }
  });

  it('refuses a bad chunk without changing state, then decodes the next correct chunk as if it never came', async () => {
    const bytes = bytesOf(f);
    const reference = await createStreamDecoder(format, { sampleRate: 16000 });
    const whole = decodeAll(reference, [bytes]);
    reference.close();
    const bad = format === 'ogg_opus' ? Uint8Array.from([0x4f, 0x67, 0x67, 0x54, 1, 2, 3]) : new TextEncoder().encode('{"not":"audio at all"}');
    const d = await createStreamDecoder(format, { sampleRate: 16000 });
    try {
      // Bytes inside a page or element cannot be judged before it completes: refuse at a boundary.
      const head = d.decode(bytes.subarray(0, Math.floor(bytes.length / 2)));
      const { out, at: half } = toBoundary(d, bytes, Math.floor(bytes.length / 2));
      const first = Buffer.concat([head, ...out]);
      const before = d.continuation();
      let refused = false;
      try {
        d.decode(bad);
      } catch (err) {
        expect(err).toBeInstanceOf(AudioDecodeError);
        refused = true;
      }
      if (format === 'mulaw' || format === 'pcm_s16le') return; // every byte string is valid G.711 / PCM
      expect(refused).toBe(true);
      expect(Buffer.from(d.continuation()).equals(Buffer.from(before))).toBe(true);
      const rest = decodeAll(d, [bytes.subarray(half)]);
      expect(Buffer.concat([first, rest]).equals(whole)).toBe(true);
    } finally {
      d.close();
    }
  });
});

describe('giant declared sizes', () => {
  it('refuses a WebM element declaring 2^40 bytes before allocating anything', async () => {
    const d = await createStreamDecoder('webm_opus', { sampleRate: 16000 });
    try {
      d.decode(f.webmLive.subarray(0, 2000)); // past the header, into the clusters
      toBoundary(d, f.webmLive, 2000);
      const before = d.pendingBytes;
      // A SimpleBlock (A3) with an 8-byte size of 2^40.
      expect(() => d.decode(Uint8Array.from([0xa3, 0x01, 0x00, 0x01, 0, 0, 0, 0, 0]))).toThrow(AudioDecodeError);
      // Tags (12 54 C3 67) declared at 2^40: refused, not skipped for ever.
      expect(() => d.decode(Uint8Array.from([0x12, 0x54, 0xc3, 0x67, 0x01, 0x00, 0x01, 0, 0, 0, 0, 0]))).toThrow(/more than the/);
      expect(d.pendingBytes).toBe(before);
    } finally {
      d.close();
    }
  });

  it('keeps an Ogg page header declaring the largest page (255 × 255) as pending bytes within the format bound', async () => {
    const d = await createStreamDecoder('ogg_opus', { sampleRate: 16000 });
    try {
      const header = new Uint8Array(27 + 255).fill(255, 27);
      header.set([0x4f, 0x67, 0x67, 0x53, 0, 2]);
      header[26] = 255;
      d.decode(header);
      d.decode(new Uint8Array(60000));
      expect(d.pendingBytes).toBeLessThan(MAX_OGG_PAGE_BYTES);
      // Completing it fails the CRC.
      expect(() => d.decode(new Uint8Array(MAX_OGG_PAGE_BYTES))).toThrow(/CRC/);
    } finally {
      d.close();
    }
  });
});
