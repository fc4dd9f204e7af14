// A circuit breaker for the primary engine: after `failures` outages in a row (5xx, time-outs, no connection) it opens
// and callers go elsewhere; after `coolDownMs` it half-opens and lets one request probe; the probe's success closes
// it, its failure opens it for another cool-down. The clock is injected so tests need not wait.

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface CircuitBreakerOptions {
  /** Consecutive outages that open the breaker. */
  failures: number;
  /** How long it stays open before a probe. */
  coolDownMs: number;
  now?: () => number;
  onChange?: (state: BreakerState) => void;
}

export class CircuitBreaker {
  private current: BreakerState = 'closed';
  private consecutive = 0;
  private openedAt = 0;
  private probing = false;
  private readonly now: () => number;

  constructor(private readonly options: CircuitBreakerOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The state now: an open breaker whose cool-down has passed reads half-open. */
  get state(): BreakerState {
    if (this.current === 'open' && this.now() - this.openedAt >= this.options.coolDownMs) this.set('half_open');
    return this.current;
  }

  /** Whether a request may go to the primary now; in half-open, one probe at a time. */
  allow(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open' || this.probing) return false;
    this.probing = true;
    return true;
  }

  /** The primary answered (any answer that is not an outage). */
  success(): void {
    this.probing = false;
    this.consecutive = 0;
    this.set('closed');
  }

  /** The primary had an outage. */
  failure(): void {
    this.probing = false;
    this.consecutive += 1;
    if (this.current === 'half_open' || (this.current === 'closed' && this.consecutive >= this.options.failures)) {
      this.openedAt = this.now();
      this.set('open');
    }
  }

  private set(state: BreakerState): void {
    if (state === this.current) return;
    this.current = state;
    this.options.onChange?.(state);
  }
}
