// Between the sessions and the engine: runs engine requests under a concurrency limit, fairly across sessions
// (the segment that has waited longest goes next), retries what the provider refused for load after its
// Retry-After, and runs interim requests only in spare capacity, where they cannot cost a final its slot.
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
/** A transcription request's time assumed until one has finished: a few seconds of audio at a hosted Whisper. */
const PRIOR_LATENCY_MS = 1000;
/** Demand peaks are kept per window of this length. */
const DEMAND_WINDOW_MS = 1000;
/** Finals measured before the average latency alone is trusted for capacity. */
const SETTLED_LATENCY_SAMPLES = 20;
/** Weight of a new latency sample in the running average. */
const LATENCY_WEIGHT = 0.1;
/**
 * Share of the limit's slots, rounded down, that interims leave to finals: the headroom where a final would otherwise
 * wait behind an interim and where a provider's quota bites. A limit of 1–3 (a local engine's decoders) keeps none.
 */
const FINALS_ONLY_SHARE = 0.25;
/** After the provider pushed back, interims wait this many engine round trips (or its Retry-After, if longer). */
const INTERIM_QUIET_ROUNDS = 5;

export class EngineScheduler {
  private readonly waiting: Job[] = [];
  private inFlight = 0;
  private interimsInFlight = 0;
  /** An interim was turned away for want of room since the last request ended: demand the limit should know of. */
  private interimsTurnedAway = false;
  /** No interim starts before this time: the provider pushed back lately. */
  private interimsPausedUntil = Number.NEGATIVE_INFINITY;
  private wakeTimer: NodeJS.Timeout | undefined;
  private averageLatencyMs: number | undefined;
  private finalsMeasured = 0;
  /** Peaks of final demand (in flight + waiting) in the current and previous window, for `provenCapacityPerSecond`. */
  private demandPeaks = { since: Number.NEGATIVE_INFINITY, current: 0, previous: 0 };
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

  /** The engine's usual time per final request (successes), once known. */
  get latencyMs(): number | undefined {
    return this.averageLatencyMs;
  }

  /**
   * Segments a second the engine has shown it can take, for admitting sessions before their load is seen: the limit
   * reached so far with room to double (as it may within a round trip while nothing has pushed back), never above
   * the level where the provider pushed back; at the usual latency, or a prior one until a request has finished.
   */
  get provenCapacityPerSecond(): number {
    const { limit } = this.options;
    // Room to double only as far as demand has filled the limit lately: sessions admitted on slots nobody has used
    // yet would be admitted blind, ahead of finding where the provider pushes back.
    const slots = Math.min(limit.ceiling, limit.current + Math.min(limit.current, this.recentDemand()));
    // The first answers to arrive are the quick ones: until a few rounds have finished, the prior bounds the average.
    const latency = this.finalsMeasured < SETTLED_LATENCY_SAMPLES ? Math.max(PRIOR_LATENCY_MS, this.averageLatencyMs ?? 0) : this.averageLatencyMs!;
    return (slots * 1000) / latency;
  }

  /**
   * An interim could start right now without costing a final anything: no segment waits (not even for a
   * Retry-After), the requests in flight leave the limit's headroom free for finals, and the provider has not
   * pushed back lately. A query: nothing changes.
   */
  hasRoomForInterim(): boolean {
    const limit = this.options.limit.current;
    if (this.waiting.length > 0 || this.now() < this.interimsPausedUntil) return false;
    return this.inFlight < limit - Math.floor(limit * FINALS_ONLY_SHARE);
  }

  /**
   * A session's decision to ask for an interim: whether there is room, and when there is none only for want of
   * headroom, that want is remembered as demand the limit did not meet (it grows the adaptive limit).
   */
  askInterimRoom(): boolean {
    if (this.hasRoomForInterim()) return true;
    if (this.waiting.length === 0 && this.now() >= this.interimsPausedUntil) this.interimsTurnedAway = true;
    return false;
  }

  /**
   * How long a segment cut now would wait for its result: the finals ahead of it, then the request itself. Interims
   * in flight do not count: they stay out of the finals' headroom and none starts while a final waits.
   */
  expectedResultDelayMs(): number {
    const latency = this.averageLatencyMs ?? 0;
    const limit = Math.max(1, this.options.limit.current);
    const ahead = Math.max(0, this.waiting.length + this.finalsInFlight + 1 - limit);
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
   * Runs an interim request now if there is still room (`hasRoomForInterim`); otherwise undefined (skipped, not
   * queued: an interim must never delay a final). No retries. A push-back it meets pauses interims and tells the
   * limit where the quota is without cutting the finals below it.
   */
  tryInterim<T>(sessionId: string, request: (attempt: EngineAttempt) => Promise<T>): Promise<T> | undefined {
    if (!this.hasRoomForInterim()) return undefined;
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

  private get finalsInFlight(): number {
    return this.inFlight - this.interimsInFlight;
  }

  private start(job: Job): void {
    const startedAt = this.now();
    const queueMs = startedAt - job.waitingSince;
    const { metrics, limit, logger } = this.options;
    const final = job.kind === 'final';
    metrics.queueWait(job.kind, queueMs / 1000);
    if (queueMs > 1000) logger.debug({ session_id: job.sessionId, kind: job.kind, queue_ms: Math.round(queueMs), retry: job.retry }, 'engine request waited in the queue');
    this.inFlight++;
    const inFlightAtStart = this.inFlight;
    if (!final) this.interimsInFlight++;
    this.report();
    job.request({ queueMs, retry: job.retry }).then(
      (value) => {
        const latency = this.now() - startedAt;
        this.inFlight--;
        // Interims turned away for room press on the limit like finals that fill it, but only up to where the
        // provider pushed back: beyond that, probing for more is the finals' business.
        const pressed = this.interimsTurnedAway && limit.current < limit.ceiling;
        this.interimsTurnedAway = false;
        limit.onSuccess(latency, pressed ? Math.max(this.inFlight, limit.current - 1) : this.inFlight, this.waiting.length);
        if (final) {
          this.averageLatencyMs = this.averageLatencyMs === undefined ? latency : this.averageLatencyMs + LATENCY_WEIGHT * (latency - this.averageLatencyMs);
          this.finalsMeasured++;
        } else {
          this.interimsInFlight--;
        }
        metrics.engineRequest(job.kind, latency / 1000, 'ok');
        job.resolve(value);
        this.dispatch();
      },
      (error: unknown) => {
        this.inFlight--;
        if (!final) this.interimsInFlight--;
        const engineError = error instanceof EngineError ? error : undefined;
        metrics.engineRequest(job.kind, (this.now() - startedAt) / 1000, outcomeOf(engineError));
        if (engineError?.overload) {
          limit.onOverload(startedAt, { inFlight: inFlightAtStart, optional: !final });
          const quietMs = Math.max(engineError.retryAfterMs ?? 0, INTERIM_QUIET_ROUNDS * (this.averageLatencyMs ?? 1000));
          this.interimsPausedUntil = Math.max(this.interimsPausedUntil, this.now() + quietMs);
        }
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

  /** The most final requests in flight or waiting at once over the last two seconds or so. */
  private recentDemand(): number {
    this.noteDemand();
    return Math.max(this.demandPeaks.current, this.demandPeaks.previous);
  }

  private noteDemand(): void {
    const now = this.now();
    if (now - this.demandPeaks.since >= DEMAND_WINDOW_MS) {
      const stale = now - this.demandPeaks.since >= 2 * DEMAND_WINDOW_MS;
      this.demandPeaks = { since: now, current: 0, previous: stale ? 0 : this.demandPeaks.current };
    }
    this.demandPeaks.current = Math.max(this.demandPeaks.current, this.finalsInFlight + this.waiting.length);
  }

  private report(): void {
    this.noteDemand();
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
