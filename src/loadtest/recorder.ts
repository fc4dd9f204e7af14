// Everything a load-test run measures, written to by every simulated session and read by the progress line
// and the final summary.
import { Samples } from './stats.js';

/** A moment of the run for the progress line. */
export interface ProgressSnapshot {
  elapsedMs: number;
  sessionsPlanned: number;
  sessionsConnected: number;
  sessionsFinished: number;
  chunksAcked: number;
  results: number;
  errors: number;
}

export class RunRecorder {
  readonly startedAt = performance.now();
  /** Acks and results arriving before this moment (performance.now()) stay out of the percentiles. */
  readonly measureFrom: number;

  /** Round trip of each acknowledged chunk, as the client timed it. */
  readonly ackLatency = new Samples();
  /** From the ack of a segment's last chunk (or end_session, for the segments it cut) to the result's arrival. */
  readonly resultLatency = new Samples();
  /** The server's own latency_ms of each result: from the segment's cut to its emit. */
  readonly serverResultLatency = new Samples();
  /** Per segment: from sending the segment's first chunk to the first result (interim or final) with its number. */
  readonly firstTextLatency = new Samples();

  sessionsStarted = 0;
  sessionsCompleted = 0;
  sessionsFailed = 0;
  sessionsConnected = 0;
  sessionsFinished = 0;
  chunksSent = 0;
  chunksAcked = 0;
  chunksFailed = 0;
  chunksResent = 0;
  chunksDuplicate = 0;
  audioBytesSent = 0;
  audioBytesAcked = 0;
  results = 0;
  /** Interim results received (is_final: false). */
  interims = 0;
  /** Results whose last chunk's ack time was unknown (e.g. acknowledged only implicitly after a resend). */
  resultsUntimed = 0;
  disconnects = 0;
  reconnects = 0;
  /** How late the realtime pacer sent chunks: a busy load generator shows here before it shows as latency. */
  readonly sendLag = new Samples(200_000);
  /** First chunk sent and last chunk acknowledged, for ingest per wall second. */
  firstSendAt: number | undefined;
  lastAckAt: number | undefined;

  private readonly errorCounts = new Map<string, number>();
  private readonly counted = new WeakSet<object>();
  private errorTotal = 0;

  constructor(
    readonly sessionsPlanned: number,
    warmUpMs = 0,
  ) {
    this.measureFrom = this.startedAt + warmUpMs;
  }

  /** Counts an error once, however many promises it rejected and events carried it. */
  error(code: string, source?: object): void {
    if (source) {
      if (this.counted.has(source)) return;
      this.counted.add(source);
    }
    this.errorTotal += 1;
    this.errorCounts.set(code, (this.errorCounts.get(code) ?? 0) + 1);
  }

  get errors(): number {
    return this.errorTotal;
  }

  errorsByCode(): Record<string, number> {
    return Object.fromEntries([...this.errorCounts.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }

  ack(latencyMs: number, at: number): void {
    this.lastAckAt = at;
    if (at >= this.measureFrom) this.ackLatency.add(latencyMs);
  }

  result(latencyMs: number | undefined, serverLatencyMs: number, at: number): void {
    this.results += 1;
    if (at < this.measureFrom) return;
    this.serverResultLatency.add(serverLatencyMs);
    if (latencyMs === undefined) this.resultsUntimed += 1;
    else this.resultLatency.add(latencyMs);
  }

  /** The first text of a segment arrived `latencyMs` after its first chunk was sent. */
  firstText(latencyMs: number, at: number): void {
    if (at >= this.measureFrom) this.firstTextLatency.add(latencyMs);
  }

  snapshot(): ProgressSnapshot {
    return {
      elapsedMs: performance.now() - this.startedAt,
      sessionsPlanned: this.sessionsPlanned,
      sessionsConnected: this.sessionsConnected,
      sessionsFinished: this.sessionsFinished,
      chunksAcked: this.chunksAcked,
      results: this.results,
      errors: this.errorTotal,
    };
  }
}
