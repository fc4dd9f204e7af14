// stream-file's and the load test's audio files: the format from the extension, the bytes as sent, the duration that
// paces them in real time.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chunkBytesOf, loadAudioFile } from '../../src/loadtest/audio-file.js';
import { SpeechSampleError } from '../../src/loadtest/speech-sample.js';
import { codecFixtures } from '../audio/codecs/fixtures.js';

const SOURCE_MS = (59642 / 16000) * 1000;

describe('loadAudioFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'audio-file-'));
  const f = codecFixtures();
  const files = { 'a.opus': f.ogg, 'a.ogg': f.ogg, 'a.webm': f.webm, 'a.ul': f.mulaw, 'a.al': f.alaw };
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);

  it.each([
    ['a.opus', 'ogg_opus', undefined],
    ['a.ogg', 'ogg_opus', undefined],
    ['a.webm', 'webm_opus', undefined],
    ['a.ul', 'mulaw', 8000],
    ['a.al', 'alaw', 8000],
  ] as const)('%s streams as %s, the file bytes unchanged, paced by its duration', async (name, format, rate) => {
    const audio = await loadAudioFile(join(dir, name));
    expect(audio.format).toBe(format);
    expect(audio.sampleRate).toBe(rate);
    expect(audio.bytes.equals(files[name])).toBe(true);
    expect(Math.abs(audio.durationMs - SOURCE_MS)).toBeLessThan(40);
    // 100 ms chunks: about ten a second, whatever the format's bytes per second.
    expect(Math.round(audio.bytes.length / chunkBytesOf(audio, 100))).toBeCloseTo(audio.durationMs / 100, -1);
  });

  it('G.711 at --rate 16000 plays half as long; the WAV fixture is PCM; other files are refused with a usage message', async () => {
    expect((await loadAudioFile(join(dir, 'a.ul'), { rate: 16000 })).durationMs).toBeCloseTo(f.mulaw.length / 16, 6);
    const wav = await loadAudioFile('test/fixtures/hello.wav');
    expect(wav).toMatchObject({ format: 'pcm_s16le', sampleRate: 16000 });
    await expect(loadAudioFile(join(dir, 'a.mp3'))).rejects.toThrow(SpeechSampleError);
    writeFileSync(join(dir, 'bad.opus'), Buffer.from('not an ogg stream at all'));
    await expect(loadAudioFile(join(dir, 'bad.opus'))).rejects.toThrow(/not an Ogg Opus stream/);
  });
});
