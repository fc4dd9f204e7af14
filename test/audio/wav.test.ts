// The one WAV header (page and engines), WAV encoding, and decoding any WAV file (wav.ts, wav-decode.ts).
import { readFileSync } from 'node:fs';
import wavefile from 'wavefile';
import { describe, expect, it } from 'vitest';
import { encodeWav, wavHeader } from '../../src/audio/wav.js';
import { decodeWavToPcm16 } from '../../src/audio/wav-decode.js';
import { pcmOf, samplesOf, sine } from '../support/audio.js';

const { WaveFile } = wavefile;

/** The header both old writers (engines' Buffer one, the page's ArrayBuffer one) produced for 4 bytes at 16 kHz. */
const HEADER_4_BYTES_16K = [
  0x52, 0x49, 0x46, 0x46, 40, 0, 0, 0, // "RIFF", file length - 8
  0x57, 0x41, 0x56, 0x45, 0x66, 0x6d, 0x74, 0x20, // "WAVE" "fmt "
  16, 0, 0, 0, 1, 0, 1, 0, // fmt size 16, PCM, mono
  0x80, 0x3e, 0, 0, 0x00, 0x7d, 0, 0, // 16000 Hz, 32000 bytes/s
  2, 0, 16, 0, // block align 2, 16 bits
  0x64, 0x61, 0x74, 0x61, 4, 0, 0, 0, // "data", 4 bytes
];

describe('wavHeader', () => {
  it('writes the same 44 bytes the engines and the page wrote before', () => {
    const header = wavHeader(4, 16000);
    expect(header.byteLength).toBe(44);
    expect(Array.from(header)).toEqual(HEADER_4_BYTES_16K);
  });

  it('is a plain Uint8Array over its own ArrayBuffer, usable in a browser Blob', () => {
    const header = wavHeader(0, 8000);
    expect(Buffer.isBuffer(header)).toBe(false);
    expect(header.byteOffset).toBe(0);
    expect(header.buffer.byteLength).toBe(44);
  });

  it('refuses a half sample or a rate that is not a positive whole number', () => {
    expect(() => wavHeader(3, 16000)).toThrow(RangeError);
    expect(() => wavHeader(4, 0)).toThrow(/invalid sample rate 0/);
    expect(() => wavHeader(4, 22050.5)).toThrow(RangeError);
  });
});

describe('encodeWav', () => {
  it('writes a 44-byte mono 16-bit PCM header followed by the samples', () => {
    const pcm = pcmOf([0, 1, -1, 32767, -32768]);
    const wav = encodeWav(pcm, 22050);
    expect(wav.length).toBe(44 + pcm.length);
    expect(wav.toString('ascii', 0, 4)).toBe('RIFF');
    expect(wav.readUInt32LE(4)).toBe(wav.length - 8);
    expect(wav.toString('ascii', 8, 16)).toBe('WAVEfmt ');
    expect([wav.readUInt16LE(20), wav.readUInt16LE(22), wav.readUInt32LE(24), wav.readUInt32LE(28), wav.readUInt16LE(32), wav.readUInt16LE(34)]).toEqual([
      1, 1, 22050, 44100, 2, 16,
    ]);
    expect(wav.toString('ascii', 36, 40)).toBe('data');
    expect(wav.readUInt32LE(40)).toBe(pcm.length);
    expect(wav.subarray(44).equals(pcm)).toBe(true);
    expect(Buffer.from(wavHeader(pcm.length, 22050)).equals(wav.subarray(0, 44))).toBe(true);
  });

  it('is read back by wavefile as the same samples', () => {
    const pcm = pcmOf([5, -5, 1000, -1000]);
    const file = new WaveFile(encodeWav(pcm, 8000));
    expect(Array.from(file.getSamples(false, Int16Array) as unknown as Int16Array)).toEqual([5, -5, 1000, -1000]);
  });

  it('refuses a half sample', () => {
    expect(() => encodeWav(Buffer.alloc(3), 16000)).toThrow(RangeError);
  });
});

describe('decodeWavToPcm16', () => {
  it('returns the data chunk of a mono 16-bit file without copying it', () => {
    const wav = readFileSync(new URL('../fixtures/hello.wav', import.meta.url));
    const { pcm, sampleRate } = decodeWavToPcm16(wav);
    expect(sampleRate).toBe(16000);
    expect(pcm.length).toBe(wav.length - 44);
    expect(pcm.buffer).toBe(wav.buffer);
    expect(pcm.equals(wav.subarray(44))).toBe(true);
  });

  it('mixes stereo down to mono', () => {
    const file = new WaveFile();
    file.fromScratch(2, 16000, '16', [
      [1000, -2000, 300],
      [3000, 2000, -301],
    ]);
    const { pcm, sampleRate } = decodeWavToPcm16(Buffer.from(file.toBuffer()));
    expect(sampleRate).toBe(16000);
    expect(samplesOf(pcm)).toEqual([2000, 0, 0]);
  });

  it('converts 8-bit, 24-bit and float files to 16-bit', () => {
    const cases: Array<[string, number[], number[]]> = [
      ['8', [128, 255, 0], [0, 32767, -32768]],
      ['24', [0, 8388607, -8388608], [0, 32767, -32768]],
      ['32f', [0, 0.5, -1], [0, 16384, -32768]],
    ];
    for (const [depth, input, expected] of cases) {
      const file = new WaveFile();
      file.fromScratch(1, 8000, depth, input);
      const got = samplesOf(decodeWavToPcm16(Buffer.from(file.toBuffer())).pcm);
      got.forEach((v, i) => expect(Math.abs(v - expected[i]!), `${depth}-bit sample ${i}`).toBeLessThanOrEqual(1));
    }
  });

  it('resamples to the target rate when asked', () => {
    const { pcm, sampleRate } = decodeWavToPcm16(encodeWav(sine(440, 48000, 0.5), 48000), 16000);
    expect(sampleRate).toBe(16000);
    expect(pcm.length).toBe(8000 * 2);
  });

  it('rejects bytes that are not a WAV file', () => {
    expect(() => decodeWavToPcm16(Buffer.from('definitely not audio'))).toThrow(/not a readable WAV file/);
  });
});
