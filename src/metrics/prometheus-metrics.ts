// ServerMetrics on prom-client: every pipeline count and duration as a Prometheus metric in a registry of its own,
// plus Node's default metrics (event-loop lag, GC, memory). Labels are bounded sets only: never a session or socket.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ClientEventName, ErrorCode } from '../protocol/index.js';
import type { EngineOutcome, ResultKind, ServerMetrics } from './metrics.js';

export const METRIC_PREFIX = 'transcription_';

/** Acks: sub-millisecond for a memory-store chunk, seconds for an end_session that waits for the last segment. 2 s is the alert threshold. */
export const ACK_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60];
/** Results and engine requests: a Whisper call takes a few hundred milliseconds to seconds; 2 s is the alert threshold. */
export const RESULT_BUCKETS = [0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 7.5, 10, 15, 30, 60];
/** Queue wait: zero while the engine has room; 1 s is the alert threshold. */
export const QUEUE_BUCKETS = [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60];
/** Store round trips: tens of microseconds in memory, a millisecond or so to Redis. */
export const STORE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

export interface PrometheusMetricsOptions {
  /** Node's default metrics (process_*, nodejs_*: event-loop lag, GC, heap) on the same registry. Default true. */
  defaultMetrics?: boolean;
}

export interface PrometheusMetrics {
  /** What the pipeline reports through. */
  readonly metrics: ServerMetrics;
  /** Where the metrics live: GET /metrics serves it, the dashboard samples it. Not prom-client's global registry. */
  readonly registry: Registry;
}

export function createPrometheusMetrics(options: PrometheusMetricsOptions = {}): PrometheusMetrics {
  const registry = new Registry();
  const registers = [registry];
  const name = (base: string) => `${METRIC_PREFIX}${base}`;

  const eventDuration = new Histogram({
    name: name('event_duration_seconds'),
    help: 'Time from a client event to its ack (refused or not), by event',
    labelNames: ['event'] as const,
    buckets: ACK_BUCKETS,
    registers,
  });
  const refusals = new Counter({
    name: name('event_refusals_total'),
    help: 'Events answered with an error ack, by event and protocol error code',
    labelNames: ['event', 'code'] as const,
    registers,
  });
  const resultLatency = new Histogram({
    name: name('result_latency_seconds'),
    help: 'From a segment cut (final) or an interim request to its transcription_result, by kind',
    labelNames: ['kind'] as const,
    buckets: RESULT_BUCKETS,
    registers,
  });
  const engineDuration = new Histogram({
    name: name('engine_request_duration_seconds'),
    help: 'Engine requests by kind and outcome (ok, 4xx, 429, 5xx, timeout, network, error); _count by outcome is the request count',
    labelNames: ['kind', 'outcome'] as const,
    buckets: RESULT_BUCKETS,
    registers,
  });
  const engineLimit = new Gauge({ name: name('engine_concurrency_limit'), help: 'Engine requests allowed at once', registers });
  const engineInFlight = new Gauge({ name: name('engine_in_flight'), help: 'Engine requests running now', registers });
  const engineQueued = new Gauge({ name: name('engine_queue_depth'), help: 'Segments waiting for an engine slot', registers });
  const queueWait = new Histogram({
    name: name('engine_queue_wait_seconds'),
    help: 'Time a segment waited for an engine slot, by kind',
    labelNames: ['kind'] as const,
    buckets: QUEUE_BUCKETS,
    registers,
  });
  const sessionsStarted = new Counter({ name: name('sessions_started_total'), help: 'New sessions started (resumes not included)', registers });
  const sessionsResumed = new Counter({ name: name('sessions_resumed_total'), help: 'Sessions resumed by start_session with a session id', registers });
  const sessionsEnded = new Counter({ name: name('sessions_ended_total'), help: 'Sessions ended by end_session', registers });
  const sessionsActive = new Gauge({ name: name('sessions_active'), help: 'Sessions this process serves now', registers });
  const connectionsOpened = new Counter({ name: name('connections_total'), help: 'Socket.IO connections accepted on /transcription', registers });
  const connectionsActive = new Gauge({ name: name('connections_active'), help: 'Socket.IO connections open now', registers });
  const bytesReceived = new Counter({
    name: name('audio_received_bytes_total'),
    help: 'Bytes of well-formed audio chunks received, by the session format they arrive in (before decoding)',
    labelNames: ['format'] as const,
    registers,
  });
  const chunks = new Counter({ name: name('chunks_total'), help: 'Audio chunks accepted (new, not duplicates)', registers });
  const audioReceived = new Counter({ name: name('audio_received_seconds_total'), help: 'Seconds of audio accepted in chunks', registers });
  const audioTranscribed = new Counter({ name: name('audio_transcribed_seconds_total'), help: 'Seconds of audio sent to the engine as final segments', registers });
  const storeRoundTrip = new Histogram({
    name: name('store_round_trip_seconds'),
    help: 'Buffer store round trips by operation',
    labelNames: ['operation'] as const,
    buckets: STORE_BUCKETS,
    registers,
  });

  const storeFailovers = new Counter({ name: name('store_failovers_total'), help: 'Times the Redis primary changed (Sentinel failover, cluster masters changed)', registers });
  const storeWaitTimeouts = new Counter({
    name: name('store_wait_timeouts_total'),
    help: 'Redis WAITs that confirmed fewer than REDIS_WAIT_REPLICAS replicas in time (their chunks were refused, retryable)',
    registers,
  });

  const eventLoopUtilization = new Gauge({
    name: name('event_loop_utilization'),
    help: 'Share of the last window the event loop was busy (0-1); new sessions are refused above MAX_EVENT_LOOP_UTILIZATION',
    registers,
  });

  const telemetryDropped = new Counter({
    name: name('telemetry_dropped_total'),
    help: 'Sentry events the SDK dropped before sending (buffer full, network, rate limits), by reason and category',
    labelNames: ['reason', 'category'] as const,
    registers,
  });

  const transcriptionDropped = new Counter({
    name: name('transcription_dropped_total'),
    help: 'Audio or engine output dropped as not speech, by reason: not_speech (Silero VAD, never uploaded), no_speech (Whisper no_speech_prob/avg_logprob), repetition (compression_ratio)',
    labelNames: ['reason'] as const,
    registers,
  });
  const breakerState = new Gauge({
    name: name('engine_breaker_state'),
    help: "The primary engine's circuit breaker with ENGINE_FALLBACK: 0 closed, 1 half-open (probing), 2 open (segments go to the fallback)",
    registers,
  });

  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });

  // Labelled children resolved once per label value: the per-chunk path then skips prom-client's label hashing.
  const eventChild = memo((event: string) => eventDuration.labels(event));
  const storeChild = memo((operation: string) => storeRoundTrip.labels(operation));
  const resultChild = memo((kind: string) => resultLatency.labels(kind));
  const formatChild = memo((format: string) => bytesReceived.labels(format));

  const metrics: ServerMetrics = {
    eventHandled(event: ClientEventName, seconds: number, code?: ErrorCode) {
      if (valid(seconds)) eventChild(event).observe(seconds);
      if (code) refusals.labels(event, code).inc();
    },
    resultEmitted(kind: ResultKind, seconds: number) {
      if (valid(seconds)) resultChild(kind).observe(seconds);
    },
    engineRequest(kind: ResultKind, seconds: number, outcome: EngineOutcome) {
      if (valid(seconds)) engineDuration.labels(kind, outcome).observe(seconds);
    },
    engineState({ limit, inFlight, queued }) {
      if (valid(limit)) engineLimit.set(limit);
      if (valid(inFlight)) engineInFlight.set(inFlight);
      if (valid(queued)) engineQueued.set(queued);
    },
    queueWait(kind: ResultKind, seconds: number) {
      if (valid(seconds)) queueWait.labels(kind).observe(seconds);
    },
    sessionStarted(resumed: boolean) {
      (resumed ? sessionsResumed : sessionsStarted).inc();
    },
    sessionEnded() {
      sessionsEnded.inc();
    },
    sessionsActive(count: number) {
      if (valid(count)) sessionsActive.set(count);
    },
    connectionOpened() {
      connectionsOpened.inc();
      connectionsActive.inc();
    },
    connectionClosed() {
      connectionsActive.dec();
    },
    chunkBytesReceived(format: string, bytes: number) {
      if (valid(bytes)) formatChild(format).inc(bytes);
    },
    chunkAccepted(audioSeconds: number) {
      chunks.inc();
      if (valid(audioSeconds)) audioReceived.inc(audioSeconds);
    },
    audioTranscribed(audioSeconds: number) {
      if (valid(audioSeconds)) audioTranscribed.inc(audioSeconds);
    },
    storeRoundTrip(operation: string, seconds: number) {
      if (valid(seconds)) storeChild(operation).observe(seconds);
    },
    storeFailover() {
      storeFailovers.inc();
    },
    storeWaitTimeout() {
      storeWaitTimeouts.inc();
    },
    eventLoopUtilization(share: number) {
      if (valid(share)) eventLoopUtilization.set(share);
    },
    telemetryDropped(reason: string, category: string, count: number) {
      if (valid(count)) telemetryDropped.labels(reason, category).inc(count);
    },
    transcriptionDropped(reason: string) {
      transcriptionDropped.labels(reason).inc();
    },
    engineBreakerState(state) {
      breakerState.set(state === 'closed' ? 0 : state === 'half_open' ? 1 : 2);
    },
  };
  return { metrics, registry };
}

/**
 * prom-client throws on NaN, Infinity and (for counters) negative increments: a metric must never break the event
 * that reports it, so such a value is dropped instead. (A clock that steps back can give a negative duration.)
 */
function valid(value: number): boolean {
  return value >= 0 && value !== Infinity;
}

function memo<T>(make: (key: string) => T): (key: string) => T {
  const made = new Map<string, T>();
  return (key) => {
    let value = made.get(key);
    if (value === undefined) {
      value = make(key);
      made.set(key, value);
    }
    return value;
  };
}
