// The ops performance test: four real operations on the real store and engine, each a span of the request's
// transaction. Each reported duration is its span's own when Sentry records it, so the report and the trace agree to
// the microsecond; without Sentry it is measured around the work.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import * as Sentry from '@sentry/node';
import { DEFAULT_SAMPLE_RATE } from '../audio/pcm.js';
import { DEFAULT_SPEECH_DBFS, hasSpeech } from '../audio/vad.js';
import { encodeWav } from '../audio/wav.js';
import { decodeWavToPcm16 } from '../audio/wav-decode.js';
import type { TranscriptionEngine } from '../engines/engine.js';
import type { BufferStore } from '../store/buffer-store.js';

/**
 * About a second of speech ("hello world") bundled with the server, beside this module's folder: src/assets in the
 * sources, dist/assets in the build (scripts/build-web.mjs copies it), so dist/ alone is a complete install.
 */
export const SAMPLE_PATH = fileURLToPath(new URL('../assets/sample.wav', import.meta.url));

export interface OperationTiming {
  name: string;
  duration_ms: number;
}

export interface PerformanceReport {
  status: 'success';
  message: 'Performance test completed';
  operations: OperationTiming[];
  total_duration_ms: number;
  check: 'Visit Sentry Performance tab to view transaction details';
}

/** An operation failed; `operations` holds the ones that completed before it. */
export class PerformanceTestError extends Error {
  constructor(
    readonly operation: string,
    readonly operations: OperationTiming[],
    cause: unknown,
  ) {
    super(`Performance test failed during "${operation}": ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'PerformanceTestError';
  }
}

let samplePcm: Promise<Buffer> | undefined;

/** The bundled sample as 16 kHz PCM, read once. */
function loadSample(): Promise<Buffer> {
  samplePcm ??= readFile(SAMPLE_PATH).then(
    (wav) => decodeWavToPcm16(wav, DEFAULT_SAMPLE_RATE).pcm,
    (error: Error) => {
      samplePcm = undefined;
      throw new Error(`cannot read the bundled sample ${SAMPLE_PATH}: ${error.message}`);
    },
  );
  return samplePcm;
}

const round = (ms: number) => Math.round(ms * 100) / 100;

/**
 * Runs the four operations. `speechDbfs` is the server's VAD threshold, so the test measures the same VAD work a
 * segment gets.
 */
export async function runPerformanceTest(
  store: BufferStore,
  engine: TranscriptionEngine,
  speechDbfs = DEFAULT_SPEECH_DBFS,
): Promise<PerformanceReport> {
  const pcm = await loadSample();
  const sessionId = `ops-performance-test-${randomUUID()}`;
  const operations: OperationTiming[] = [];

  async function measure(name: string, op: string, attributes: Record<string, string | number>, work: () => Promise<unknown>): Promise<void> {
    const started = performance.now();
    let span: Sentry.Span;
    try {
      span = await Sentry.startSpan({ name, op, attributes }, async (active) => {
        await work();
        return active;
      });
    } catch (error) {
      throw new PerformanceTestError(name, operations, error);
    }
    const measured = performance.now() - started;
    // Measured outside the span, a GC pause or the profiler's start on a busy host could add milliseconds the span
    // does not have.
    const { start_timestamp: spanStart, timestamp: spanEnd } = Sentry.spanToStaticSpanJSON(span);
    operations.push({ name, duration_ms: round(spanEnd === undefined ? measured : (spanEnd - spanStart) * 1000) });
  }

  const started = performance.now();
  await measure('Database Query', 'db.query', { 'db.system': store.kind, 'session.id': sessionId }, () => store.getSession(sessionId));
  // A remote engine is an OpenAI-compatible API (the seed's operation name); a local one says which it is.
  const engineCall = engine.tracesOwnRequests ? 'OpenAI API Call' : `Transcribe with ${engine.name}`;
  await measure(engineCall, 'ai', { 'engine.name': engine.name, 'engine.model': engine.model, 'segment.audio_bytes': pcm.length }, () =>
    engine.transcribe({ pcm, sampleRate: DEFAULT_SAMPLE_RATE, language: 'en' }),
  );
  await measure('Data Processing', 'function', { 'audio.bytes': pcm.length }, async () => {
    hasSpeech(pcm, DEFAULT_SAMPLE_RATE, speechDbfs);
    encodeWav(pcm, DEFAULT_SAMPLE_RATE);
  });
  await measure('Cache Write', 'cache.set', { 'db.system': store.kind, 'cache.item_size': pcm.length }, async () => {
    await store.openSession(sessionId, { format: 'pcm_s16le', sample_rate: DEFAULT_SAMPLE_RATE, channels: 1 });
    await store.append(sessionId, 0, pcm, pcm.length);
    // Ending drops the audio at once; the small session record expires with SESSION_TTL_S.
    await store.endSession(sessionId);
  });
  return {
    status: 'success',
    message: 'Performance test completed',
    operations,
    total_duration_ms: round(performance.now() - started),
    check: 'Visit Sentry Performance tab to view transaction details',
  };
}
