// The engine scheduler with a controllable engine: order, fairness, limits and retries, asserted by counts and
// order of events, never by wall-clock speed.
import { pino } from 'pino';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { EngineError } from '../../src/errors/server-errors.js';
import { noopMetrics } from '../../src/metrics/metrics.js';
import { AdaptiveLimit, fixedLimit, type ConcurrencyLimit } from '../../src/scheduler/concurrency-limit.js';
import { EngineScheduler } from '../../src/scheduler/engine-scheduler.js';
import { until } from '../support/until.js';

/** An engine whose requests finish only when the test says so. */
function controllableEngine() {
  const pending: Array<{ label: string; resolve: (text: string) => void; reject: (error: unknown) => void }> = [];
  const started: string[] = [];
  return {
    started,
    pending,
    request(label: string) {
      return () =>
        new Promise<string>((resolve, reject) => {
          started.push(label);
          pending.push({ label, resolve, reject });
        });
    },
    /** Finishes the oldest running request with success. */
    finish(label?: string) {
      const index = label ? pending.findIndex((p) => p.label === label) : 0;
      const [request] = pending.splice(index, 1);
      request!.resolve(request!.label);
    },
    fail(error: unknown, label?: string) {
      const index = label ? pending.findIndex((p) => p.label === label) : 0;
      const [request] = pending.splice(index, 1);
      request!.reject(error);
    },
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

function scheduler(limit: ConcurrencyLimit, now: () => number = () => performance.now(), maxRetries = 3) {
  return new EngineScheduler({ limit, maxRetries, metrics: noopMetrics, logger: pino({ level: 'silent' }), now });
}

describe('engine scheduler', () => {
  it('runs at most the limit at once and starts the next when one finishes', async () => {
    const engine = controllableEngine();
    const s = scheduler(fixedLimit(2));
    const results = ['a', 'b', 'c'].map((label, i) => s.runFinal(label, i, engine.request(label)));
    await tick();
    expect(engine.started).toEqual(['a', 'b']);
    expect(s.state).toEqual({ limit: 2, inFlight: 2, queued: 1 });
    engine.finish('a');
    await tick();
    expect(engine.started).toEqual(['a', 'b', 'c']);
    engine.finish();
    engine.finish();
    expect(await Promise.all(results)).toEqual(['a', 'b', 'c']);
  });

  it('gives the next slot to the segment that was cut first, whichever session submitted it first', async () => {
    const engine = controllableEngine();
    const s = scheduler(fixedLimit(1));
    void s.runFinal('busy', 0, engine.request('busy'));
    // Submitted in this order, but "old" was cut before "new" (a long session's next segment waited behind its previous one).
    void s.runFinal('long-session', 500, engine.request('new'));
    void s.runFinal('short-session', 100, engine.request('old'));
    void s.runFinal('third', 300, engine.request('middle'));
    await tick();
    for (let i = 0; i < 3; i++) {
      engine.finish();
      await tick();
    }
    expect(engine.started).toEqual(['busy', 'old', 'middle', 'new']);
  });

  it('runs an interim only in a free slot nobody waits for: skipped, not queued, when busy', async () => {
    const engine = controllableEngine();
    const s = scheduler(fixedLimit(1));
    const interim = s.tryInterim('s1', engine.request('interim-1'));
    expect(interim).toBeDefined();
    expect(s.tryInterim('s2', engine.request('interim-2'))).toBeUndefined();
    void s.runFinal('s3', 0, engine.request('final'));
    engine.finish('interim-1');
    await interim;
    await tick();
    expect(engine.started).toEqual(['interim-1', 'final']);
    // A final waits: no interim may jump ahead of it even when a slot frees up.
    expect(s.tryInterim('s4', engine.request('interim-3'))).toBeUndefined();
  });

  it('keeps the top quarter of the limit for finals: an interim may not start there', async () => {
    const engine = controllableEngine();
    const s = scheduler(fixedLimit(4));
    for (const label of ['i1', 'i2', 'i3']) expect(s.tryInterim(label, engine.request(label))).toBeDefined();
    expect(s.hasRoomForInterim()).toBe(false);
    expect(s.tryInterim('i4', engine.request('i4'))).toBeUndefined();
    // A final still starts at once in the slot kept for it.
    void s.runFinal('f', 0, engine.request('f'));
    await tick();
    expect(engine.started).toEqual(['i1', 'i2', 'i3', 'f']);
  });

  it('leaves interims out of the delay it expects for a new final (admission judges finals alone)', async () => {
    let clock = 0;
    const engine = controllableEngine();
    const s = scheduler(fixedLimit(4), () => clock);
    const warm = s.runFinal('warm', 0, engine.request('warm'));
    await tick();
    clock = 1000;
    engine.finish();
    await warm;
    void s.runFinal('f1', clock, engine.request('f1'));
    await tick();
    expect(s.tryInterim('i1', engine.request('i1'))).toBeDefined();
    expect(s.tryInterim('i2', engine.request('i2'))).toBeDefined();
    void s.runFinal('f2', clock, engine.request('f2'));
    await tick();
    expect(s.state).toEqual({ limit: 4, inFlight: 4, queued: 0 });
    // Two finals in flight of four slots: a third would start at once.
    expect(s.expectedResultDelayMs()).toBe(1000);
  });

  it('after an interim is refused for load, learns the quota without cutting the finals below it, and pauses interims', async () => {
    let clock = 0;
    const engine = controllableEngine();
    const limit = new AdaptiveLimit({ initial: 8, min: 2, max: 64, now: () => clock });
    const s = scheduler(limit, () => clock);
    const finals = [1, 2, 3, 4, 5].map((i) => s.runFinal(`f${i}`, i, engine.request(`f${i}`)));
    await tick();
    const interim = s.tryInterim('i', engine.request('i'));
    expect(interim).toBeDefined();
    // Refused with 6 in flight: the quota is 5; the five finals keep their slots, none is refused or retried.
    engine.fail(new EngineError('429', { status: 429, overload: true, retryAfterMs: 100 }), 'i');
    await expect(interim).rejects.toThrow('429');
    expect(limit.current).toBe(5);
    expect(limit.ceiling).toBe(5);
    // No latency known yet: a round trip counts as 1 s, so interims wait 5 s from the refusal.
    clock = 1000;
    engine.finish('f1');
    engine.finish('f2');
    await Promise.all(finals.slice(0, 2));
    clock = 4900;
    expect(s.hasRoomForInterim()).toBe(false);
    clock = 5100;
    expect(s.hasRoomForInterim()).toBe(true);
    for (const label of ['f3', 'f4', 'f5']) engine.finish(label);
    await Promise.all(finals);
    expect(engine.started.filter((label) => label.startsWith('f'))).toHaveLength(5);
  });

  it('a look at the room for an interim changes nothing: the limit does not grow for it', async () => {
    let clock = 0;
    const engine = controllableEngine();
    const limit = new AdaptiveLimit({ initial: 4, min: 2, max: 64, now: () => clock });
    const s = scheduler(limit, () => clock);
    const finals = ['a', 'b', 'c'].map((label, i) => s.runFinal(label, i, engine.request(label)));
    await tick();
    for (let i = 0; i < 5; i++) expect(s.hasRoomForInterim()).toBe(false);
    clock = 700;
    engine.finish('a');
    await finals[0];
    expect(limit.current).toBe(4);
    while (engine.pending.length > 0) engine.finish();
    await Promise.all(finals);
  });

  it('grows the limit for interims turned away for room, but only up to where the provider pushed back', async () => {
    let clock = 0;
    const engine = controllableEngine();
    const limit = new AdaptiveLimit({ initial: 4, min: 2, max: 64, now: () => clock });
    const s = scheduler(limit, () => clock);
    const finals = ['a', 'b', 'c'].map((label, i) => s.runFinal(label, i, engine.request(label)));
    await tick();
    // Three of four in flight: the top quarter is the finals'. Looking does not press on the limit; asking does.
    expect(s.hasRoomForInterim()).toBe(false);
    expect(s.askInterimRoom()).toBe(false);
    clock = 700;
    engine.finish('a');
    await finals[0];
    // Two in flight would not have grown it; the interim that wanted room did.
    expect(limit.current).toBe(5);

    // Once the provider has pushed back, interims do not probe beyond the quota's estimate: keep three of four in
    // flight, an interim turned away each time, and the limit stays where it is.
    limit.onOverload(clock, { inFlight: 5 });
    expect(limit.current).toBe(4);
    expect(limit.ceiling).toBe(4);
    const more: Promise<string>[] = [];
    for (let i = 0; i < 10; i++) {
      more.push(s.runFinal(`r${i}`, 10 + i, engine.request(`r${i}`)));
      await tick();
      expect(s.askInterimRoom()).toBe(false);
      engine.finish();
      await tick();
    }
    expect(limit.current).toBe(4);
    while (engine.pending.length > 0) engine.finish();
    await Promise.all([...finals, ...more]);
  });

  it('retries a retryable failure after the provider’s Retry-After, keeping the segment’s place', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    onTestFinished(() => {
      vi.useRealTimers();
    });
    let clock = 0;
    const engine = controllableEngine();
    const s = scheduler(fixedLimit(1), () => clock);
    const result = s.runFinal('s1', 0, engine.request('first'));
    await tick();
    engine.fail(new EngineError('429', { status: 429, overload: true, retryAfterMs: 2000 }));
    await tick();
    expect(engine.pending).toHaveLength(0);
    // The retry waits for the Retry-After; the engine counts as busy, so no interim takes its slot meanwhile.
    expect(s.hasRoomForInterim()).toBe(false);
    expect(s.tryInterim('s2', engine.request('interim'))).toBeUndefined();
    // Not a moment before the Retry-After (the wake timer is the scheduler's own: fake timers drive it).
    clock = 1900;
    await vi.advanceTimersByTimeAsync(1900);
    expect(engine.started).toEqual(['first']);
    clock = 2100;
    await vi.advanceTimersByTimeAsync(200);
    expect(engine.started).toEqual(['first', 'first']);
    engine.finish();
    expect(await result).toBe('first');
  });

  it('gives up after maxRetries and rejects with the engine’s error; a non-retryable error is not retried', async () => {
    const engine = controllableEngine();
    const s = scheduler(fixedLimit(1), undefined, 1);
    const failing = s.runFinal('s1', 0, engine.request('r'));
    await tick();
    engine.fail(new EngineError('boom', { status: 500, retryAfterMs: 0 }));
    await until(() => engine.started.length === 2, 'the retry to start');
    engine.fail(new EngineError('boom again', { status: 500, retryAfterMs: 0 }));
    await expect(failing).rejects.toThrow('boom again');
    expect(engine.started).toEqual(['r', 'r']);

    const rejected = s.runFinal('s2', 1, engine.request('bad-key'));
    await tick();
    engine.fail(new EngineError('401', { status: 401, retryable: false }));
    await expect(rejected).rejects.toThrow('401');
    expect(engine.started.filter((label) => label === 'bad-key')).toHaveLength(1);
  });

  it('estimates the delay of a new segment from the queue ahead of it', async () => {
    let clock = 0;
    const engine = controllableEngine();
    const s = scheduler(fixedLimit(2), () => clock);
    // Learn the engine's latency: 1000 ms.
    const first = s.runFinal('warm', 0, engine.request('warm'));
    await tick();
    clock = 1000;
    engine.finish();
    await first;
    expect(s.expectedResultDelayMs()).toBe(1000);
    for (let i = 0; i < 6; i++) void s.runFinal(`s${i}`, clock, engine.request(`s${i}`));
    await tick();
    // 2 running, 4 waiting: a new one has 5 ahead of it beyond the 2 slots → 3 rounds of 1 s, then its own second.
    expect(s.expectedResultDelayMs()).toBe(4000);
  });
});

describe('adaptive concurrency limit', () => {
  it('grows while the limit is the bottleneck and latency is flat', () => {
    const limit = new AdaptiveLimit({ initial: 4, min: 2, max: 64 });
    for (let i = 0; i < 20; i++) limit.onSuccess(700, limit.current - 1);
    expect(limit.current).toBeGreaterThan(4);
    expect(limit.ceiling).toBe(64); // no push-back seen yet: it may go to the maximum
  });

  it('does not grow when the requests in flight do not fill it', () => {
    const limit = new AdaptiveLimit({ initial: 8, min: 2, max: 64 });
    for (let i = 0; i < 50; i++) limit.onSuccess(700, 1);
    expect(limit.current).toBe(8);
  });

  it('shrinks on overload, once per round of requests, never below the floor', () => {
    let clock = 0;
    const limit = new AdaptiveLimit({ initial: 40, min: 4, max: 64, now: () => clock });
    clock = 100;
    limit.onOverload(50);
    expect(limit.current).toBe(36);
    // More refusals of requests started before that decrease say nothing new.
    limit.onOverload(60);
    limit.onOverload(90);
    expect(limit.current).toBe(36);
    clock = 200;
    limit.onOverload(150);
    expect(limit.current).toBe(32);
    for (let i = 0; i < 30; i++) limit.onOverload((clock += 10));
    expect(limit.current).toBe(4);
    expect(limit.ceiling).toBe(limit.current);
  });

  it('after a push-back climbs straight back to just below where it came, then only slowly beyond', () => {
    let clock = 0;
    const limit = new AdaptiveLimit({ initial: 40, min: 4, max: 64, now: () => clock });
    limit.onOverload(0);
    expect(limit.current).toBe(36);
    // Admission judges by the quota's estimate, not by the dip.
    expect(limit.ceiling).toBe(39);
    // Below the push-back level: one per success (slow start's pace), up to one below it.
    for (let i = 0; i < 3; i++) limit.onSuccess(700, limit.current);
    expect(limit.current).toBe(39);
    // At it: one more per limit's worth of successes (additive increase), probing for a larger quota.
    for (let i = 0; i < 41; i++) limit.onSuccess(700, limit.current);
    expect(limit.current).toBe(40);
    expect(limit.ceiling).toBe(40);
  });

  it('pushed back again before regaining the old level, lowers its estimate of the quota faster', () => {
    let clock = 0;
    const limit = new AdaptiveLimit({ initial: 40, min: 4, max: 64, now: () => clock });
    limit.onOverload(0); // at 40: estimate 40, limit 36
    clock = 100;
    limit.onOverload(50); // at 36, under the estimate's 39: the quota fell; estimate 36 × 0.95 = 34.2
    expect(limit.current).toBe(32);
    expect(limit.ceiling).toBe(33);
    for (let i = 0; i < 5; i++) limit.onSuccess(700, limit.current);
    expect(limit.current).toBe(33);
  });

  it('grows slowly after an overload at its level (additive increase), and eases off when latency rises', () => {
    let clock = 0;
    const limit = new AdaptiveLimit({ initial: 20, min: 2, max: 64, now: () => clock });
    limit.onOverload(0);
    for (let i = 0; i < 5; i++) limit.onSuccess(700, limit.current);
    const after = limit.current;
    expect(after).toBe(19);
    // About one more per limit's worth of successes (not one per success, as before the overload).
    for (let i = 0; i < 2 * after; i++) limit.onSuccess(700, limit.current);
    expect(limit.current).toBeGreaterThanOrEqual(after + 1);
    expect(limit.current).toBeLessThanOrEqual(after + 2);
    const before = limit.current;
    for (let i = 0; i < 10; i++) limit.onSuccess(3000, limit.current);
    expect(limit.current).toBeLessThan(before);
  });
});
