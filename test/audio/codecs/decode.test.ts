// Each format decodes real encoders' output to PCM of the source's length and content, however it is cut.
import fc from 'fast-check';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AudioDecodeError, createStreamDecoder, type StreamDecoder, type StreamFormat } from '../../../src/audio/codecs/index.js';
import { ALAW_TABLE, MULAW_TABLE } from '../../../src/audio/codecs/g711.js';
import { type CodecFixtures, codecFixtures } from './fixtures.js';
import { correlation, cutAt, decodeAll, samples } from './helpers.js';

let f: CodecFixtures;
const open: StreamDecoder[] = [];
async function decoder(format: StreamFormat, sampleRate = 16000, inputRate?: number): Promise<StreamDecoder> {
  const d = await createStreamDecoder(format, { sampleRate, inputRate });
  open.push(d);
  return d;
}

beforeAll(() => {
  f = codecFixtures();
});
afterEach(() => {
  for (const d of open.splice(0)) d.close();
});

const FRAME_16K = 320; // one 20 ms Opus frame at 16 kHz

describe('G.711', () => {
  it('decodes μ-law and A-law exactly as sox does, one sample per byte at the declared rate', async () => {
    const mu = decodeAll(await decoder('mulaw', 8000), [f.mulaw]);
    const a = decodeAll(await decoder('alaw', 8000), [f.alaw]);
    expect(mu.equals(f.mulawRef)).toBe(true);
    expect(a.equals(f.alawRef)).toBe(true);
    expect(correlation(samples(mu), samples(f.pcm8k), 4)).toBeGreaterThan(0.99);
  });

  it('has the ITU tables: μ-law 0xFF and A-law 0xD5 are the smallest positive steps', () => {
    expect(MULAW_TABLE[0xff]).toBe(0);
    expect(MULAW_TABLE[0x00]).toBe(-32124);
    expect(ALAW_TABLE[0xd5]).toBe(8);
    expect(ALAW_TABLE[0x55]).toBe(-8);
  });

  it('resamples a declared 8 kHz stream to a 16 kHz working rate: twice the samples, same speech', async () => {
    const out = decodeAll(await decoder('mulaw', 16000, 8000), [f.mulaw]);
    expect(Math.abs(out.length / 2 - f.mulaw.length * 2)).toBeLessThanOrEqual(1);
    expect(correlation(samples(out), samples(f.pcm16k), 8)).toBeGreaterThan(0.97);
  });
});

describe('pcm_s16le', () => {
  it('passes PCM through at its rate and keeps an odd byte for the next chunk', async () => {
    const d = await decoder('pcm_s16le');
    const out = decodeAll(d, cutAt(f.pcm16k, [1, 2, 3, 1001, 5000]));
    expect(out.equals(f.pcm16k)).toBe(true);
    const d2 = await decoder('pcm_s16le');
    expect(d2.decode(f.pcm16k.subarray(0, 3)).length).toBe(2);
    expect(d2.pendingBytes).toBe(1);
  });
});

describe.each([
  ['ogg_opus', 'opusenc', (x: CodecFixtures) => x.ogg],
  ['ogg_opus', 'opusenc, stereo mixed down', (x: CodecFixtures) => x.oggStereo],
  ['webm_opus', 'ffmpeg, file', (x: CodecFixtures) => x.webm],
  ['webm_opus', 'ffmpeg, live (as MediaRecorder)', (x: CodecFixtures) => x.webmLive],
] as const)('%s (%s)', (format, _source, bytesOf) => {
  it('decodes to the source duration (±1 frame) and correlates with the source speech', async () => {
    const out = samples(decodeAll(await decoder(format), [bytesOf(f)]));
    expect(Math.abs(out.length - f.pcm16k.length / 2)).toBeLessThanOrEqual(FRAME_16K);
    expect(correlation(out, samples(f.pcm16k))).toBeGreaterThan(0.8);
  });

  it('gives the same PCM for chunks cut at random byte offsets as for the whole stream', async () => {
    const bytes = bytesOf(f);
    const whole = decodeAll(await decoder(format), [bytes]);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat({ max: bytes.length }), { maxLength: 40 }), async (offsets) => {
        const d = await createStreamDecoder(format, { sampleRate: 16000 });
        try {
          expect(decodeAll(d, cutAt(bytes, offsets)).equals(whole)).toBe(true);
        } finally {
          d.close();
        }
      }),
      { numRuns: 25 },
    );
  });

  it('decodes to other working rates (8 kHz, 48 kHz) with the length to match', async () => {
    for (const rate of [8000, 48000]) {
      const out = decodeAll(await decoder(format, rate), [bytesOf(f)]);
      const expected = (f.pcm16k.length / 2) * (rate / 16000);
      expect(Math.abs(out.length / 2 - expected)).toBeLessThanOrEqual((FRAME_16K * rate) / 16000);
    }
  });
});

describe('multi-channel and foreign streams', () => {
  it('refuses a 6-channel Ogg Opus stream (mapping family 1) with what is supported', async () => {
    const d = await decoder('ogg_opus');
    expect(() => d.decode(f.ogg6ch)).toThrow(/only mono or stereo Opus.*6 channels, family 1/);
  });

  it('refuses a WebM stream without an Opus track, naming its codec', async () => {
    const d = await decoder('webm_opus');
    expect(() => d.decode(f.webmVorbis)).toThrow('the WebM stream has no Opus track (codec A_VORBIS)');
  });

  it('refuses the other container, PCM or garbage where a container is expected, saying what it expected', async () => {
    expect(() => decodeAllSync('ogg_opus', f.webm)).toThrow('expected an Ogg page (OggS) at byte 0 of the stream');
    expect(() => decodeAllSync('webm_opus', f.ogg)).toThrow('expected an EBML header (1A 45 DF A3) at byte 0 of the stream');
    expect(() => decodeAllSync('ogg_opus', f.pcm16k)).toThrow(AudioDecodeError);
    expect(() => decodeAllSync('webm_opus', f.pcm16k)).toThrow(AudioDecodeError);
  });
});

let syncDecoders: Record<string, StreamDecoder> = {};
beforeAll(async () => {
  syncDecoders = { ogg_opus: await createStreamDecoder('ogg_opus', { sampleRate: 16000 }), webm_opus: await createStreamDecoder('webm_opus', { sampleRate: 16000 }) };
  return () => Object.values(syncDecoders).forEach((d) => d.close());
});
/** A fresh-stream decode on a long-lived decoder: its state is unchanged after the expected error. */
function decodeAllSync(format: 'ogg_opus' | 'webm_opus', bytes: Uint8Array): Buffer {
  return syncDecoders[format]!.decode(bytes);
}
