// A token bucket in plain arithmetic: `rate` tokens per ms up to `capacity`, checked on every audio chunk.
//
// Why not rate-limiter-flexible here: its RateLimiterMemory.consume() per chunk measured about 30× the cost of this
// class (bench/ack-path/limiter-cost.ts: a promise, a result object and a key string per call, and a fixed window that
// cannot express "10× real time with a 30 s burst"); it is used where calls are rare (the ops performance test).

export class TokenBucket {
  private tokens: number;
  private last: number;

  /** Starts full: a new session (or one resumed here after a reconnect) may send its backlog at once. */
  constructor(
    private readonly ratePerMs: number,
    private readonly capacity: number,
    now: number,
  ) {
    this.tokens = capacity;
    this.last = now;
  }

  /**
   * Takes `amount` tokens: 0 when taken, else the ms until they would be (nothing taken). An amount above the
   * capacity is taken from a full bucket (the balance goes negative), so no single chunk is refused forever.
   */
  take(amount: number, now: number): number {
    this.refill(now);
    if (this.tokens >= Math.min(amount, this.capacity)) {
      this.tokens -= amount;
      return 0;
    }
    return Math.ceil((Math.min(amount, this.capacity) - this.tokens) / this.ratePerMs);
  }

  /** Gives back tokens taken for work that was then not done (a chunk refused later, a duplicate). */
  refund(amount: number): void {
    this.tokens = Math.min(this.capacity, this.tokens + amount);
  }

  /** A full bucket behaves exactly like a new one, so its owner may drop it. */
  isFull(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.capacity;
  }

  private refill(now: number): void {
    const elapsed = now - this.last;
    if (elapsed <= 0) return;
    this.last = now;
    this.tokens = Math.min(this.capacity, this.tokens + elapsed * this.ratePerMs);
  }
}
