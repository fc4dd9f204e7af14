// Exponential backoff with jitter, and a list of promise waiters settled together: timing helpers for the client.

export interface BackoffOptions {
  /** Delay before the first retry, in milliseconds. */
  delayMs: number;
  /** Upper bound of any delay, in milliseconds. */
  maxDelayMs: number;
  /** 0 to 1: how far each delay may be randomly moved, so many clients do not retry in lockstep. */
  randomization: number;
}

/** The delay before retry number `attempt` (1 for the first retry). */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const base = Math.min(options.maxDelayMs, options.delayMs * 2 ** Math.max(0, attempt - 1));
  const jitter = base * options.randomization * (Math.random() * 2 - 1);
  return Math.max(0, Math.min(options.maxDelayMs, Math.round(base + jitter)));
}

/** Callers waiting for the same moment (connected, drained...), resolved or rejected all at once. */
export class Waiters<T> {
  private list: { resolve: (value: T) => void; reject: (error: unknown) => void }[] = [];

  get size(): number {
    return this.list.length;
  }

  wait(): Promise<T> {
    return new Promise<T>((resolve, reject) => this.list.push({ resolve, reject }));
  }

  resolveAll(value: T): void {
    const list = this.list;
    this.list = [];
    for (const waiter of list) waiter.resolve(value);
  }

  rejectAll(error: unknown): void {
    const list = this.list;
    this.list = [];
    for (const waiter of list) waiter.reject(error);
  }
}
