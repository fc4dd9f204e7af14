// What the HTML report adds to a run's recorder: latency, acks, errors and sessions per second of the run, and
// latency histograms, in bounded memory (each second keeps a reservoir, not every sample).
import { RunRecorder } from './recorder.js';
import { nearestRank } from './stats.js';

/** One second of the run. Latencies in milliseconds; undefined when nothing arrived in that second. */
export interface TimelinePoint {
  /** Seconds since the run started. */
  s: number;
  acks: number;
  ackP50?: number;
  ackP95?: number;
  ackP99?: number;
  ackMax?: number;
  results: number;
  resultP50?: number;
  resultMax?: number;
  sessionsConnected: number;
  sessionsFinished: number;
  errors: Record<string, number>;
}

export interface LatencyHistogram {
  /** Upper bounds in milliseconds; the last bucket is everything above the one before it. */
  boundsMs: number[];
  counts: number[];
}

export interface Timeline {
  points: TimelinePoint[];
  ackHistogram: LatencyHistogram;
  resultHistogram: LatencyHistogram;
}

/** 0.1 ms to 100 s in 1-2-5 steps (round labels), then everything above. */
const BOUNDS_MS = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000, Infinity];

/** Samples kept per second and per kind: plenty for P99 of one second. */
const PER_SECOND = 2000;

class SecondBin {
  readonly ack: number[] = [];
  acks = 0;
  readonly result: number[] = [];
  results = 0;
  readonly errors: Record<string, number> = {};
}

function keep(values: number[], seen: number, value: number): void {
  if (values.length < PER_SECOND) values.push(value);
  else {
    const slot = Math.floor(Math.random() * seen);
    if (slot < PER_SECOND) values[slot] = value;
  }
}

function histogram(): LatencyHistogram {
  return { boundsMs: BOUNDS_MS, counts: BOUNDS_MS.map(() => 0) };
}

function count(h: LatencyHistogram, ms: number): void {
  let i = 0;
  while (ms > h.boundsMs[i]!) i += 1;
  h.counts[i]! += 1;
}

export class TimelineRecorder extends RunRecorder {
  private readonly bins: SecondBin[] = [];
  private readonly sessionsAt: { connected: number; finished: number }[] = [];
  private readonly ackHistogram = histogram();
  private readonly resultHistogram = histogram();
  private readonly sampler: NodeJS.Timeout;

  constructor(sessionsPlanned: number, warmUpMs = 0) {
    super(sessionsPlanned, warmUpMs);
    // Sessions are counted by the session runners directly: read them once a second.
    this.sampleSessions();
    this.sampler = setInterval(() => this.sampleSessions(), 1000);
    this.sampler.unref();
  }

  private second(at: number): number {
    return Math.max(0, Math.floor((at - this.startedAt) / 1000));
  }

  private bin(at: number): SecondBin {
    const s = this.second(at);
    while (this.bins.length <= s) this.bins.push(new SecondBin());
    return this.bins[s]!;
  }

  private sampleSessions(): void {
    const s = this.second(performance.now());
    while (this.sessionsAt.length <= s) this.sessionsAt.push({ connected: this.sessionsConnected, finished: this.sessionsFinished });
    this.sessionsAt[s] = { connected: this.sessionsConnected, finished: this.sessionsFinished };
  }

  override ack(latencyMs: number, at: number): void {
    super.ack(latencyMs, at);
    const bin = this.bin(at);
    bin.acks += 1;
    keep(bin.ack, bin.acks, latencyMs);
    if (at >= this.measureFrom) count(this.ackHistogram, latencyMs);
  }

  override result(latencyMs: number | undefined, serverLatencyMs: number, at: number): void {
    super.result(latencyMs, serverLatencyMs, at);
    const bin = this.bin(at);
    bin.results += 1;
    if (latencyMs === undefined) return;
    keep(bin.result, bin.results, latencyMs);
    if (at >= this.measureFrom) count(this.resultHistogram, latencyMs);
  }

  override error(code: string, source?: object): void {
    const before = this.errors;
    super.error(code, source);
    // Counted once per source, like the summary.
    if (this.errors === before) return;
    const bin = this.bin(performance.now());
    bin.errors[code] = (bin.errors[code] ?? 0) + 1;
  }

  /** Stops the once-a-second sampling and returns the timeline (call once, at the end of the run). */
  finish(): Timeline {
    clearInterval(this.sampler);
    this.sampleSessions();
    const seconds = Math.max(this.bins.length, this.sessionsAt.length);
    const points: TimelinePoint[] = [];
    let sessions = { connected: 0, finished: 0 };
    for (let s = 0; s < seconds; s++) {
      const bin = this.bins[s] ?? new SecondBin();
      sessions = this.sessionsAt[s] ?? sessions;
      const ack = Float64Array.from(bin.ack).sort();
      const result = Float64Array.from(bin.result).sort();
      points.push({
        s,
        acks: bin.acks,
        ackP50: nearestRank(ack, 50),
        ackP95: nearestRank(ack, 95),
        ackP99: nearestRank(ack, 99),
        ackMax: ack.length ? ack[ack.length - 1] : undefined,
        results: bin.results,
        resultP50: nearestRank(result, 50),
        resultMax: result.length ? result[result.length - 1] : undefined,
        sessionsConnected: sessions.connected,
        sessionsFinished: sessions.finished,
        errors: bin.errors,
      });
    }
    return { points, ackHistogram: this.ackHistogram, resultHistogram: this.resultHistogram };
  }
}
