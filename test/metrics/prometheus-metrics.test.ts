// The Prometheus metrics: names, types and label sets pinned; each ServerMetrics call moves exactly the series it
// names; histograms receive observations; the text format round-trips through the parser the cluster primary uses.
import { describe, expect, it } from 'vitest';
import { histogramQuantile } from '../../src/metrics/histogram-quantile.js';
import { parsePrometheusText } from '../../src/metrics/metrics-source.js';
import { createPrometheusMetrics } from '../../src/metrics/prometheus-metrics.js';

async function value(registry: import('prom-client').Registry, name: string, labels: Record<string, string> = {}, metricName = name) {
  const family = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  if (!family) throw new Error(`no metric ${name}`);
  const sample = family.values.find(
    (v) => ((v as { metricName?: string }).metricName ?? name) === metricName && Object.entries(labels).every(([k, l]) => String(v.labels[k]) === l),
  );
  return sample?.value ?? 0;
}

describe('createPrometheusMetrics', () => {
  it('registers the pinned names, types and label sets on its own registry (not the global one)', async () => {
    const { metrics, registry } = createPrometheusMetrics({ defaultMetrics: false });
    // One call of each so every labelled series exists.
    metrics.eventHandled('audio_chunk', 0.001, 'SEQ_GAP');
    metrics.resultEmitted('final', 1);
    metrics.engineRequest('final', 1, 'ok');
    metrics.engineState({ limit: 4, inFlight: 1, queued: 0 });
    metrics.queueWait('interim', 0.1);
    metrics.storeRoundTrip('append', 0.001);
    const shape = (await registry.getMetricsAsJSON()).map((m) => ({
      name: m.name,
      type: m.type,
      labels: [...new Set(m.values.flatMap((v) => Object.keys(v.labels)).filter((l) => l !== 'le'))].sort(),
    }));
    expect(shape).toMatchInlineSnapshot(`
      [
        {
          "labels": [
            "event",
          ],
          "name": "transcription_event_duration_seconds",
          "type": "histogram",
        },
        {
          "labels": [
            "code",
            "event",
          ],
          "name": "transcription_event_refusals_total",
          "type": "counter",
        },
        {
          "labels": [
            "kind",
          ],
          "name": "transcription_result_latency_seconds",
          "type": "histogram",
        },
        {
          "labels": [
            "kind",
            "outcome",
          ],
          "name": "transcription_engine_request_duration_seconds",
          "type": "histogram",
        },
        {
          "labels": [],
          "name": "transcription_engine_concurrency_limit",
          "type": "gauge",
        },
        {
          "labels": [],
          "name": "transcription_engine_in_flight",
          "type": "gauge",
        },
        {
          "labels": [],
          "name": "transcription_engine_queue_depth",
          "type": "gauge",
        },
        {
          "labels": [
            "kind",
          ],
          "name": "transcription_engine_queue_wait_seconds",
          "type": "histogram",
        },
        {
          "labels": [],
          "name": "transcription_sessions_started_total",
          "type": "counter",
        },
        {
          "labels": [],
          "name": "transcription_sessions_resumed_total",
          "type": "counter",
        },
        {
          "labels": [],
          "name": "transcription_sessions_ended_total",
          "type": "counter",
        },
        {
          "labels": [],
          "name": "transcription_sessions_active",
          "type": "gauge",
        },
        {
          "labels": [],
          "name": "transcription_connections_total",
          "type": "counter",
        },
        {
          "labels": [],
          "name": "transcription_connections_active",
          "type": "gauge",
        },
        {
          "labels": [],
          "name": "transcription_audio_received_bytes_total",
          "type": "counter",
        },
        {
          "labels": [],
          "name": "transcription_chunks_total",
          "type": "counter",
        },
        {
          "labels": [],
          "name": "transcription_audio_received_seconds_total",
          "type": "counter",
        },
        {
          "labels": [],
          "name": "transcription_audio_transcribed_seconds_total",
          "type": "counter",
        },
        {
          "labels": [
            "operation",
          ],
          "name": "transcription_store_round_trip_seconds",
          "type": "histogram",
        },
        {
          "labels": [],
          "name": "transcription_store_failovers_total",
          "type": "counter",
        },
        {
          "labels": [],
          "name": "transcription_store_wait_timeouts_total",
          "type": "counter",
        },
        {
          "labels": [],
          "name": "transcription_event_loop_utilization",
          "type": "gauge",
        },
        {
          "labels": [],
          "name": "transcription_telemetry_dropped_total",
          "type": "counter",
        },
        {
          "labels": [],
          "name": "transcription_transcription_dropped_total",
          "type": "counter",
        },
        {
          "labels": [],
          "name": "transcription_engine_breaker_state",
          "type": "gauge",
        },
      ]
    `);
    const global = await import('prom-client').then((p) => p.register.getMetricsAsJSON());
    expect(global.filter((m) => m.name.startsWith('transcription_'))).toEqual([]);
  });

  it('adds Node default metrics (event-loop lag, GC, memory) to the same registry', async () => {
    const { registry } = createPrometheusMetrics();
    const names = (await registry.getMetricsAsJSON()).map((m) => m.name);
    expect(names).toEqual(expect.arrayContaining(['nodejs_eventloop_lag_p99_seconds', 'nodejs_gc_duration_seconds', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes']));
  });

  it('moves counters and gauges by exactly what each call reports', async () => {
    const { metrics, registry } = createPrometheusMetrics({ defaultMetrics: false });
    for (let i = 0; i < 7; i++) metrics.chunkAccepted(0.1);
    metrics.audioTranscribed(2.5);
    metrics.audioTranscribed(0.5);
    metrics.transcriptionDropped('no_speech');
    metrics.transcriptionDropped('no_speech');
    metrics.transcriptionDropped('repetition');
    metrics.sessionStarted(false);
    metrics.sessionStarted(false);
    metrics.sessionStarted(true);
    metrics.sessionEnded();
    metrics.sessionsActive(5);
    metrics.sessionsActive(3);
    metrics.connectionOpened();
    metrics.connectionOpened();
    metrics.connectionClosed();
    metrics.eventHandled('audio_chunk', 0.002);
    metrics.eventHandled('audio_chunk', 0.002, 'SEQ_GAP');
    metrics.eventHandled('audio_chunk', 0.002, 'SEQ_GAP');
    metrics.eventHandled('start_session', 0.002, 'OVERLOADED');
    metrics.engineState({ limit: 4, inFlight: 3, queued: 9 });
    metrics.chunkBytesReceived('ogg_opus', 300);
    metrics.chunkBytesReceived('ogg_opus', 200);
    metrics.chunkBytesReceived('pcm_s16le', 3200);

    expect(await value(registry, 'transcription_audio_received_bytes_total', { format: 'ogg_opus' })).toBe(500);
    expect(await value(registry, 'transcription_audio_received_bytes_total', { format: 'pcm_s16le' })).toBe(3200);
    expect(await value(registry, 'transcription_chunks_total')).toBe(7);
    expect(await value(registry, 'transcription_audio_received_seconds_total')).toBeCloseTo(0.7, 9);
    expect(await value(registry, 'transcription_audio_transcribed_seconds_total')).toBe(3);
    expect(await value(registry, 'transcription_transcription_dropped_total', { reason: 'no_speech' })).toBe(2);
    expect(await value(registry, 'transcription_transcription_dropped_total', { reason: 'repetition' })).toBe(1);
    expect(await value(registry, 'transcription_sessions_started_total')).toBe(2);
    expect(await value(registry, 'transcription_sessions_resumed_total')).toBe(1);
    expect(await value(registry, 'transcription_sessions_ended_total')).toBe(1);
    expect(await value(registry, 'transcription_sessions_active')).toBe(3);
    expect(await value(registry, 'transcription_connections_total')).toBe(2);
    expect(await value(registry, 'transcription_connections_active')).toBe(1);
    expect(await value(registry, 'transcription_event_refusals_total', { event: 'audio_chunk', code: 'SEQ_GAP' })).toBe(2);
    expect(await value(registry, 'transcription_event_refusals_total', { event: 'start_session', code: 'OVERLOADED' })).toBe(1);
    expect(await value(registry, 'transcription_event_duration_seconds', { event: 'audio_chunk' }, 'transcription_event_duration_seconds_count')).toBe(3);
    expect(await value(registry, 'transcription_engine_concurrency_limit')).toBe(4);
    expect(await value(registry, 'transcription_engine_in_flight')).toBe(3);
    expect(await value(registry, 'transcription_engine_queue_depth')).toBe(9);
  });

  it('puts each observation in its histogram bucket, by label', async () => {
    const { metrics, registry } = createPrometheusMetrics({ defaultMetrics: false });
    metrics.resultEmitted('final', 0.3);
    metrics.resultEmitted('final', 1.8);
    metrics.resultEmitted('interim', 0.2);
    metrics.engineRequest('final', 0.9, 'ok');
    metrics.engineRequest('final', 30, 'timeout');
    metrics.queueWait('final', 0.02);
    metrics.storeRoundTrip('append', 0.0003);
    metrics.storeRoundTrip('append', 0.0004);
    const bucket = (name: string, labels: Record<string, string>) => value(registry, name, labels, `${name}_bucket`);
    const sum = (name: string, labels: Record<string, string>) => value(registry, name, labels, `${name}_sum`);

    expect(await bucket('transcription_result_latency_seconds', { kind: 'final', le: '0.5' })).toBe(1);
    expect(await bucket('transcription_result_latency_seconds', { kind: 'final', le: '2' })).toBe(2);
    expect(await sum('transcription_result_latency_seconds', { kind: 'final' })).toBeCloseTo(2.1, 9);
    expect(await bucket('transcription_result_latency_seconds', { kind: 'interim', le: '0.25' })).toBe(1);
    expect(await bucket('transcription_engine_request_duration_seconds', { kind: 'final', outcome: 'ok', le: '1' })).toBe(1);
    expect(await bucket('transcription_engine_request_duration_seconds', { kind: 'final', outcome: 'timeout', le: '15' })).toBe(0);
    expect(await bucket('transcription_engine_request_duration_seconds', { kind: 'final', outcome: 'timeout', le: '30' })).toBe(1);
    expect(await bucket('transcription_engine_queue_wait_seconds', { kind: 'final', le: '0.05' })).toBe(1);
    expect(await bucket('transcription_store_round_trip_seconds', { operation: 'append', le: '0.0005' })).toBe(2);
  });

  it('drops values prom-client would throw on, instead of breaking the event that reports them', async () => {
    const { metrics, registry } = createPrometheusMetrics({ defaultMetrics: false });
    expect(() => {
      metrics.eventHandled('audio_chunk', Number.NaN);
      metrics.eventHandled('audio_chunk', -0.001);
      metrics.chunkAccepted(Number.NaN);
      metrics.audioTranscribed(-1);
      metrics.resultEmitted('final', Infinity);
      metrics.storeRoundTrip('append', Number.NaN);
      metrics.sessionsActive(Number.NaN);
    }).not.toThrow();
    expect(await value(registry, 'transcription_event_duration_seconds', { event: 'audio_chunk' }, 'transcription_event_duration_seconds_count')).toBe(0);
    expect(await value(registry, 'transcription_audio_received_seconds_total')).toBe(0);
    // The chunk itself was accepted: it still counts.
    expect(await value(registry, 'transcription_chunks_total')).toBe(1);
  });

  it('writes text that the cluster primary parses back to the same values', async () => {
    const { metrics, registry } = createPrometheusMetrics();
    metrics.eventHandled('audio_chunk', 0.004, 'BUFFER_FULL');
    metrics.resultEmitted('final', 0.7);
    metrics.chunkAccepted(0.1);
    const parsed = parsePrometheusText(await registry.metrics());
    const json = await registry.getMetricsAsJSON();
    expect(parsed.map((f) => f.name)).toEqual(json.map((f) => f.name));
    // Default metrics (CPU, memory) change between two reads: compare this server's own.
    for (const family of json.filter((f) => f.name.startsWith('transcription_'))) {
      const mine = parsed.find((f) => f.name === family.name)!;
      expect(mine.type).toBe(family.type);
      expect(mine.values.map((v) => v.value)).toEqual(family.values.map((v) => v.value));
      expect(mine.values.map((v) => v.labels)).toEqual(family.values.map((v) => Object.fromEntries(Object.entries(v.labels).map(([k, l]) => [k, String(l)]))));
    }
  });
});

describe('histogramQuantile', () => {
  it('interpolates inside the bucket like Prometheus, and stops at the highest finite bound', () => {
    const bounds = [0.1, 0.5, 1, Infinity];
    expect(histogramQuantile(0.5, bounds, [0, 0, 0, 0])).toBeUndefined();
    // 10 observations, all in (0.1, 0.5]: the median is halfway through that bucket.
    expect(histogramQuantile(0.5, bounds, [0, 10, 10, 10])).toBeCloseTo(0.3, 9);
    expect(histogramQuantile(0.95, bounds, [0, 10, 10, 10])).toBeCloseTo(0.48, 9);
    expect(histogramQuantile(0.99, bounds, [5, 5, 5, 10])).toBe(1);
    expect(histogramQuantile(0.25, bounds, [10, 10, 10, 10])).toBeCloseTo(0.025, 9);
  });
});
