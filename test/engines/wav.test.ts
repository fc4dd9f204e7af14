// WAV encoding/decoding and resampling used by the engines.
import { readFileSync } from 'node:fs';
import wavefile from 'wavefile';
import { describe, expect, it } from 'vitest';
import { decodeWavToPcm16, encodeWav, resamplePcm16, wavHeader } from '../../src/engines/wav.js';

const { WaveFile } = wavefile;

function pcmOf(samples: number[] | Int16Array): Buffer {
  const array = samples instanceof Int16Array ? samples : Int16Array.from(samples);
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength);
}

function samplesOf(pcm: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i < pcm.length; i += 2) out.push(pcm.readInt16LE(i));
  return out;
}

function sine(freq: number, rate: number, seconds: number, amplitude = 10000): Buffer {
  const n = Math.round(rate * seconds);
  const s = new Int16Array(n);
  for (let i = 0; i < n; i++) s[i] = Math.round(amplitude * Math.sin((2 * Math.PI * freq * i) / rate));
  return pcmOf(s);
}

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
    expect(wavHeader(pcm.length, 22050).equals(wav.subarray(0, 44))).toBe(true);
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
