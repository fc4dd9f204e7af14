// An audio file as a script streams it (stream-file, the load test): its wire format (from the extension), the bytes
// to send and how long they play, so the bytes can be cut into chunks and sent in real time by the file's duration.
//   .wav          → pcm_s16le (decoded, mono; the file's rate when the server accepts it)
//   .opus, .ogg   → ogg_opus, the file's bytes as they are
//   .webm         → webm_opus, the file's bytes as they are
//   .ul / .al     → mulaw / alaw, raw G.711 at `rate` (default 8000)
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { createStreamDecoder } from '../audio/codecs/index.js';
import { bytesToMs } from '../audio/pcm.js';
import type { AudioFormat } from '../protocol/audio.js';
import { loadSpeechSample, SpeechSampleError } from './speech-sample.js';

export interface AudioFile {
  file: string;
  format: AudioFormat;
  /** pcm_s16le and G.711: the rate of the bytes; Opus: undefined (the server decodes to its default). */
  sampleRate: number | undefined;
  bytes: Buffer;
  durationMs: number;
}

const G711_DEFAULT_RATE = 8000;

export function formatOfFile(file: string): AudioFormat | undefined {
  switch (extname(file).toLowerCase()) {
    case '.wav':
      return 'pcm_s16le';
    case '.opus':
    case '.ogg':
      return 'ogg_opus';
    case '.webm':
      return 'webm_opus';
    case '.ul':
      return 'mulaw';
    case '.al':
      return 'alaw';
    default:
      return undefined;
  }
}

export async function loadAudioFile(file: string, options: { rate?: number } = {}): Promise<AudioFile> {
  const format = formatOfFile(file);
  if (!format) throw new SpeechSampleError(`${file}: give a .wav, .opus/.ogg, .webm, or raw G.711 .ul/.al file.`);
  if (format === 'pcm_s16le') {
    const sample = await loadSpeechSample(file);
    return { file, format, sampleRate: sample.sampleRate, bytes: sample.pcm, durationMs: sample.durationMs };
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw new SpeechSampleError(`Cannot read ${file}: ${(error as Error).message}`);
  }
  if (bytes.length === 0) throw new SpeechSampleError(`${file} holds no audio.`);
  if (format === 'mulaw' || format === 'alaw') {
    const rate = options.rate ?? G711_DEFAULT_RATE;
    return { file, format, sampleRate: rate, bytes, durationMs: (bytes.length / rate) * 1000 };
  }
  return { file, format, sampleRate: undefined, bytes, durationMs: await opusDurationMs(file, format, bytes) };
}

/** How long an Opus file plays: decoded once here (the same decoder as the server's), at 16 kHz. */
async function opusDurationMs(file: string, format: 'ogg_opus' | 'webm_opus', bytes: Buffer): Promise<number> {
  const rate = 16000;
  const decoder = await createStreamDecoder(format, { sampleRate: rate });
  try {
    const pcm = decoder.decode(bytes).length + decoder.flush().length;
    if (pcm === 0) throw new SpeechSampleError(`${file} holds no Opus audio.`);
    return bytesToMs(pcm, rate);
  } catch (error) {
    if (error instanceof SpeechSampleError) throw error;
    throw new SpeechSampleError(`${file} is not ${format === 'ogg_opus' ? 'an Ogg' : 'a WebM'} Opus stream that can be read: ${(error as Error).message}`);
  } finally {
    decoder.close();
  }
}

/** Bytes per chunk of about `chunkMs` of the file's audio (whole samples for PCM). */
export function chunkBytesOf(audio: AudioFile, chunkMs: number): number {
  const bytes = Math.max(1, Math.round((audio.bytes.length * chunkMs) / audio.durationMs));
  return audio.format === 'pcm_s16le' ? Math.max(2, bytes & ~1) : bytes;
}
