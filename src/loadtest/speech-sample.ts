// The speech sample a script streams (stream-file, the load test, the benchmark): a WAV file as mono 16-bit PCM,
// cut into chunks and looped as long as asked.
import { readFile } from 'node:fs/promises';
import { bytesToMs, DEFAULT_SAMPLE_RATE, msToBytes } from '../audio/pcm.js';
import { resamplePcm16 } from '../audio/resample.js';
import { decodeWavToPcm16 } from '../audio/wav-decode.js';
import { MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, type AudioFormat } from '../protocol/audio.js';

export class SpeechSampleError extends Error {}

/** A WAV file loaded as mono 16-bit PCM, to replay. */
export interface SpeechSample {
  file: string;
  sampleRate: number;
  /** One pass of the file. */
  pcm: Buffer;
  durationMs: number;
  /**
   * A compressed wire format (--format): one pass of the bytes sent instead of `pcm`, and the rate start_session
   * declares (G.711's; undefined for Opus, whose stream carries it). `pcm` is then the source WAV's audio, or empty
   * when an encoded file was given as is; `durationMs` is how long the encoded bytes play.
   */
  encoded?: { format: AudioFormat; bytes: Buffer; sampleRate: number | undefined };
}

/** The bytes one pass of the sample sends: the encoded ones for a compressed format, else the PCM. */
export function wireBytesOf(sample: SpeechSample): Buffer {
  return sample.encoded?.bytes ?? sample.pcm;
}

/** Bytes on the wire per second of audio (what one real-time session sends each second). */
export function wireBytesPerSecond(sample: SpeechSample): number {
  return sample.encoded ? (sample.encoded.bytes.length * 1000) / sample.durationMs : 2 * sample.sampleRate;
}

/** Any WAV → mono 16-bit PCM; the file's own rate is kept when the server accepts it, otherwise 16 kHz. */
export async function loadSpeechSample(file: string): Promise<SpeechSample> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw new SpeechSampleError(`Cannot read ${file}: ${(error as Error).message}`);
  }
  let decoded: { pcm: Buffer; sampleRate: number };
  try {
    decoded = decodeWavToPcm16(bytes);
  } catch (error) {
    throw new SpeechSampleError(`${file} is not a WAV file that can be read: ${(error as Error).message}`);
  }
  let { pcm, sampleRate } = decoded;
  if (sampleRate < MIN_SAMPLE_RATE || sampleRate > MAX_SAMPLE_RATE) {
    pcm = resamplePcm16(pcm, sampleRate, DEFAULT_SAMPLE_RATE);
    sampleRate = DEFAULT_SAMPLE_RATE;
  }
  if (pcm.length < 2) throw new SpeechSampleError(`${file} holds no audio.`);
  return { file, sampleRate, pcm, durationMs: bytesToMs(pcm.length, sampleRate) };
}

/**
 * The sample as an endless loop cut into equal chunks: chunk `i` starts at byte `i × chunkBytes` of the
 * looped stream, so a segment's end offset tells which chunk completed it. For a compressed format the chunks are
 * the encoded bytes cut by their share of the play time (boundaries need not align with pages or packets), and audio
 * milliseconds map to bytes in proportion; an Ogg Opus pass followed by the next is a chained stream, and WebM (which
 * cannot be chained) is sent once at most.
 */
export class ChunkedLoop {
  readonly chunkBytes: number;
  /** One pass plus one chunk of its start, so any chunk is one contiguous view (no copy per chunk). */
  private readonly looped: Buffer;
  readonly passBytes: number;
  private readonly bytesPerMs: number;
  /** Whether a pass may follow the previous one in the same session's stream. */
  private readonly loops: boolean;

  constructor(
    readonly sample: SpeechSample,
    readonly chunkMs: number,
  ) {
    const bytes = wireBytesOf(sample);
    this.passBytes = bytes.length;
    this.bytesPerMs = wireBytesPerSecond(sample) / 1000;
    this.loops = sample.encoded?.format !== 'webm_opus';
    this.chunkBytes = sample.encoded ? Math.max(1, Math.round(chunkMs * this.bytesPerMs)) : Math.max(2, msToBytes(chunkMs, sample.sampleRate));
    const tail = Buffer.alloc(this.chunkBytes);
    for (let filled = 0; filled < this.chunkBytes; filled += this.passBytes) {
      bytes.copy(tail, filled, 0, Math.min(this.passBytes, this.chunkBytes - filled));
    }
    this.looped = Buffer.concat([bytes, tail]);
  }

  /** Bytes of `ms` milliseconds of audio (whole samples for PCM). */
  bytesOf(ms: number): number {
    return this.sample.encoded ? Math.round(ms * this.bytesPerMs) : msToBytes(ms, this.sample.sampleRate);
  }

  /** Chunk `index`, cut short when the stream ends at `totalBytes`; undefined past the end. */
  chunk(index: number, totalBytes = Infinity): Uint8Array | undefined {
    if (!this.loops) totalBytes = Math.min(totalBytes, this.passBytes);
    const start = index * this.chunkBytes;
    if (start >= totalBytes) return undefined;
    const length = Math.min(this.chunkBytes, totalBytes - start);
    const offset = start % this.passBytes;
    return this.looped.subarray(offset, offset + length);
  }

  /** The chunk holding absolute byte `byte`: the first chunk of a segment starting there. */
  chunkHolding(byte: number): number {
    return Math.max(0, Math.floor(byte / this.chunkBytes));
  }

  /** The chunk whose end reaches absolute byte `endByte`: the one that completed a segment ending there. */
  chunkEnding(endByte: number): number {
    return Math.max(0, Math.ceil(endByte / this.chunkBytes) - 1);
  }

  msOf(bytes: number): number {
    return this.sample.encoded ? bytes / this.bytesPerMs : bytesToMs(bytes, this.sample.sampleRate);
  }
}
