// Latency samples kept whole for a run, and their percentiles (nearest rank, like the client's LatencyTracker).

export interface Percentiles {
  count: number;
  p50: number | undefined;
  p75: number | undefined;
  p95: number | undefined;
  p99: number | undefined;
  max: number | undefined;
  mean: number | undefined;
}

/**
 * Every sample of a run, up to `capacity`; past that a uniform reservoir keeps the percentiles honest for
 * very long runs without growing memory (a 1,000-session hour of 100 ms chunks is 36 million acks).
 */
export class Samples {
  private values = new Float64Array(1024);
  private size = 0;
  private seen = 0;

  constructor(private readonly capacity = 2_000_000) {}

  /** Samples offered, including any the reservoir had to leave out. */
  get count(): number {
    return this.seen;
  }

  add(value: number): void {
    if (!Number.isFinite(value) || value < 0) return;
    this.seen += 1;
    if (this.size < this.capacity) {
      if (this.size === this.values.length) {
        const grown = new Float64Array(Math.min(this.capacity, this.values.length * 2));
        grown.set(this.values);
        this.values = grown;
      }
      this.values[this.size++] = value;
      return;
    }
    const slot = Math.floor(Math.random() * this.seen);
    if (slot < this.capacity) this.values[slot] = value;
  }

  summary(): Percentiles {
    const sorted = this.values.slice(0, this.size).sort();
    const at = (p: number) => nearestRank(sorted, p);
    let sum = 0;
    for (const value of sorted) sum += value;
    return {
      count: this.seen,
      p50: at(50),
      p75: at(75),
      p95: at(95),
      p99: at(99),
      max: sorted.length ? sorted[sorted.length - 1] : undefined,
      mean: sorted.length ? sum / sorted.length : undefined,
    };
  }
}

/** Nearest-rank percentile of ascending `sorted` (`p` from 0 to 100); undefined when empty. */
export function nearestRank(sorted: ArrayLike<number>, p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const rank = Math.ceil((Math.min(Math.max(p, 0), 100) / 100) * sorted.length);
  return sorted[Math.max(rank, 1) - 1];
}
