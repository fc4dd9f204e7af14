// The offline engine: Debian's pocketsphinx (en-us model) in a pool of long-lived decoders that keep the model loaded.
import os from 'node:os';
import type { Logger } from 'pino';
import { EngineError, type EngineResult, type SegmentAudio, type TranscriptionEngine } from '../engine.js';
import { pcmProblem, resamplePcm16 } from '../wav.js';
import { Decoder } from './decoder.js';
import { assertPocketsphinxInstalled, POCKETSPHINX_SAMPLE_RATE } from './install.js';
import { DecoderPool } from './pool.js';

export interface PocketsphinxEngineOptions {
  /** Executable name (looked up in PATH) or path, e.g. "pocketsphinx_batch". */
  command: string;
  /** How many decoder processes run (each ~100 MB, one segment at a time). Default: os.availableParallelism(). */
  decoders?: number;
  /** Where each decoder's working directory (pipes, segment files) is made. Default: the OS temp dir. */
  tmpDir?: string;
  /** A segment taking longer than this restarts its decoder and fails (retryable). Default 60 s. */
  timeoutMs?: number;
  logger?: Logger;
}

export interface PocketsphinxEngine extends TranscriptionEngine {
  /** How many segments it decodes at once (its decoders): more concurrent segments only queue. */
  readonly capacity: number;
  /** Process ids of the decoders now running. */
  decoderPids(): Promise<number[]>;
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
  const pool = new DecoderPool({
    size: options.decoders ?? os.availableParallelism(),
    timeoutMs: options.timeoutMs ?? 60_000,
    startDecoder: () => Decoder.start({ command, tmpDir, logger }),
    logger,
  });
  let closed = false;

  async function transcribe(segment: SegmentAudio): Promise<EngineResult> {
    if (closed) throw new EngineError('pocketsphinx engine is closed');
    const problem = pcmProblem(segment.pcm, segment.sampleRate);
    if (problem) throw new EngineError(problem, { retryable: false });
    if (segment.pcm.length === 0) return { text: '' };
    const pcm = resamplePcm16(segment.pcm, segment.sampleRate, POCKETSPHINX_SAMPLE_RATE);
    const started = Date.now();
    const text = await pool.decode(pcm);
    logger?.debug(
      { audioMs: Math.round((pcm.length / 2 / POCKETSPHINX_SAMPLE_RATE) * 1000), elapsedMs: Date.now() - started },
      'pocketsphinx transcribed segment',
    );
    return { text };
  }

  return {
    name: 'pocketsphinx',
    model: 'en-us',
    capacity: pool.size,
    transcribe,
    decoderPids: () => pool.pids(),
    async check() {
      assertPocketsphinxInstalled(command);
    },
    async close() {
      closed = true;
      await pool.close();
    },
  };
}
