// The offline engine: Debian's pocketsphinx (en-us model) in a pool of long-lived decoders that keep the model loaded.
import os from 'node:os';
import type { Logger } from 'pino';
import { EngineError, type EngineResult, type SegmentAudio, type TranscriptionEngine } from '../engine.js';
import { resamplePcm16 } from '../../audio/resample.js';
import { pcmProblem } from '../../audio/wav.js';
import { Decoder, DECODER_SEARCH, DEFAULT_DECODER_SEARCH, type DecoderSearch } from './decoder.js';
import { assertPocketsphinxInstalled, POCKETSPHINX_SAMPLE_RATE } from './install.js';
import { DecoderPool } from './pool.js';
import { decodeSpan } from './trim.js';

export interface PocketsphinxEngineOptions {
  /** Executable name (looked up in PATH) or path, e.g. "pocketsphinx_batch". */
  command: string;
  /** How many decoder processes run (each ~100 MB, one segment at a time). Default: os.availableParallelism(). */
  decoders?: number;
  /** Where each decoder's working directory (pipes, segment files) is made. Default: the OS temp dir. */
  tmpDir?: string;
  /** A segment taking longer than this restarts its decoder and fails (retryable). Default 60 s. */
  timeoutMs?: number;
  /** The decoders' search settings by name (POCKETSPHINX_SEARCH); default accurate. */
  search?: DecoderSearch;
  /** Raw search flags instead of `search` (the benchmark compares flag sets with it). */
  searchArgs?: readonly string[];
  /** Decode only a segment's sound and a short margin, not its quiet ends (trim.ts); default true. */
  trimSilence?: boolean;
  logger?: Logger;
}

export interface PocketsphinxEngine extends TranscriptionEngine {
  /** How many segments it decodes at once (its decoders): more concurrent segments only queue. */
  readonly capacity: number;
  /** Process ids of the decoders now running. */
  decoderPids(): Promise<number[]>;
  /** Starts every decoder now rather than on its first segment. */
  warmUp(): Promise<void>;
  /** Ends every decoder process and removes their files; segments still waiting fail. */
  close(): Promise<void>;
}

/**
 * Decoders start on first use and then stay: the model load (~0.3–0.7 CPU-s and ~100 MB RSS per process) is paid once
 * per decoder, not once per segment (BENCHMARKS.md, "Offline engine: decoder pool").
 */
export function createPocketsphinxEngine(options: PocketsphinxEngineOptions): PocketsphinxEngine {
  const { command } = options;
  const logger = options.logger?.child({ engine: 'pocketsphinx' });
  const tmpDir = options.tmpDir ?? os.tmpdir();
  const searchArgs = options.searchArgs ?? DECODER_SEARCH[options.search ?? DEFAULT_DECODER_SEARCH];
  const trimSilence = options.trimSilence ?? true;
  const pool = new DecoderPool({
    size: options.decoders ?? os.availableParallelism(),
    timeoutMs: options.timeoutMs ?? 60_000,
    startDecoder: () => Decoder.start({ command, tmpDir, searchArgs, logger }),
    logger,
  });
  let closed = false;

  async function transcribe(segment: SegmentAudio): Promise<EngineResult> {
    if (closed) throw new EngineError('pocketsphinx engine is closed');
    const problem = pcmProblem(segment.pcm, segment.sampleRate);
    if (problem) throw new EngineError(problem, { retryable: false });
    if (segment.pcm.length === 0) return { text: '' };
    const resampled = resamplePcm16(segment.pcm, segment.sampleRate, POCKETSPHINX_SAMPLE_RATE);
    const span = trimSilence ? decodeSpan(resampled, POCKETSPHINX_SAMPLE_RATE) : { from: 0, to: resampled.length };
    const pcm = atDecoderLevel(resampled.subarray(span.from, span.to));
    const started = Date.now();
    const { text, words } = await pool.decode(pcm);
    logger?.debug(
      { audioMs: bytesToMs(resampled.length), decodedMs: bytesToMs(pcm.length), elapsedMs: Date.now() - started },
      'pocketsphinx transcribed segment',
    );
    // The en-us model knows one language; its word times are its own alignment (10 ms frames), from the span's start.
    const result: EngineResult = { text, language: 'en' };
    const offsetMs = bytesToMs(span.from);
    if (segment.wordTimestamps) result.words = words.map((w) => ({ word: w.word, startMs: w.startMs + offsetMs, endMs: w.endMs + offsetMs }));
    return result;
  }

  return {
    name: 'pocketsphinx',
    model: 'en-us',
    capacity: pool.size,
    transcribe,
    decoderPids: () => pool.pids(),
    warmUp: () => pool.warmUp(),
    async check() {
      assertPocketsphinxInstalled(command);
    },
    async close() {
      closed = true;
      await pool.close();
    },
  };
}

function bytesToMs(bytes: number): number {
  return Math.round((bytes / 2 / POCKETSPHINX_SAMPLE_RATE) * 1000);
}

/** Peak level segments are brought to before decoding (dBFS). */
const DECODER_PEAK_DBFS = -18;
const MAX_GAIN = 8;

/**
 * A copy of `pcm` prepared for Debian's 0.8 decoders, which normalise each segment's cepstral mean on their own: the
 * peak brought to DECODER_PEAK_DBFS (gain bounded), and a ±1 LSB noise floor where the input has digital silence,
 * which otherwise pulls the mean far off. Both measured (bench/pocketsphinx/rtf.ts): without them a long-lived decoder
 * recognises the fixtures at 40–49 % of words, with them on a par with a fresh process per segment. The noise is the
 * same for the same audio (fixed seed), so a segment always gets the same text.
 */
export function atDecoderLevel(pcm: Buffer): Buffer {
  const samples = new Int16Array(pcm.buffer, pcm.byteOffset, pcm.length >> 1);
  let peak = 0;
  for (let i = 0; i < samples.length; i++) {
    const magnitude = Math.abs(samples[i]!);
    if (magnitude > peak) peak = magnitude;
  }
  const gain = peak === 0 ? 1 : Math.min(MAX_GAIN, (32767 * 10 ** (DECODER_PEAK_DBFS / 20)) / peak);
  const out = Buffer.alloc(pcm.length);
  const prepared = new Int16Array(out.buffer, out.byteOffset, samples.length);
  let state = 0x2545f491;
  for (let i = 0; i < samples.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    prepared[i] = Math.round(samples[i]! * gain) + ((state >>> 30) % 3) - 1;
  }
  return out;
}
