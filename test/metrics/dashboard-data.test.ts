// The dashboard's numbers from real registry samples on a controlled clock: percentiles of what was observed in each
// window (not since start), rates per second, refusals by code, gauges as they were, and the 15-minute horizon.
import { describe, expect, it } from 'vitest';
import { createDashboardSampler } from '../../src/metrics/dashboard-data.js';
import { createPrometheusMetrics } from '../../src/metrics/prometheus-metrics.js';

function setUp(rateWindowMs = 10_000) {
  const { metrics, registry } = createPrometheusMetrics({ defaultMetrics: false });
  let clock = 1_700_000_000_000;
  const sampler = createDashboardSampler({ source: registry, stepMs: 5000, rateWindowMs, now: () => clock });
  return { metrics, sampler, advance: (ms: number) => (clock += ms) };
}

describe('dashboard sampler', () => {
  it('computes each point from what happened in its window', async () => {
    const { metrics, sampler, advance } = setUp(5000);
    await sampler.sample();
    // First window: 100 chunks acked in 1–2.5 ms, 10 s of audio, 2 final results of ~0.3 s, one refusal.
    for (let i = 0; i < 100; i++) {
      metrics.chunkAccepted(0.1);
      metrics.eventHandled('audio_chunk', 0.002);
    }
    metrics.resultEmitted('final', 0.3);
    metrics.resultEmitted('final', 0.3);
    metrics.eventHandled('audio_chunk', 0.002, 'SEQ_GAP');
    metrics.sessionsActive(4);
    metrics.engineState({ limit: 4, inFlight: 2, queued: 1 });
    advance(5000);
    await sampler.sample();
    // Second window: slow acks only (0.5–1 s): the first window's fast acks must not dilute them.
    for (let i = 0; i < 10; i++) metrics.eventHandled('audio_chunk', 0.8);
    advance(5000);
    await sampler.sample();

    const data = sampler.data();
    expect(data.stepS).toBe(5);
    expect(data.t).toHaveLength(2);
    expect(data.t[1]! - data.t[0]!).toBe(5);
    const [first, second] = [0, 1];
    expect(data.throughput.chunksPerS[first]).toBe(20);
    expect(data.throughput.audioSecondsPerS[first]).toBeCloseTo(2, 9);
    expect(data.throughput.resultsPerS[first]).toBeCloseTo(0.4, 9);
    expect(data.throughput.chunksPerS[second]).toBe(0);
    expect(data.ackLatency.p50[first]).toBeGreaterThan(0.001);
    expect(data.ackLatency.p99[first]).toBeLessThanOrEqual(0.0025);
    expect(data.ackLatency.p50[second]).toBeGreaterThan(0.5);
    expect(data.ackLatency.p99[second]).toBeLessThanOrEqual(1);
    expect(data.resultLatency.p50[first]).toBeGreaterThan(0.25);
    expect(data.resultLatency.p50[first]).toBeLessThanOrEqual(0.5);
    // No result in the second window: a gap, not a zero.
    expect(data.resultLatency.p95[second]).toBeNull();
    expect(data.errorsPerS).toEqual({ SEQ_GAP: [0.2, 0] });
    expect(data.sessionsActive).toEqual([4, 4]);
    expect(data.engine).toEqual({ limit: [4, 4], inFlight: [2, 2], queued: [1, 1] });
  });

  it('keeps 15 minutes of points', async () => {
    const { metrics, sampler, advance } = setUp();
    for (let i = 0; i < 200; i++) {
      metrics.chunkAccepted(0.1);
      await sampler.sample();
      advance(5000);
    }
    const data = sampler.data();
    expect(data.t.length).toBeGreaterThanOrEqual(180);
    expect(data.t.length).toBeLessThanOrEqual(181);
    expect(data.t[data.t.length - 1]! - data.t[0]!).toBeLessThanOrEqual(900);
    // One chunk per 5 s step, over a 10 s window.
    expect(data.throughput.chunksPerS.at(-1)).toBeCloseTo(0.2, 9);
  });
});
