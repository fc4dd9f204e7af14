// Decides whether a new session may start: refused with OVERLOADED (and a retry delay) when its results could not
// arrive within MAX_RESULT_DELAY_MS — because the engine queue is already that long, or because the sessions running,
// with this one, would cut segments faster than the engine has shown it can take them.
//
// Before anything is measured, a session counts at a prior cost (one segment per half a length cap of speech) against
// the capacity the engine has proven so far (the limit it has reached, with room to double as slow start would), so a
// surge of new sessions on a cold node is admitted as fast as capacity is confirmed and the rest are told when to come
// back, spread out, instead of being queued behind a limit that has not yet found the provider's quota.
import { OverloadedError } from '../errors/server-errors.js';
import type { EngineScheduler } from './engine-scheduler.js';
import { RetrySpreader } from './retry-spreader.js';

export interface AdmissionOptions {
  maxResultDelayMs: number;
  /** Segments per second a new session is counted at until the running sessions' rate is measured. */
  priorSessionRate: number;
  /** Share of the engine's capacity that running sessions may fill before new ones are turned away. */
  targetUtilisation?: number;
  now?: () => number;
  /** For the retry delays' spread: Math.random unless a test fixes it. */
  random?: () => number;
}

/** Segment rate is averaged over this window. */
const RATE_WINDOW_MS = 30_000;

/** The prior of `AdmissionOptions.priorSessionRate`: a segment per half the length cap (the segmenter cuts at a pause or at the cap). */
export function priorSessionRate(segmentMaxMs: number): number {
  return 2000 / segmentMaxMs;
}

export class AdmissionControl {
  private readonly cutTimes: number[] = [];
  private readonly lastCut = new Map<string, number>();
  private readonly intervals: { at: number; ms: number }[] = [];
  private readonly now: () => number;
  private readonly targetUtilisation: number;
  private readonly retries: RetrySpreader;

  constructor(
    private readonly scheduler: Pick<EngineScheduler, 'expectedResultDelayMs' | 'provenCapacityPerSecond'>,
    private readonly options: AdmissionOptions,
  ) {
    this.now = options.now ?? (() => performance.now());
    this.targetUtilisation = options.targetUtilisation ?? 0.85;
    this.retries = new RetrySpreader({ now: this.now, random: options.random });
  }

  /** A final segment with speech was cut (it will go to the engine). */
  segmentCut(sessionId: string): void {
    const now = this.now();
    this.cutTimes.push(now);
    if (this.cutTimes.length > 100_000) this.cutTimes.splice(0, 50_000);
    const previous = this.lastCut.get(sessionId);
    if (previous !== undefined) this.intervals.push({ at: now, ms: now - previous });
    this.lastCut.set(sessionId, now);
    if (this.lastCut.size > 10_000) for (const [id, at] of this.lastCut) if (at < now - RATE_WINDOW_MS) this.lastCut.delete(id);
  }

  /**
   * Segments per second one running session brings: 1 / the mean time between two cuts of a session lately. The
   * time each session has talked since its last cut is an interval still running (a censored one, in the
   * Kaplan–Meier estimate of the mean): counting only the intervals that have ended would overstate the rate while
   * sessions are young (their short intervals have ended, their long ones not yet). A session silent for twice the
   * longest interval seen counts as gone. Undefined until enough intervals have ended.
   */
  private measuredSessionRate(): number | undefined {
    const now = this.now();
    const since = now - RATE_WINDOW_MS;
    while (this.intervals.length > 0 && this.intervals[0]!.at < since) this.intervals.shift();
    if (this.intervals.length < 10) return undefined;
    const observed: { ms: number; ended: boolean }[] = [];
    let longest = 0;
    for (const interval of this.intervals) {
      observed.push({ ms: interval.ms, ended: true });
      longest = Math.max(longest, interval.ms);
    }
    for (const at of this.lastCut.values()) if (now - at < 2 * longest) observed.push({ ms: now - at, ended: false });
    return 1000 / meanInterval(observed);
  }

  /** Segments per second cut lately across all sessions. */
  segmentRate(): number {
    const since = this.now() - RATE_WINDOW_MS;
    while (this.cutTimes.length > 0 && this.cutTimes[0]! < since) this.cutTimes.shift();
    return this.cutTimes.length / (RATE_WINDOW_MS / 1000);
  }

  /** Why a new session must wait, or undefined when it may start. `activeSessions` excludes the new one. */
  refusal(activeSessions: number): OverloadedError | undefined {
    const { maxResultDelayMs } = this.options;
    const delay = this.scheduler.expectedResultDelayMs();
    if (delay > maxResultDelayMs) {
      return new OverloadedError(
        `the engine is ${Math.round(delay)} ms behind (MAX_RESULT_DELAY_MS=${maxResultDelayMs}); retry later or on another node`,
        { retryAfterMs: this.retries.next(delay - maxResultDelayMs) },
      );
    }
    // The first session always starts: there is nothing to measure an engine with until one does.
    if (activeSessions === 0) return undefined;
    const perSession = this.measuredSessionRate() ?? this.options.priorSessionRate;
    const capacity = this.scheduler.provenCapacityPerSecond;
    const projected = perSession * (activeSessions + 1);
    if (projected > capacity * this.targetUtilisation) {
      return new OverloadedError(
        `the engine is near the capacity it has shown (${activeSessions} sessions bring about ${(perSession * activeSessions).toFixed(1)} of ${capacity.toFixed(1)} segments/s); retry later or on another node`,
        // Capacity can be shown to be larger within a segment's interval (the engine's limit grows as it is used).
        { retryAfterMs: this.retries.next(Math.max(delay, 1000 / perSession)) },
      );
    }
    return undefined;
  }
}

/** Kaplan–Meier mean of intervals some of which are still running (restricted to the longest observed). */
function meanInterval(observed: { ms: number; ended: boolean }[]): number {
  // Shortest first; at equal lengths the ended ones first, as the estimate requires.
  observed.sort((a, b) => a.ms - b.ms || Number(b.ended) - Number(a.ended));
  let atRisk = observed.length;
  let surviving = 1;
  let mean = 0;
  let previous = 0;
  for (const { ms, ended } of observed) {
    mean += surviving * (ms - previous);
    previous = ms;
    if (ended) surviving *= 1 - 1 / atRisk;
    atRisk--;
  }
  return mean;
}
