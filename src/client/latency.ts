// Tracks ack latencies and answers percentile questions (p50, p95) over a bounded window of recent samples.

export interface LatencySummary {
  count: number;
  p50: number | undefined;
  p95: number | undefined;
  p99: number | undefined;
  max: number | undefined;
  mean: number | undefined;
}

/**
 * Keeps the most recent `capacity` samples in a ring so a long stream or a load test cannot grow memory
 * without bound; percentiles are computed on demand (nearest-rank) from a sorted copy.
 */
export class LatencyTracker {
  private readonly samples: Float64Array;
  private next = 0;
  private size = 0;
  private total = 0;

  constructor(readonly capacity = 10_000) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a whole number of at least 1');
    this.samples = new Float64Array(capacity);
  }

  record(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    this.samples[this.next] = ms;
    this.next = (this.next + 1) % this.capacity;
    if (this.size < this.capacity) this.size += 1;
    this.total += 1;
  }

  /** Samples recorded since creation, including those the window has already forgotten. */
  get count(): number {
    return this.total;
  }

  /** Nearest-rank percentile of the window (`p` from 0 to 100); undefined when nothing was recorded. */
  percentile(p: number): number | undefined {
    return this.summaryOf(this.sorted(), [p])[0];
  }

  summary(): LatencySummary {
    const sorted = this.sorted();
    const [p50, p95, p99] = this.summaryOf(sorted, [50, 95, 99]);
    let sum = 0;
    for (const value of sorted) sum += value;
    return {
      count: this.total,
      p50,
      p95,
      p99,
      max: sorted.length ? sorted[sorted.length - 1] : undefined,
      mean: sorted.length ? sum / sorted.length : undefined,
    };
  }

  reset(): void {
    this.next = 0;
    this.size = 0;
    this.total = 0;
  }

  private sorted(): Float64Array {
    return this.samples.slice(0, this.size).sort();
  }

  private summaryOf(sorted: Float64Array, ps: number[]): (number | undefined)[] {
    return ps.map((p) => {
      if (sorted.length === 0) return undefined;
      const rank = Math.ceil((Math.min(Math.max(p, 0), 100) / 100) * sorted.length);
      return sorted[Math.max(rank, 1) - 1];
    });
  }
}
