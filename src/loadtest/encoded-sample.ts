// The load test's sample in the wire format asked for (--format): a WAV is encoded once at start with the real
// encoders (opusenc for Ogg Opus, ffmpeg for WebM Opus, sox for G.711) into a temp file, which then loads like a
// given .opus/.webm/.ul/.al file (audio-file.ts): those are used as they are.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { AudioFormat } from '../protocol/audio.js';
import { formatOfFile, loadAudioFile } from './audio-file.js';
import { loadSpeechSample, SpeechSampleError, type SpeechSample } from './speech-sample.js';

const run = promisify(execFile);

/** Opus bitrate the sample is encoded at (kbit/s): issue 21's 24 kbit/s, what its accuracy was measured at. */
export const OPUS_KBPS = 24;
/** G.711 is telephone audio: 8 kHz. */
export const G711_RATE = 8000;

const EXTENSION: Record<Exclude<AudioFormat, 'pcm_s16le'>, string> = { ogg_opus: 'opus', webm_opus: 'webm', mulaw: 'ul', alaw: 'al' };

/** The encoder command line turning `wav` into `out` in `format`. */
function encoder(format: Exclude<AudioFormat, 'pcm_s16le'>, wav: string, out: string): [string, string[]] {
  switch (format) {
    case 'ogg_opus':
      return ['opusenc', ['--quiet', '--bitrate', String(OPUS_KBPS), wav, out]];
    case 'webm_opus':
      return ['ffmpeg', ['-v', 'error', '-y', '-i', wav, '-ac', '1', '-c:a', 'libopus', '-b:a', `${OPUS_KBPS}k`, '-f', 'webm', out]];
    case 'mulaw':
    case 'alaw':
      return ['sox', [wav, '-r', String(G711_RATE), '-c', '1', '-t', 'raw', '-e', format === 'mulaw' ? 'u-law' : 'a-law', '-b', '8', out]];
  }
}

/**
 * Loads `file` to be sent as `format` (undefined: the file's own, by its extension). A WAV sent compressed is
 * encoded here once; an already encoded file must match the format asked for.
 */
export async function loadLoadTestSample(file: string, format: AudioFormat | undefined): Promise<SpeechSample> {
  const own = formatOfFile(file);
  if (!own) throw new SpeechSampleError(`${file}: give a .wav, .opus/.ogg, .webm, or raw G.711 .ul/.al file.`);
  const wanted = format ?? own;
  if (own !== 'pcm_s16le') {
    if (wanted !== own) throw new SpeechSampleError(`${file} is ${own}; it cannot be sent as ${wanted} (give a WAV to encode).`);
    const audio = await loadAudioFile(file);
    return {
      file,
      sampleRate: audio.sampleRate ?? 16000,
      pcm: Buffer.alloc(0),
      durationMs: audio.durationMs,
      encoded: { format: own, bytes: audio.bytes, sampleRate: audio.sampleRate },
    };
  }
  const source = await loadSpeechSample(file);
  if (wanted === 'pcm_s16le') return source;
  const dir = await mkdtemp(path.join(tmpdir(), 'load-test-'));
  try {
    const out = path.join(dir, `sample.${EXTENSION[wanted]}`);
    const [command, args] = encoder(wanted, file, out);
    try {
      await run(command, args);
    } catch (error) {
      throw new SpeechSampleError(`Encoding ${file} as ${wanted} with ${command} failed (is it installed?): ${(error as Error).message}`);
    }
    const audio = await loadAudioFile(out);
    return { ...source, durationMs: audio.durationMs, encoded: { format: wanted, bytes: audio.bytes, sampleRate: audio.sampleRate } };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
