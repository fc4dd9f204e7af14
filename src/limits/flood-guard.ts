// Decides, per connection, when a client that keeps sending past refusals (RATE_LIMITED, SEQ_GAP, TOO_MANY_SESSIONS,
// any refused event) is stopped at the transport
// (its socket is not read for a while: TCP backpressure) and when it is closed. Refusing each packet of a flood still
// costs a read, a parse and an ack per packet; a paused socket costs nothing until it is read again.
//
// A refusal tells the client to wait retry_after_ms. After it, a well-behaved client sends nothing more to that session
// until then: the only chunks still arriving are those it had already sent, its window (the client library's is 32).
// A flooder's keep coming, more than the server reads per turn (a backlog, ReadBudget). So a connection is paused once
// more than `firstPauseAfter` (32) refusals came while it was backlogged (a drained turn starts the count again); after
// a first pause, at its next backlogged refusal. (Measured: forgiving 128 left the neighbour's P99 at 19-24 ms, 32 at
// 15-20 ms; BENCHMARKS.md, noisy neighbour.) One that needs `maxPauses` pauses without a calm spell between is closed.
// Neither time nor accepted chunks reset the count: on a busy server a flooder's refusals are spread out and its
// bucket refills between them.
//
// API: guard.answered({ retryAfterMs, backlogged }) after every ack (retryAfterMs: a refusal's hint, 0 without one;
// undefined when accepted); guard.close() when the connection goes.

export interface FloodGuardSettings {
  /** Chunks a connection may have awaiting their ack (MAX_CHUNKS_IN_FLIGHT): a pause lasts until they drain to half. */
  maxInFlight: number;
  /**
   * Backlogged refusals forgiven before a first pause. A client that waits for acks never has more unanswered than
   * its window, and a burst past a per-turn read budget is already more than any window the server reads in one turn.
   */
  firstPauseAfter: number;
  /** Shortest pause, ms (longer when the refusal's retry_after_ms is). */
  pauseMs: number;
  /** Pauses in a row after which the next overrun closes the connection; 0 = never close. */
  maxPauses: number;
  /** A connection refused nothing for this long starts again with a clean record. */
  calmMs: number;
}

export interface FloodGuardHooks {
  /** Stop reading the connection's socket. */
  pause(): void;
  resume(): void;
  /** Close the connection, saying why. */
  disconnect(pauses: number): void;
  /** Its chunks awaiting their ack now. */
  inFlight(): number;
}

export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(timer: unknown): void;
}

export const realClock: Clock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout),
};

export class FloodGuard {
  /** When the latest refusal's retry_after_ms ends. */
  private waitUntil = -Infinity;
  private lastRefusalAt = -Infinity;
  /** Refusals while backlogged, since it last drained. */
  private refusedInRow = 0;
  private pauses = 0;
  private pausedNow = false;
  private timer: unknown;
  private closed = false;

  constructor(
    private readonly settings: FloodGuardSettings,
    private readonly hooks: FloodGuardHooks,
    private readonly clock: Clock = realClock,
  ) {}

  get paused(): boolean {
    return this.pausedNow;
  }

  /** How many times it was paused since its last calm spell. */
  get pauseCount(): number {
    return this.pauses;
  }

  /**
   * An event was answered: refused (retryAfterMs, 0 without a hint) or not; `backlogged` when the connection had
   * more packets waiting than the server reads per turn.
   */
  answered(ack: { retryAfterMs?: number; backlogged: boolean }): void {
    if (this.closed) return;
    if (ack.retryAfterMs === undefined) {
      // An ack lowered the chunks in flight: a pause whose time is up may end now.
      if (this.pausedNow && this.timer === undefined) this.maybeResume();
      return;
    }
    const now = this.clock.now();
    if (!this.pausedNow && now - this.lastRefusalAt >= this.settings.calmMs) this.pauses = 0;
    this.lastRefusalAt = now;
    this.refusedInRow = ack.backlogged ? this.refusedInRow + 1 : 0;
    this.waitUntil = Math.max(this.waitUntil, now + ack.retryAfterMs);
    // Packets already read when the pause began are still answered; they do not count twice.
    if (this.pausedNow) return;
    const tolerance = this.pauses > 0 ? 0 : this.settings.firstPauseAfter;
    if (this.refusedInRow > tolerance) this.pause(now);
  }

  /** The connection is gone: no timer outlives it. */
  close(): void {
    this.closed = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private pause(now: number): void {
    if (this.settings.maxPauses > 0 && this.pauses >= this.settings.maxPauses) {
      this.close();
      this.hooks.disconnect(this.pauses);
      return;
    }
    this.pauses += 1;
    this.refusedInRow = 0;
    this.pausedNow = true;
    this.hooks.pause();
    this.timer = this.clock.setTimeout(
      () => {
        this.timer = undefined;
        this.maybeResume();
      },
      Math.max(this.settings.pauseMs, this.waitUntil - now),
    );
  }

  /** Reads again once the pause is over and the connection's window has drained to half. */
  private maybeResume(): void {
    if (this.closed || !this.pausedNow) return;
    if (this.hooks.inFlight() > Math.floor(this.settings.maxInFlight / 2)) return;
    this.pausedNow = false;
    this.hooks.resume();
  }
}
