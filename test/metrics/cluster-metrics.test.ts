// WORKERS > 1: a real node:cluster with two workers; the primary's ops server serves the sum of both workers' metrics
// at /metrics and draws it at /dashboard/data.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { MetricFamily } from '../../src/metrics/metrics-source.js';

const run = promisify(execFile);

describe('cluster metrics', () => {
  it('sums the workers\u2019 counters, gauges and histograms in the primary', { timeout: 90_000 }, async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'test/metrics/cluster-fixture.ts'], { timeout: 80_000 });
    const { text, families, contentType, dashboard } = JSON.parse(stdout) as {
      text: string;
      families: MetricFamily[];
      contentType: string;
      dashboard: { sessionsActive: (number | null)[] };
    };
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(text).toMatch(/^transcription_chunks_total 8$/m);
    expect(text).toMatch(/^transcription_sessions_active 8$/m);
    expect(text).toMatch(/^transcription_event_refusals_total\{event="audio_chunk",code="SEQ_GAP"\} 2$/m);
    expect(text).toMatch(/^transcription_event_duration_seconds_count\{event="audio_chunk"\} 4$/m);
    // Node's default metrics come along, with their own aggregators.
    expect(text).toMatch(/^nodejs_eventloop_lag_p99_seconds /m);
    const audio = families.find((f) => f.name === 'transcription_audio_received_seconds_total');
    expect(audio?.type).toBe('counter');
    expect(audio?.values[0]?.value).toBeCloseTo(0.8, 9);
    const buckets = families.find((f) => f.name === 'transcription_event_duration_seconds')!.values.filter((v) => v.metricName?.endsWith('_bucket'));
    expect(buckets.find((v) => v.labels.le === '0.005')?.value).toBe(4);
    // The dashboard samples the same sum.
    expect(dashboard.sessionsActive.at(-1)).toBe(8);
  });
});
