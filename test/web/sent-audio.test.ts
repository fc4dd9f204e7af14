// The page's copy of the audio it sent: "Save the recording" gets the one WAV header followed by exactly what was kept.
import { describe, expect, it } from 'vitest';
import { wavHeader } from '../../src/audio/wav.js';
import { SentAudio } from '../../src/web/sent-audio.js';

const bytesOf = async (blob: Blob) => Buffer.from(await blob.arrayBuffer());

describe('SentAudio', () => {
  it('saves a WAV whose header is the shared wavHeader and whose data is the chunks in order', async () => {
    const audio = new SentAudio();
    audio.append(Int16Array.from([1, -1]).buffer);
    const wav = await bytesOf(audio.toWav());
    expect(wav.length).toBe(48);
    expect(wav.subarray(0, 44).equals(Buffer.from(wavHeader(4, 16000)))).toBe(true);
    // The literal bytes the page wrote before the header was shared: RIFF size 40, 16 kHz, data size 4.
    expect([wav.readUInt32LE(4), wav.readUInt32LE(24), wav.readUInt32LE(28), wav.readUInt32LE(40)]).toEqual([40, 16000, 32000, 4]);
    expect([wav.readInt16LE(44), wav.readInt16LE(46)]).toEqual([1, -1]);
    expect(audio.toWav().type).toBe('audio/wav');
  });

  it('keeps counting the duration but stops keeping audio past its limit', async () => {
    const audio = new SentAudio(8000, 4);
    audio.append(new Int16Array(2).buffer);
    audio.append(new Int16Array(8).buffer);
    expect(audio.truncated).toBe(true);
    expect(audio.byteLength).toBe(4);
    expect(audio.durationMs).toBeCloseTo(1.25, 10);
    expect((await bytesOf(audio.toWav())).readUInt32LE(24)).toBe(8000);
  });
});
