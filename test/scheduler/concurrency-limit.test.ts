// The adaptive engine limit on a cold start: the initial window, the faster climb while segments queue and nothing
// has pushed back, the usual regrow and AIMD after a push-back, and starting from (and sharing) what was learnt.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import type { TranscriptionEngine } from '../../src/engines/engine.js';
import { noopMetrics } from '../../src/metrics/metrics.js';
import { AdaptiveLimit } from '../../src/scheduler/concurrency-limit.js';
import { EngineScheduler } from '../../src/scheduler/engine-scheduler.js';
import { engineConcurrency } from '../../src/server/compose.js';

const remoteEngine = { name: 'openai', model: 'whisper-1' } as unknown as TranscriptionEngine;

/** One round trip at the limit: as many successes as requests fit, each with the others still in flight. */
function roundTrip(limit: AdaptiveLimit, queued: number) {
  const start = limit.current;
  for (let i = 0; i < start; i++) limit.onSuccess(700, limit.current - 1, queued);
}

describe('adaptive limit on a cold start', () => {
  it('starts at the initial window of 16 when nothing is known, free to grow to the maximum', () => {
    const limit = engineConcurrency(loadConfig({ OPENAI_API_KEY: 'sk-test' }), remoteEngine);
    expect(limit.adaptive).toBe(true);
    expect(limit.current).toBe(16);
    expect(limit.ceiling).toBe(256);
  });

  it('doubles per round trip with no queue, and climbs 4× per round trip while segments queue', () => {
    const calm = new AdaptiveLimit({ initial: 16, min: 4, max: 256, now: () => 0 });
    roundTrip(calm, 0);
    expect(calm.current).toBe(32);

    const surge = new AdaptiveLimit({ initial: 16, min: 4, max: 256, now: () => 0 });
    roundTrip(surge, 500);
    expect(surge.current).toBe(64);
    roundTrip(surge, 500);
    expect(surge.current).toBe(256);
  });

  it('climbs only toward the demand: no slots beyond what is in flight and queued', () => {
    const limit = new AdaptiveLimit({ initial: 16, min: 4, max: 256, now: () => 0 });
    // 15 others in flight and 4 waiting: 19 want a slot; past it, one per success as slow start.
    limit.onSuccess(700, 15, 4);
    expect(limit.current).toBe(19);
    limit.onSuccess(700, 18, 1);
    expect(limit.current).toBe(20);
  });

  it('after a push-back, a deep queue does not speed it up: regrow to just below the level, then AIMD', () => {
    let clock = 0;
    const limit = new AdaptiveLimit({ initial: 16, min: 4, max: 256, now: () => clock });
    roundTrip(limit, 500); // 64
    clock = 1000;
    limit.onOverload(500, { inFlight: 49 }); // the quota is 48
    expect(limit.current).toBe(44);
    expect(limit.ceiling).toBe(48);
    for (let i = 0; i < 10; i++) limit.onSuccess(700, limit.current - 1, 500);
    expect(limit.current).toBe(48); // one per success up to one below where it pushed back, queue or not
    roundTrip(limit, 500);
    expect(limit.current).toBe(49); // then one per round trip
  });

  it('against a small quota the wider window costs one round of refusals, then holds at the quota', () => {
    let clock = 0;
    const limit = new AdaptiveLimit({ initial: 16, min: 4, max: 256, now: () => clock });
    clock = 100;
    // Eight of the first sixteen were refused (the quota is 8): only the first refusal after the start decreases.
    for (let i = 0; i < 8; i++) limit.onOverload(0, { inFlight: 9 + i });
    expect(limit.current).toBe(8);
    expect(limit.ceiling).toBe(8);
  });

  it('starts from what was learnt: the limit, the level where the provider pushed back, its latency', () => {
    const limit = new AdaptiveLimit({ initial: 16, min: 4, max: 256, learnt: { limit: 40, pushedBackAt: 48, baselineMs: 700 }, now: () => 0 });
    expect(limit.current).toBe(40);
    expect(limit.ceiling).toBe(47);
    // Below the learnt level: back to it at slow start's pace.
    for (let i = 0; i < 10; i++) limit.onSuccess(700, limit.current - 1);
    expect(limit.current).toBe(47);
    expect(limit.learnt()).toMatchObject({ pushedBackAt: 48 });
  });

  it('the remembered latency spots a provider that queues from its first answers', () => {
    const remembered = new AdaptiveLimit({ initial: 16, min: 4, max: 256, learnt: { limit: 32, baselineMs: 300 }, now: () => 0 });
    const fresh = new AdaptiveLimit({ initial: 32, min: 4, max: 256, now: () => 0 });
    for (const limit of [remembered, fresh]) limit.onSuccess(1000, 31, 100);
    expect(remembered.current).toBe(31); // 1 s against a 300 ms baseline: queueing, ease off
    expect(fresh.current).toBe(35); // the first answer is its baseline: it climbs
  });

  it('a learnt state out of bounds is held to the floor and the maximum', () => {
    const limit = new AdaptiveLimit({ initial: 16, min: 4, max: 256, learnt: { limit: 10_000, pushedBackAt: 1 }, now: () => 0 });
    expect(limit.current).toBe(256);
    expect(limit.learnt().pushedBackAt).toBe(4);
  });

  it('takes a share of a quota learnt elsewhere: drops to it at once, or regrows toward it', () => {
    const limit = new AdaptiveLimit({ initial: 48, min: 4, max: 256, now: () => 0 });
    limit.shareQuota(24);
    expect(limit.current).toBe(24);
    expect(limit.ceiling).toBe(24);
    // A peer left: the share grew; back to just below it at slow start's pace, not one per round trip.
    limit.shareQuota(48);
    for (let i = 0; i < 30; i++) limit.onSuccess(700, limit.current - 1);
    expect(limit.current).toBe(47);
  });

  it('reports the most it had in flight since it was last asked, and its push-backs', () => {
    let clock = 0;
    const limit = new AdaptiveLimit({ initial: 16, min: 4, max: 256, now: () => clock });
    limit.onSuccess(700, 11);
    limit.onSuccess(700, 5);
    expect(limit.takeUsage()).toBe(12);
    expect(limit.takeUsage()).toBe(0);
    clock = 10;
    limit.onOverload(5, { inFlight: 14 });
    expect(limit.takeUsage()).toBe(14);
    expect(limit.learnt().pushBacks).toBe(1);
  });

  it('through the scheduler: a surge of 150 cut segments fills 16, then 64 after one round trip', async () => {
    let clock = 0;
    const limit = new AdaptiveLimit({ initial: 16, min: 4, max: 256, now: () => clock });
    const scheduler = new EngineScheduler({ limit, maxRetries: 3, metrics: noopMetrics, logger: pino({ level: 'silent' }), now: () => clock });
    const running: (() => void)[] = [];
    const results = Array.from({ length: 150 }, (_, i) => scheduler.runFinal(`s${i}`, 0, () => new Promise<void>((resolve) => running.push(resolve))));
    expect(scheduler.state).toEqual({ limit: 16, inFlight: 16, queued: 134 });
    clock = 1000;
    for (const finish of running.splice(0, 16)) finish();
    await Promise.all(results.slice(0, 16));
    await new Promise((resolve) => setImmediate(resolve));
    expect(scheduler.state).toEqual({ limit: 64, inFlight: 64, queued: 70 });
    while (running.length > 0) {
      for (const finish of running.splice(0)) finish();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(results);
  });
});
