// How long the client waits before trying again: exponential backoff with jitter, or the server's retry_after_ms.

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

/**
 * The server's `retry_after_ms` plus up to a tenth more (at most 1 s): never sooner than asked, and the clients a
 * busy or draining server turned away do not all come back in the same millisecond.
 */
export function retryAfterDelay(retryAfterMs: number): number {
  const wait = Math.max(0, retryAfterMs);
  return Math.round(wait + Math.random() * Math.min(1000, Math.max(20, wait / 10)));
}

/** How the client retries one request (start_session, a chunk, end_session). */
export interface RetryPolicy {
  /** Counted retries (timeouts, retryable refusals) before the request fails. */
  attempts: number;
  backoff: BackoffOptions;
  /** How long a chunk may keep being refused with BUFFER_FULL (the server's backpressure) before it fails. */
  bufferFullLimitMs: number;
  /** How long a request may keep being refused with OVERLOADED or RATE_LIMITED before it fails. */
  busyLimitMs: number;
}
