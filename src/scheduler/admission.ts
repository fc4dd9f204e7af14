// Decides whether a new session may start: refused with OVERLOADED (and a retry delay) when its results could not
// arrive within MAX_RESULT_DELAY_MS — because the engine queue is already that long, or because the sessions
// already running cut segments faster than the engine can take them.
import { OverloadedError } from '../errors/server-errors.js';
import type { EngineScheduler } from './engine-scheduler.js';

export interface AdmissionOptions {
  maxResultDelayMs: number;
  /** Share of the engine's capacity that running sessions may fill before new ones are turned away. */
  targetUtilisation?: number;
  now?: () => number;
}

/** Segment rate is averaged over this window. */
const RATE_WINDOW_MS = 30_000;

export class AdmissionControl {
  private readonly cutTimes: number[] = [];
  private readonly lastCut = new Map<string, number>();
  private readonly intervals: { at: number; ms: number }[] = [];
  private readonly now: () => number;
  private readonly targetUtilisation: number;

  constructor(
    private readonly scheduler: Pick<EngineScheduler, 'expectedResultDelayMs' | 'capacityPerSecond'>,
    private readonly options: AdmissionOptions,
  ) {
    this.now = options.now ?? (() => performance.now());
    this.targetUtilisation = options.targetUtilisation ?? 0.85;
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
   * longest interval seen counts as gone.
   */
  private sessionRate(): number | undefined {
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
        { retryAfterMs: retryAfter(delay - maxResultDelayMs) },
      );
    }
    const capacity = this.scheduler.capacityPerSecond;
    const rate = this.segmentRate();
    if (capacity === undefined || activeSessions === 0 || rate === 0) return undefined;
    const perSession = this.sessionRate();
    const projected = perSession !== undefined ? perSession * (activeSessions + 1) : (rate * (activeSessions + 1)) / activeSessions;
    if (projected > capacity * this.targetUtilisation) {
      return new OverloadedError(
        `the engine is near its capacity (${rate.toFixed(1)} of about ${capacity.toFixed(1)} segments/s in use by ${activeSessions} sessions); retry later or on another node`,
        { retryAfterMs: retryAfter(Math.max(5000, delay)) },
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

/** A delay to retry after: at least 1 s, at most a minute, with room for the queue to drain. */
function retryAfter(ms: number): number {
  return Math.round(Math.min(60_000, Math.max(1000, ms)));
}
