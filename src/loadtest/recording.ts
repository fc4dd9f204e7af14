// The recording a script streams (stream-file, the load test, the benchmark): a WAV file as mono 16-bit PCM,
// cut into chunks and looped as long as asked.
import { readFile } from 'node:fs/promises';
import { decodeWavToPcm16, resamplePcm16 } from '../engines/wav.js';
import { bytesToMs, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, msToBytes } from '../protocol/audio.js';

export class RecordingError extends Error {}

export interface Recording {
  file: string;
  sampleRate: number;
  /** One pass of the file. */
  pcm: Buffer;
  durationMs: number;
}

/** Any WAV → mono 16-bit PCM; the file's own rate is kept when the server accepts it, otherwise 16 kHz. */
export async function loadRecording(file: string): Promise<Recording> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw new RecordingError(`Cannot read ${file}: ${(error as Error).message}`);
  }
  let decoded: { pcm: Buffer; sampleRate: number };
  try {
    decoded = decodeWavToPcm16(bytes);
  } catch (error) {
    throw new RecordingError(`${file} is not a WAV file that can be read: ${(error as Error).message}`);
  }
  let { pcm, sampleRate } = decoded;
  if (sampleRate < MIN_SAMPLE_RATE || sampleRate > MAX_SAMPLE_RATE) {
    pcm = resamplePcm16(pcm, sampleRate, 16000);
    sampleRate = 16000;
  }
  if (pcm.length < 2) throw new RecordingError(`${file} holds no audio.`);
  return { file, sampleRate, pcm, durationMs: bytesToMs(pcm.length, sampleRate) };
}

/**
 * The recording as an endless loop cut into equal chunks: chunk `i` starts at byte `i × chunkBytes` of the
 * looped stream, so a segment's end offset tells which chunk completed it.
 */
export class ChunkedLoop {
  readonly chunkBytes: number;
  /** One pass plus one chunk of its start, so any chunk is one contiguous view (no copy per chunk). */
  private readonly looped: Buffer;
  private readonly passBytes: number;

  constructor(
    readonly recording: Recording,
    readonly chunkMs: number,
  ) {
    this.chunkBytes = Math.max(2, msToBytes(chunkMs, recording.sampleRate));
    this.passBytes = recording.pcm.length;
    const tail = Buffer.alloc(this.chunkBytes);
    for (let filled = 0; filled < this.chunkBytes; filled += this.passBytes) {
      recording.pcm.copy(tail, filled, 0, Math.min(this.passBytes, this.chunkBytes - filled));
    }
    this.looped = Buffer.concat([recording.pcm, tail]);
  }

  /** Bytes of `ms` milliseconds of audio (whole samples). */
  bytesOf(ms: number): number {
    return msToBytes(ms, this.recording.sampleRate);
  }

  /** Chunk `index`, cut short when the stream ends at `totalBytes`; undefined past the end. */
  chunk(index: number, totalBytes = Infinity): Uint8Array | undefined {
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
    return bytesToMs(bytes, this.recording.sampleRate);
  }
}
