// Retry delays for refused new sessions that do not come back as the next surge: each is the delay asked for plus a
// random share of a window that widens with the refusals handed out lately, so however many were refused at once,
// they return at about RETURNS_PER_SECOND a second (full jitter over the window, as AWS's backoff advice has it).

/** Refused sessions coming back per second that the spread aims at: a rate a node admits comfortably while it learns. */
const RETURNS_PER_SECOND = 20;
/** Refusals older than this no longer widen the window. */
const MEMORY_MS = 10_000;
const MIN_DELAY_MS = 1000;
const MAX_DELAY_MS = 60_000;

export interface RetrySpreaderOptions {
  now: () => number;
  random?: () => number;
}

export class RetrySpreader {
  private readonly handedOut: number[] = [];
  private readonly random: () => number;

  constructor(private readonly options: RetrySpreaderOptions) {
    this.random = options.random ?? Math.random;
  }

  /** A delay (ms) of at least `baseMs` (and 1 s), spread over the window the recent refusals need. */
  next(baseMs: number): number {
    const now = this.options.now();
    while (this.handedOut.length > 0 && this.handedOut[0]! < now - MEMORY_MS) this.handedOut.shift();
    this.handedOut.push(now);
    const base = Math.max(MIN_DELAY_MS, baseMs);
    const windowMs = Math.max(base, (this.handedOut.length / RETURNS_PER_SECOND) * 1000);
    return Math.round(Math.min(MAX_DELAY_MS, base + this.random() * windowMs));
  }
}
