// The live dashboard's numbers: samples the metrics every few seconds, keeps the last 15 minutes, and turns
// consecutive cumulative counts into percentiles and rates per point (what /dashboard/data returns).
import { histogramQuantile } from './histogram-quantile.js';
import { METRIC_PREFIX } from './prometheus-metrics.js';
import type { MetricFamily, MetricsSource } from './metrics-source.js';

/** A time series aligned with DashboardData.t; null where there is nothing to show (no observation in the window). */
export type Series = (number | null)[];

export interface PercentileSeries {
  p50: Series;
  p75: Series;
  p95: Series;
  p99: Series;
}

export interface DashboardData {
  /** Seconds between points and the window each percentile and rate looks back over. */
  stepS: number;
  rateWindowS: number;
  /** Point times, Unix seconds. */
  t: number[];
  /** audio_chunk acks, seconds. (end_session waits for the last transcription, so it is left out here.) */
  ackLatency: PercentileSeries;
  /** Final results, seconds from the segment's cut. */
  resultLatency: PercentileSeries;
  throughput: { chunksPerS: Series; audioSecondsPerS: Series; resultsPerS: Series };
  /** Refused events per second, by protocol error code (codes seen in the window only). */
  errorsPerS: Record<string, Series>;
  sessionsActive: Series;
  connectionsActive: Series;
  engine: { limit: Series; inFlight: Series; queued: Series };
}

interface Histogram {
  bounds: number[];
  counts: number[];
}

interface Snapshot {
  at: number;
  ack: Histogram;
  result: Histogram;
  chunks: number;
  audioSeconds: number;
  results: number;
  refusals: Map<string, number>;
  sessionsActive: number;
  connectionsActive: number;
  engine: { limit: number; inFlight: number; queued: number };
}

const name = (base: string) => `${METRIC_PREFIX}${base}`;

/** Sums one histogram's cumulative buckets over the label sets `keep` accepts. */
function histogramOf(family: MetricFamily | undefined, keep: (labels: Partial<Record<string, string | number>>) => boolean): Histogram {
  const byBound = new Map<number, number>();
  for (const sample of family?.values ?? []) {
    if (!sample.metricName?.endsWith('_bucket') || !keep(sample.labels)) continue;
    const le = sample.labels.le;
    const bound = le === '+Inf' || le === Infinity ? Infinity : Number(le);
    byBound.set(bound, (byBound.get(bound) ?? 0) + sample.value);
  }
  const bounds = [...byBound.keys()].sort((a, b) => a - b);
  return { bounds, counts: bounds.map((b) => byBound.get(b)!) };
}

function total(family: MetricFamily | undefined, metricName?: string): number {
  let sum = 0;
  for (const sample of family?.values ?? []) if (sample.metricName === metricName) sum += sample.value;
  return sum;
}

export function snapshotOf(families: MetricFamily[], at: number): Snapshot {
  const byName = new Map(families.map((f) => [f.name, f]));
  const get = (base: string) => byName.get(name(base));
  const refusals = new Map<string, number>();
  for (const sample of get('event_refusals_total')?.values ?? []) {
    const code = String(sample.labels.code ?? 'UNKNOWN');
    refusals.set(code, (refusals.get(code) ?? 0) + sample.value);
  }
  return {
    at,
    ack: histogramOf(get('event_duration_seconds'), (labels) => labels.event === 'audio_chunk'),
    result: histogramOf(get('result_latency_seconds'), (labels) => labels.kind === 'final'),
    chunks: total(get('chunks_total')),
    audioSeconds: total(get('audio_received_seconds_total')),
    results: total(get('result_latency_seconds'), name('result_latency_seconds_count')),
    refusals,
    sessionsActive: total(get('sessions_active')),
    connectionsActive: total(get('connections_active')),
    engine: { limit: total(get('engine_concurrency_limit')), inFlight: total(get('engine_in_flight')), queued: total(get('engine_queue_depth')) },
  };
}

/** What was observed between two cumulative histograms (a worker restart can make counts go back: never below 0). */
function histogramDelta(now: Histogram, before: Histogram): Histogram {
  const earlier = new Map(before.bounds.map((b, i) => [b, before.counts[i]!]));
  return { bounds: now.bounds, counts: now.counts.map((c, i) => Math.max(0, c - (earlier.get(now.bounds[i]!) ?? 0))) };
}

function percentilesOf(histogram: Histogram): [number | null, number | null, number | null, number | null] {
  const q = (p: number) => histogramQuantile(p, histogram.bounds, histogram.counts) ?? null;
  return [q(0.5), q(0.75), q(0.95), q(0.99)];
}

export interface DashboardSamplerOptions {
  source: MetricsSource;
  /** Default 5 s. */
  stepMs?: number;
  /** Default 15 minutes. */
  windowMs?: number;
  /** Percentiles and rates of a point cover this much time before it. Default 30 s. */
  rateWindowMs?: number;
  now?: () => number;
  /** A sample that failed (a cluster worker that did not answer): the point is skipped. */
  onError?: (error: unknown) => void;
}

export interface DashboardSampler {
  start(): void;
  stop(): void;
  /** Takes one sample now (the timer calls this). */
  sample(): Promise<void>;
  data(): DashboardData;
}

export function createDashboardSampler(options: DashboardSamplerOptions): DashboardSampler {
  const stepMs = options.stepMs ?? 5000;
  const windowMs = options.windowMs ?? 15 * 60_000;
  const rateWindowMs = Math.max(options.rateWindowMs ?? 30_000, stepMs);
  const now = options.now ?? Date.now;
  const lookBack = Math.max(1, Math.round(rateWindowMs / stepMs));
  const snapshots: Snapshot[] = [];
  let timer: NodeJS.Timeout | undefined;
  let sampling = false;

  async function sample(): Promise<void> {
    if (sampling) return;
    sampling = true;
    try {
      const families = await options.source.getMetricsAsJSON();
      const at = now();
      snapshots.push(snapshotOf(families, at));
      // One rate window more than the chart shows, so the first point shown has its full window.
      while (snapshots.length > 0 && snapshots[0]!.at < at - windowMs - rateWindowMs) snapshots.shift();
    } catch (error) {
      options.onError?.(error);
    } finally {
      sampling = false;
    }
  }

  function data(): DashboardData {
    const out: DashboardData = {
      stepS: stepMs / 1000,
      rateWindowS: (lookBack * stepMs) / 1000,
      t: [],
      ackLatency: { p50: [], p75: [], p95: [], p99: [] },
      resultLatency: { p50: [], p75: [], p95: [], p99: [] },
      throughput: { chunksPerS: [], audioSecondsPerS: [], resultsPerS: [] },
      errorsPerS: {},
      sessionsActive: [],
      connectionsActive: [],
      engine: { limit: [], inFlight: [], queued: [] },
    };
    const latest = snapshots[snapshots.length - 1];
    if (!latest) return out;
    const first = snapshots.findIndex((s) => s.at >= latest.at - windowMs);
    const codes = new Set<string>();
    for (let i = Math.max(first, 1); i < snapshots.length; i++) {
      for (const [code, count] of snapshots[i]!.refusals) if (count > (snapshots[i - 1]!.refusals.get(code) ?? 0)) codes.add(code);
    }
    for (const code of [...codes].sort()) out.errorsPerS[code] = [];

    for (let i = Math.max(first, 1); i < snapshots.length; i++) {
      const current = snapshots[i]!;
      const before = snapshots[Math.max(0, i - lookBack)]!;
      const seconds = (current.at - before.at) / 1000;
      const rate = (a: number, b: number) => (seconds > 0 ? Math.max(0, a - b) / seconds : null);
      out.t.push(Math.round(current.at / 100) / 10);
      const [a50, a75, a95, a99] = percentilesOf(histogramDelta(current.ack, before.ack));
      out.ackLatency.p50.push(a50), out.ackLatency.p75.push(a75), out.ackLatency.p95.push(a95), out.ackLatency.p99.push(a99);
      const [r50, r75, r95, r99] = percentilesOf(histogramDelta(current.result, before.result));
      out.resultLatency.p50.push(r50), out.resultLatency.p75.push(r75), out.resultLatency.p95.push(r95), out.resultLatency.p99.push(r99);
      out.throughput.chunksPerS.push(rate(current.chunks, before.chunks));
      out.throughput.audioSecondsPerS.push(rate(current.audioSeconds, before.audioSeconds));
      out.throughput.resultsPerS.push(rate(current.results, before.results));
      for (const code of codes) out.errorsPerS[code]!.push(rate(current.refusals.get(code) ?? 0, before.refusals.get(code) ?? 0));
      out.sessionsActive.push(current.sessionsActive);
      out.connectionsActive.push(current.connectionsActive);
      out.engine.limit.push(current.engine.limit);
      out.engine.inFlight.push(current.engine.inFlight);
      out.engine.queued.push(current.engine.queued);
    }
    return out;
  }

  return {
    start() {
      if (timer) return;
      void sample();
      timer = setInterval(() => void sample(), stepMs);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
    sample,
    data,
  };
}
