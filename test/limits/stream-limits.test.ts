// The per-session and per-connection limits on their own, on a fake clock.
import { describe, expect, it, vi } from 'vitest';
import { allowanceFor } from '../../src/limits/connection-allowance.js';
import { StreamLimits } from '../../src/limits/stream-limits.js';
import { TokenBucket } from '../../src/limits/token-bucket.js';

describe('TokenBucket', () => {
  it('starts full, refills at its rate, and says how long to wait', () => {
    const bucket = new TokenBucket(10, 1000, 0);
    expect(bucket.take(1000, 0)).toBe(0);
    expect(bucket.take(100, 0)).toBe(10);
    expect(bucket.take(100, 10)).toBe(0);
    expect(bucket.isFull(10)).toBe(false);
    expect(bucket.isFull(110)).toBe(true);
  });

  it('an amount above the capacity passes from a full bucket and leaves a debt', () => {
    const bucket = new TokenBucket(1, 100, 0);
    expect(bucket.take(300, 0)).toBe(0);
    expect(bucket.take(10, 0)).toBe(210);
    expect(bucket.take(10, 210)).toBe(0);
  });
});

function limits(overrides: Partial<ConstructorParameters<typeof StreamLimits>[0]> = {}) {
  let clock = 0;
  const l = new StreamLimits({ audioRateLimit: 10, audioBurstMs: 30_000, maxSessionMs: 0, sessionIdleTimeoutMs: 0, ...overrides }, () => clock);
  return { l, tick: (ms: number) => (clock += ms) };
}

describe('StreamLimits', () => {
  it('admits a 30 s backlog at once, then about 10× real time, with retry_after_ms when refused', () => {
    const { l, tick } = limits();
    l.track('s', { receivedMs: 0 });
    for (let i = 0; i < 300; i++) expect(l.admit('s', 100)).toBeUndefined();
    const refusal = l.admit('s', 100);
    expect(refusal).toMatchObject({ name: 'RateLimitedError', retryable: true, retryAfterMs: 10 });
    expect(refusal!.message).toMatch(/AUDIO_RATE_LIMIT/);
    tick(10);
    expect(l.admit('s', 100)).toBeUndefined();
    // Over one wall second, 10 s of audio goes through and not much more.
    let admitted = 0;
    for (let ms = 0; ms < 1000; ms += 5) {
      tick(5);
      while (!l.admit('s', 100)) admitted += 100;
    }
    expect(admitted).toBeGreaterThanOrEqual(9_900);
    expect(admitted).toBeLessThanOrEqual(10_100);
  });

  it('AUDIO_RATE_LIMIT=0 admits anything; untracked sessions are not limited here', () => {
    const { l } = limits({ audioRateLimit: 0 });
    l.track('s', { receivedMs: 0 });
    for (let i = 0; i < 10_000; i++) expect(l.admit('s', 100)).toBeUndefined();
    expect(l.admit('other', 1e9)).toBeUndefined();
  });

  it('refunds audio the store did not take, and counts only stored audio toward MAX_SESSION_MS', () => {
    const { l } = limits({ maxSessionMs: 1000, audioRateLimit: 0 });
    l.track('s', { receivedMs: 700 });
    expect(l.admit('s', 200)).toBeUndefined();
    // In flight: 700 stored + 200 pending; another 200 would pass the limit.
    expect(l.admit('s', 200)).toMatchObject({ name: 'SessionTimeLimitError' });
    l.settle('s', 200, undefined); // a duplicate: nothing stored
    expect(l.admit('s', 300)).toBeUndefined();
    l.settle('s', 300, 1000);
    const refusal = l.admit('s', 100);
    expect(refusal).toMatchObject({ name: 'SessionTimeLimitError', retryable: false });
    expect(refusal!.message).toMatch(/MAX_SESSION_MS/);
  });

  it("a token's max_session_ms lowers the server's limit, never raises it", () => {
    const { l } = limits({ maxSessionMs: 1000, audioRateLimit: 0 });
    l.track('low', { receivedMs: 0, maxSessionMs: 500 });
    expect(l.admit('low', 600)).toMatchObject({ name: 'SessionTimeLimitError' });
    l.track('high', { receivedMs: 0, maxSessionMs: 5000 });
    expect(l.admit('high', 1100)).toMatchObject({ name: 'SessionTimeLimitError' });
    expect(l.admit('high', 1000)).toBeUndefined();
  });

  it('a resume on the same node keeps the spent bucket', () => {
    const { l } = limits({ audioBurstMs: 1000 });
    l.track('s', { receivedMs: 0 });
    expect(l.admit('s', 1000)).toBeUndefined();
    l.track('s', { receivedMs: 1000 });
    expect(l.admit('s', 100)).toMatchObject({ name: 'RateLimitedError' });
  });

  it('reports a session idle for SESSION_IDLE_TIMEOUT_MS once, and not while a chunk is in flight', () => {
    const { l, tick } = limits({ sessionIdleTimeoutMs: 1000 });
    l.track('quiet', { receivedMs: 0 });
    l.track('busy', { receivedMs: 0 });
    l.track('waiting', { receivedMs: 0 });
    l.admit('waiting', 100);
    tick(900);
    l.admit('busy', 100);
    l.settle('busy', 100, 100);
    expect(l.takeIdle()).toEqual([]);
    tick(100);
    expect(l.takeIdle()).toEqual(['quiet']);
    expect(l.takeIdle()).toEqual([]);
    tick(1000);
    expect(l.takeIdle()).toEqual(['busy']);
    l.settle('waiting', 100, 100);
    expect(l.takeIdle()).toEqual(['waiting']);
  });
});

describe('allowanceFor', () => {
  const server = { maxSessionsPerConnection: 10, maxChunksInFlight: 128 };
  it("takes the server's limits, lowered (never raised) by the client token's", () => {
    expect(allowanceFor({ via: 'open' }, server)).toMatchObject({ maxSessions: 10, maxSessionsSource: 'MAX_SESSIONS_PER_CONNECTION', maxInFlight: 128, inFlight: 0 });
    expect(allowanceFor({ via: 'client-token', token: { tokenId: 't', maxSessions: 50 } }, server).maxSessions).toBe(10);
    const pinned = allowanceFor({ via: 'client-token', token: { tokenId: 't', maxSessions: 1, maxSessionMs: 5000, language: 'en', model: 'm' } }, server);
    expect(pinned).toMatchObject({ maxSessions: 1, maxSessionsSource: "the token's max_sessions", maxSessionMs: 5000, language: 'en', model: 'm' });
  });
});

describe('StreamLimits without an idle time-out', () => {
  it('forgets sessions silent for longer than the store keeps them, without reporting them idle', () => {
    let clock = 0;
    const l = new StreamLimits({ audioRateLimit: 10, audioBurstMs: 1000, maxSessionMs: 0, sessionIdleTimeoutMs: 0, forgetAfterMs: 4000 }, () => clock);
    l.track('gone', { receivedMs: 0 });
    const idle: string[] = [];
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      l.startIdleSweep((id) => idle.push(id));
      clock = 5000;
      // The sweep runs every max(1 s, forgetAfterMs / 4): not before the first one, then gone.
      vi.advanceTimersByTime(999);
      expect(l.has('gone')).toBe(true);
      vi.advanceTimersByTime(1);
      expect(l.has('gone')).toBe(false);
      l.stopIdleSweep();
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
    expect(idle).toEqual([]);
  });
});
