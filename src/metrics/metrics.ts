// The metrics seam: the pipeline reports counts and durations through this interface, so the server runs the same
// with Prometheus metrics (metrics/prometheus-metrics.ts) or with none (noopMetrics). No per-session labels.
import type { ClientEventName, ErrorCode } from '../protocol/index.js';

export type ResultKind = 'final' | 'interim';
/** Engine request outcome by class: ok, 4xx (our fault or the key's), 429 (quota), 5xx, timeout, network. */
export type EngineOutcome = 'ok' | '4xx' | '429' | '5xx' | 'timeout' | 'network' | 'error';

export interface ServerMetrics {
  /** An event was answered (acked) after `seconds`; `code` when it was refused. */
  eventHandled(event: ClientEventName, seconds: number, code?: ErrorCode): void;
  /** A transcription_result was emitted `seconds` after its cut (final) or its request (interim). */
  resultEmitted(kind: ResultKind, seconds: number): void;
  /** One engine request finished. */
  engineRequest(kind: ResultKind, seconds: number, outcome: EngineOutcome): void;
  /** The engine scheduler's state after a change. */
  engineState(state: { limit: number; inFlight: number; queued: number }): void;
  /** A segment waited `seconds` in the engine queue before its request started. */
  queueWait(kind: ResultKind, seconds: number): void;
  sessionStarted(resumed: boolean): void;
  sessionEnded(): void;
  /** Sessions this process serves now. */
  sessionsActive(count: number): void;
  connectionOpened(): void;
  connectionClosed(): void;
  /** A well-formed audio_chunk of `bytes` on the wire, in the session's `format` (before decoding). */
  chunkBytesReceived(format: string, bytes: number): void;
  /** An accepted (new, not duplicate) chunk of `audioSeconds`. */
  chunkAccepted(audioSeconds: number): void;
  /** Audio that reached the engine as a final segment. */
  audioTranscribed(audioSeconds: number): void;
  /** One store round trip (append, commit, read) took `seconds`. */
  storeRoundTrip(operation: string, seconds: number): void;
  /** The Redis primary changed (a Sentinel failover, a cluster's masters changed). */
  storeFailover(): void;
  /** A Redis WAIT confirmed fewer replicas than REDIS_WAIT_REPLICAS in time: that turn's writes were refused. */
  storeWaitTimeout(): void;
  /** The event loop's busy share (0–1) over the last window. */
  eventLoopUtilization(share: number): void;
  /** An engine result (a verbose_json segment) was dropped as not speech: `no_speech` or `repetition`. */
  transcriptionDropped(reason: string): void;
  /** The primary engine's circuit breaker changed state (only with ENGINE_FALLBACK). */
  engineBreakerState(state: 'closed' | 'open' | 'half_open'): void;
  /** Sentry's transport dropped `count` items of `category` (transaction, span, error, …) for `reason` (queue_overflow, network_error, …). */
  telemetryDropped(reason: string, category: string, count: number): void;
}

const nothing = () => {};

export const noopMetrics: ServerMetrics = {
  eventHandled: nothing,
  resultEmitted: nothing,
  engineRequest: nothing,
  engineState: nothing,
  queueWait: nothing,
  sessionStarted: nothing,
  sessionEnded: nothing,
  sessionsActive: nothing,
  connectionOpened: nothing,
  connectionClosed: nothing,
  chunkBytesReceived: nothing,
  chunkAccepted: nothing,
  audioTranscribed: nothing,
  storeRoundTrip: nothing,
  storeFailover: nothing,
  storeWaitTimeout: nothing,
  eventLoopUtilization: nothing,
  telemetryDropped: nothing,
  transcriptionDropped: nothing,
  engineBreakerState: nothing,
};
