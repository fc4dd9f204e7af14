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
  /**
   * A request finished in `latencyMs`; `inFlight` others still run and `queued` requests wait for a slot (the
   * demand the limit does not yet meet).
   */
  onSuccess(latencyMs: number, inFlight: number, queued?: number): void;
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
  /** Where it starts when nothing is known about the provider (the initial window). */
  initial: number;
  min: number;
  max: number;
  /** What an earlier process (or another node) learnt about this provider: it starts from there instead. */
  learnt?: LearntLimit;
  /** A latency above `tolerance` × the best recent latency counts as the provider queueing: no growth. */
  tolerance?: number;
  /** Multiplier applied on overload (0.9 by default, as Netflix's AIMDLimit). */
  backoff?: number;
  now?: () => number;
}

/**
 * Per success while nothing has pushed back and requests wait for a slot: the limit may grow by this much (slow
 * start's one, plus the rest toward the demand), so it climbs up to 4× per round trip instead of 2× while a surge
 * queues. Bounded by the demand (in flight + queued): it never opens slots nobody waits for, so the overshoot past a
 * quota is at most the segments that were waiting anyway.
 */
const QUEUED_GROWTH_PER_SUCCESS = 3;

/**
 * AIMD with slow start: until the first overload the limit grows by one per success (doubling per round trip), and
 * up to three while requests queue (toward the demand, at most 4× per round trip); after it, by one per limit's worth
 * of successes. It grows only while it is the bottleneck (the requests in flight fill it) and the latency is flat. An
 * overload multiplies it by `backoff`, at most once per round of requests: refusals of requests started before the
 * last decrease say nothing new. The level of the last overload is kept: after a decrease the limit climbs back to
 * just below it at slow start's pace, so against a concurrency quota it hovers at the quota instead of sawing between
 * 3/4 of it and the quota (a quarter of the provider's capacity lost on every round, and queues that admission,
 * judging the capacity by the quota, did not expect).
 */
export class AdaptiveLimit implements ConcurrencyLimit {
  readonly adaptive = true;
  private value: number;
  private slowStart: boolean;
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
  /** Push-backs (decreases) seen by this process: a memory shares each new one with other nodes. */
  private pushBackCount = 0;
  /** The most requests seen in flight since the last `takeUsage()`: this process's use of the provider's quota. */
  private peakInFlight = 0;
  private readonly tolerance: number;
  private readonly backoff: number;
  private readonly now: () => number;

  constructor(private readonly options: AdaptiveLimitOptions) {
    const { learnt } = options;
    this.value = clamp(learnt?.limit ?? options.initial, options.min, options.max);
    this.pushedBackAt = learnt?.pushedBackAt === undefined ? undefined : clamp(learnt.pushedBackAt, options.min, options.max);
    this.slowStart = this.pushedBackAt === undefined;
    this.baselineMs = learnt?.baselineMs;
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

  onSuccess(latencyMs: number, inFlight: number, queued = 0): void {
    this.peakInFlight = Math.max(this.peakInFlight, inFlight + 1);
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
    this.value = Math.min(this.options.max, this.value + this.growth(inFlight + queued));
  }

  /** How much one success grows the limit, given the requests that want a slot now (`demand`). */
  private growth(demand: number): number {
    if (this.slowStart) return Math.max(1, Math.min(QUEUED_GROWTH_PER_SUCCESS, demand - this.value));
    return this.value < this.regrowTarget() ? 1 : 1 / this.value;
  }

  onOverload(startedAt: number, overload: Overload = {}): void {
    this.slowStart = false;
    if (overload.inFlight !== undefined) this.peakInFlight = Math.max(this.peakInFlight, overload.inFlight);
    const level = Math.min(this.value, overload.inFlight ?? Number.POSITIVE_INFINITY);
    if (overload.optional) {
      // Finals did not cross the quota: they keep everything up to just below it.
      this.pushedBackAt = level;
      this.value = Math.min(this.value, Math.max(this.options.min, Math.floor(level) - 1));
      this.pushBackCount++;
      return;
    }
    if (startedAt < this.lastDecreaseAt) return;
    this.lastDecreaseAt = this.now();
    this.pushBackCount++;
    // Pushed back before even regaining the previous level: the quota fell (or others now share it). Lower the
    // estimate further, as CUBIC's fast convergence does, so it is found in a few rounds rather than one per round.
    const fell = this.pushedBackAt !== undefined && level < this.regrowTarget();
    this.pushedBackAt = fell ? (level * (1 + this.backoff)) / 2 : level;
    this.value = Math.max(this.options.min, level * this.backoff);
  }

  /** What it has learnt, for a memory to keep and share. */
  learnt(): LearntLimit & { pushBacks: number } {
    return {
      limit: this.current,
      ...(this.pushedBackAt === undefined ? {} : { pushedBackAt: this.pushedBackAt }),
      ...(this.baselineMs === undefined ? {} : { baselineMs: this.baselineMs }),
      pushBacks: this.pushBackCount,
    };
  }

  /** The most requests in flight since the last call: this process's use of the quota, for its peers. */
  takeUsage(): number {
    const peak = this.peakInFlight;
    this.peakInFlight = 0;
    return peak;
  }

  /**
   * Another node saw the provider push back (or left): this process's share of the provider's quota is `share`. It
   * becomes the level to regrow to, as if this process had been pushed back there: above it the limit drops to it at
   * once (its peers are using the rest), below it the limit climbs back at slow start's pace.
   */
  shareQuota(share: number): void {
    const level = clamp(share, this.options.min, this.options.max);
    this.slowStart = false;
    this.pushedBackAt = level;
    this.value = Math.min(this.value, level);
  }
}

/** What a limit has learnt about its provider: enough for another process to start where this one is. */
export interface LearntLimit {
  /** The limit to start at. */
  limit: number;
  /** Where the provider pushed back (this process's share of its quota); absent = it never did. */
  pushedBackAt?: number;
  /** The provider's no-load latency. */
  baselineMs?: number;
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
