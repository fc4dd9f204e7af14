// How many engine requests may run at once: fixed (a hard cap, or a local engine's decoders) or adaptive (AIMD),
// which grows while the provider's latency stays flat and shrinks on 429, 5xx and time-outs, as Netflix's
// concurrency-limits and Envoy's adaptive concurrency do.

export interface ConcurrencyLimit {
  /** Requests allowed in flight now (whole number ≥ 1). */
  readonly current: number;
  /**
   * The most it expects to reach: the maximum until the provider pushes back; after that, the level it pushed back
   * at (its quota, as far as one can tell), even while a decrease holds `current` below it for a moment.
   */
  readonly ceiling: number;
  readonly adaptive: boolean;
  /** A request that started when `inFlight` others ran finished in `latencyMs`. */
  onSuccess(latencyMs: number, inFlight: number): void;
  /** A request was refused or timed out for load (429, 503, time-out); `startedAt` orders it against decreases. */
  onOverload(startedAt: number, overload?: Overload): void;
}

export interface Overload {
  /** Requests in flight when the refused one started, itself included: where the provider's quota is. */
  inFlight?: number;
  /** An optional request (an interim): the quota is learnt, but the limit is not cut below it. */
  optional?: boolean;
}

export function fixedLimit(value: number): ConcurrencyLimit {
  return { current: value, ceiling: value, adaptive: false, onSuccess: () => {}, onOverload: () => {} };
}

export interface AdaptiveLimitOptions {
  initial: number;
  min: number;
  max: number;
  /** A latency above `tolerance` × the best recent latency counts as the provider queueing: no growth. */
  tolerance?: number;
  /** Multiplier applied on overload (0.9 by default, as Netflix's AIMDLimit). */
  backoff?: number;
  now?: () => number;
}

/**
 * AIMD with slow start: until the first overload the limit grows by one per success (doubling per round trip);
 * after it, by one per limit's worth of successes. It grows only while it is the bottleneck (the requests in flight
 * fill it) and the latency is flat. An overload multiplies it by `backoff`, at most once per round of requests:
 * refusals of requests started before the last decrease say nothing new. The level of the last overload is kept:
 * after a decrease the limit climbs back to just below it at slow start's pace, so against a concurrency quota it
 * hovers at the quota instead of sawing between 3/4 of it and the quota (a quarter of the provider's capacity lost
 * on every round, and queues that admission, judging the capacity by the quota, did not expect).
 */
export class AdaptiveLimit implements ConcurrencyLimit {
  readonly adaptive = true;
  private value: number;
  private slowStart = true;
  private lastDecreaseAt = Number.NEGATIVE_INFINITY;
  /**
   * Where the provider last pushed back (the requests in flight then, at most the limit): the best estimate of its
   * quota. After a decrease the limit climbs back quickly to just below it (as TCP's slow start does up to
   * ssthresh), and only slowly beyond it.
   */
  private pushedBackAt: number | undefined;
  /** Best latency seen lately: the provider's no-load latency, slowly forgotten so a change of model is learnt. */
  private baselineMs: number | undefined;
  private smoothedMs: number | undefined;
  private readonly tolerance: number;
  private readonly backoff: number;
  private readonly now: () => number;

  constructor(private readonly options: AdaptiveLimitOptions) {
    this.value = clamp(options.initial, options.min, options.max);
    this.tolerance = options.tolerance ?? 2;
    this.backoff = options.backoff ?? 0.9;
    this.now = options.now ?? (() => performance.now());
  }

  get current(): number {
    return Math.floor(this.value);
  }

  get ceiling(): number {
    if (this.slowStart) return this.options.max;
    return Math.max(this.current, this.regrowTarget());
  }

  /** The level a decreased limit returns to at once: one below where the provider pushed back. */
  private regrowTarget(): number {
    return this.pushedBackAt === undefined ? 0 : Math.max(this.options.min, Math.floor(this.pushedBackAt) - 1);
  }

  onSuccess(latencyMs: number, inFlight: number): void {
    this.smoothedMs = this.smoothedMs === undefined ? latencyMs : this.smoothedMs + 0.1 * (latencyMs - this.smoothedMs);
    this.baselineMs = this.baselineMs === undefined ? this.smoothedMs : Math.min(this.smoothedMs, this.baselineMs * 1.01);
    const queueing = this.smoothedMs > this.baselineMs * this.tolerance;
    if (queueing) {
      // The provider is slowing down under our load: ease off a little, as a gradient limit would.
      this.value = Math.max(this.options.min, this.value * 0.98);
      this.slowStart = false;
      return;
    }
    if (inFlight + 1 < this.current) return; // not the bottleneck: growing would only overshoot later
    const regrow = this.slowStart || this.value < this.regrowTarget();
    this.value = Math.min(this.options.max, this.value + (regrow ? 1 : 1 / this.value));
  }

  onOverload(startedAt: number, overload: Overload = {}): void {
    this.slowStart = false;
    const level = Math.min(this.value, overload.inFlight ?? Number.POSITIVE_INFINITY);
    if (overload.optional) {
      // Finals did not cross the quota: they keep everything up to just below it.
      this.pushedBackAt = level;
      this.value = Math.min(this.value, Math.max(this.options.min, Math.floor(level) - 1));
      return;
    }
    if (startedAt < this.lastDecreaseAt) return;
    this.lastDecreaseAt = this.now();
    // Pushed back before even regaining the previous level: the quota fell (or others now share it). Lower the
    // estimate further, as CUBIC's fast convergence does, so it is found in a few rounds rather than one per round.
    const fell = this.pushedBackAt !== undefined && level < this.regrowTarget();
    this.pushedBackAt = fell ? (level * (1 + this.backoff)) / 2 : level;
    this.value = Math.max(this.options.min, level * this.backoff);
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
