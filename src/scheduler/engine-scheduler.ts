// Between the sessions and the engine: runs engine requests under a concurrency limit, fairly across sessions
// (the segment that has waited longest goes next), retries what the provider refused for load after its
// Retry-After, and runs interim requests only in slots nobody waits for.
import type { Logger } from 'pino';
import { EngineError } from '../errors/server-errors.js';
import type { EngineOutcome, ResultKind, ServerMetrics } from '../metrics/metrics.js';
import type { ConcurrencyLimit } from './concurrency-limit.js';

/** What a request learns when it starts: for spans and logs. */
export interface EngineAttempt {
  /** Milliseconds from the segment's cut (or the interim's ask) to this attempt's start. */
  queueMs: number;
  /** 0 for the first attempt. */
  retry: number;
}

export interface SchedulerOptions {
  limit: ConcurrencyLimit;
  /** Retries of a retryable engine failure before the segment fails. */
  maxRetries: number;
  metrics: ServerMetrics;
  logger: Logger;
  now?: () => number;
}

interface Job {
  sessionId: string;
  kind: ResultKind;
  /** performance.now() when the segment was cut: the fairness key. */
  waitingSince: number;
  /** Not before this time (a Retry-After). */
  notBefore: number;
  retry: number;
  request: (attempt: EngineAttempt) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** Backoff when the provider gave no Retry-After: 0.5 s, 1 s, 2 s, … up to 8 s. */
const retryDelayMs = (retry: number) => Math.min(8000, 500 * 2 ** retry);
/** Weight of a new latency sample in the running average. */
const LATENCY_WEIGHT = 0.1;

export class EngineScheduler {
  private readonly waiting: Job[] = [];
  private inFlight = 0;
  private wakeTimer: NodeJS.Timeout | undefined;
  private averageLatencyMs: number | undefined;
  private readonly now: () => number;

  constructor(private readonly options: SchedulerOptions) {
    this.now = options.now ?? (() => performance.now());
    // The limit is known before the first request: metrics show it from the start.
    this.report();
  }

  /** Requests allowed at once, in flight now, and segments waiting. */
  get state(): { limit: number; inFlight: number; queued: number } {
    return { limit: this.options.limit.current, inFlight: this.inFlight, queued: this.waiting.length };
  }

  /** The engine's usual time per request (successes), once known. */
  get latencyMs(): number | undefined {
    return this.averageLatencyMs;
  }

  /** Segments the engine can finish per second at the most it expects to be allowed. */
  get capacityPerSecond(): number | undefined {
    return this.averageLatencyMs === undefined ? undefined : (this.options.limit.ceiling * 1000) / this.averageLatencyMs;
  }

  /** A request could start right now and no segment waits, not even for a Retry-After: the engine is not busy. */
  hasFreeSlot(): boolean {
    return this.inFlight < this.options.limit.current && this.waiting.length === 0;
  }

  /** How long a segment cut now would wait for its result: the queue ahead of it, then the request itself. */
  expectedResultDelayMs(): number {
    const latency = this.averageLatencyMs ?? 0;
    const limit = Math.max(1, this.options.limit.current);
    const ahead = Math.max(0, this.waiting.length + this.inFlight + 1 - limit);
    const oldest = this.waiting[0] ? this.now() - this.waiting[0].waitingSince : 0;
    return Math.max(oldest, Math.ceil(ahead / limit) * latency) + latency;
  }

  /**
   * Runs a final segment's request when its turn comes; retries retryable failures. A session submits its next
   * segment only after the previous one settled, so it never has two at the engine.
   */
  runFinal<T>(sessionId: string, waitingSince: number, request: (attempt: EngineAttempt) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.insert({ sessionId, kind: 'final', waitingSince, notBefore: 0, retry: 0, request, resolve: resolve as (v: unknown) => void, reject });
      this.dispatch();
    });
  }

  /**
   * Runs an interim request now if a slot is free and no segment waits for one; otherwise undefined (skipped, not
   * queued: an interim must never delay a final). No retries.
   */
  tryInterim<T>(sessionId: string, request: (attempt: EngineAttempt) => Promise<T>): Promise<T> | undefined {
    if (!this.hasFreeSlot()) return undefined;
    return new Promise<T>((resolve, reject) => {
      const now = this.now();
      this.start({ sessionId, kind: 'interim', waitingSince: now, notBefore: 0, retry: this.options.maxRetries, request, resolve: resolve as (v: unknown) => void, reject });
    });
  }

  /** Stops the retry timer (shutdown); waiting requests stay as they are. */
  close(): void {
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
  }

  private insert(job: Job): void {
    // Sorted by waitingSince: the oldest cut first, whichever session it belongs to.
    let index = this.waiting.length;
    while (index > 0 && this.waiting[index - 1]!.waitingSince > job.waitingSince) index--;
    this.waiting.splice(index, 0, job);
  }

  private dispatch(): void {
    const now = this.now();
    for (let index = 0; index < this.waiting.length && this.inFlight < this.options.limit.current; ) {
      const job = this.waiting[index]!;
      if (job.notBefore > now) {
        index++;
        continue;
      }
      this.waiting.splice(index, 1);
      this.start(job);
    }
    // Jobs still waiting out a Retry-After wake the queue when the first of them is due.
    let nextWake = Number.POSITIVE_INFINITY;
    for (const job of this.waiting) if (job.notBefore > now) nextWake = Math.min(nextWake, job.notBefore);
    if (nextWake !== Number.POSITIVE_INFINITY && !this.wakeTimer) {
      this.wakeTimer = setTimeout(() => {
        this.wakeTimer = undefined;
        this.dispatch();
      }, Math.max(1, nextWake - now));
      this.wakeTimer.unref();
    }
    this.report();
  }

  private start(job: Job): void {
    const startedAt = this.now();
    const queueMs = startedAt - job.waitingSince;
    const { metrics, limit, logger } = this.options;
    metrics.queueWait(job.kind, queueMs / 1000);
    if (queueMs > 1000) logger.debug({ session_id: job.sessionId, kind: job.kind, queue_ms: Math.round(queueMs), retry: job.retry }, 'engine request waited in the queue');
    this.inFlight++;
    this.report();
    job.request({ queueMs, retry: job.retry }).then(
      (value) => {
        const latency = this.now() - startedAt;
        this.inFlight--;
        limit.onSuccess(latency, this.inFlight);
        this.averageLatencyMs = this.averageLatencyMs === undefined ? latency : this.averageLatencyMs + LATENCY_WEIGHT * (latency - this.averageLatencyMs);
        metrics.engineRequest(job.kind, latency / 1000, 'ok');
        job.resolve(value);
        this.dispatch();
      },
      (error: unknown) => {
        this.inFlight--;
        const engineError = error instanceof EngineError ? error : undefined;
        metrics.engineRequest(job.kind, (this.now() - startedAt) / 1000, outcomeOf(engineError));
        if (engineError?.overload) limit.onOverload(startedAt);
        if (engineError?.retryable && job.retry < this.options.maxRetries) {
          job.retry++;
          job.notBefore = this.now() + (engineError.retryAfterMs ?? retryDelayMs(job.retry - 1));
          logger.debug({ session_id: job.sessionId, retry: job.retry, status: engineError.status, limit: limit.current }, 'engine request refused for load; retrying');
          this.insert(job);
        } else {
          job.reject(error);
        }
        this.dispatch();
      },
    );
  }

  private report(): void {
    this.options.metrics.engineState(this.state);
  }
}

function outcomeOf(error: EngineError | undefined): EngineOutcome {
  const status = error?.status;
  if (status === undefined) return error?.overload ? 'timeout' : 'error';
  if (status === 429) return '429';
  if (status >= 500) return '5xx';
  return '4xx';
}
