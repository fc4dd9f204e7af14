// The span vocabulary of the pipeline: which op and attribute keys each step reports under, in one place, so
// the domain code says what it does ("buffer a chunk", "transcribe a segment") and never spells Sentry's names.
import type { ResultKind } from '../metrics/metrics.js';
import type { EventTrace, SpanAttributes, SpanHandle } from './telemetry.js';

type Work<T> = (span: SpanHandle) => Promise<T> | T;

/** Queue name in Sentry's Queues view. */
export const ENGINE_QUEUE = 'engine';
const MESSAGING_SYSTEM = 'engine-scheduler';

export const eventSpans = {
  /** Validation of a client's payload. */
  validate<T>(trace: EventTrace, what: string, fn: Work<T>): Promise<T> {
    return trace.span('process', `Validate ${what}`, {}, fn);
  },

  /**
   * Decoding a chunk of a compressed format (mulaw, alaw, Opus) to PCM: a `process` step like the chunk's validation,
   * after the duplicate check; the span's duration is the decode time.
   */
  decodeChunk<T>(trace: EventTrace, format: string, bytes: number, fn: Work<T>): Promise<T> {
    return trace.span('process', `Decode ${format} audio chunk`, { 'audio.format': format, 'chunk.bytes': bytes }, fn);
  },

  /** One store write of a chunk. */
  bufferChunk<T>(trace: EventTrace, key: string, bytes: number, store: string, fn: Work<T>): Promise<T> {
    return trace.span('cache.set', 'Buffer audio chunk', { 'cache.key': key, 'cache.item_size': bytes, 'db.system': store }, fn);
  },

  /** Reading a segment's audio back from the store. */
  readSegment<T>(trace: EventTrace, bytes: number, store: string, fn: Work<T>): Promise<T> {
    return trace.span('cache.get', 'Read segment audio', { 'cache.item_size': bytes, 'db.system': store }, fn);
  },

  /** The whole processing of one segment (final) or of the segment so far (interim). */
  transcribe<T>(trace: EventTrace, kind: ResultKind, attributes: SpanAttributes, fn: Work<T>): Promise<T> {
    const name = kind === 'final' ? 'Process audio buffer' : 'Interim transcription';
    return trace.span('ai', name, { ...attributes, 'transcription.kind': kind }, fn);
  },

  /** Hand-off of a segment to the engine scheduler (a producer span of Sentry's Queues view). */
  publish<T>(trace: EventTrace, messageId: string, bytes: number, fn: Work<T>): Promise<T> {
    return trace.span('queue.publish', `Queue segment for ${ENGINE_QUEUE}`, {
      'messaging.system': MESSAGING_SYSTEM,
      'messaging.destination.name': ENGINE_QUEUE,
      'messaging.message.id': messageId,
      'messaging.message.body.size': bytes,
    }, fn);
  },

  /**
   * One engine attempt at a segment once the scheduler started it (a consumer span). `receiveLatencyMs` is the
   * time since the hand-off; `retry` counts the attempts before this one.
   */
  process<T>(trace: EventTrace, messageId: string, bytes: number, attempt: { receiveLatencyMs: number; retry: number }, fn: Work<T>): Promise<T> {
    return trace.span('queue.process', `Process segment from ${ENGINE_QUEUE}`, {
      'messaging.system': MESSAGING_SYSTEM,
      'messaging.destination.name': ENGINE_QUEUE,
      'messaging.message.id': messageId,
      'messaging.message.body.size': bytes,
      'messaging.message.receive.latency': Math.round(attempt.receiveLatencyMs),
      'messaging.message.retry.count': attempt.retry,
    }, fn);
  },

  /** A local engine's run, for engines whose requests are not traced by an HTTP client. */
  engineRun<T>(trace: EventTrace, engineName: string, fn: Work<T>): Promise<T> {
    return trace.span('ai.run', `Transcribe with ${engineName}`, { 'engine.name': engineName }, fn);
  },
};
