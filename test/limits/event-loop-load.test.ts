// The event-loop guard on this process's real event loop: a loop kept busy through a window refuses new sessions
// with OVERLOADED and a retry delay; an idle window admits them again; 1 turns the guard off.
import { afterEach, describe, expect, it } from 'vitest';
import { OverloadedError } from '../../src/errors/server-errors.js';
import { EventLoopLoad } from '../../src/limits/event-loop-load.js';

const WINDOW_MS = 200;
const guards: EventLoopLoad[] = [];
afterEach(() => {
  for (const guard of guards.splice(0)) guard.stop();
});

function guard(maxUtilization: number, onSample?: (share: number) => void): EventLoopLoad {
  const load = new EventLoopLoad({ maxUtilization, windowMs: WINDOW_MS, onSample });
  guards.push(load);
  return load;
}

/** Keeps this thread (and so its event loop) busy for `ms`. */
function busyFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('EventLoopLoad', () => {
  it('refuses while the last window was busier than the limit, and admits after an idle window', async () => {
    const samples: number[] = [];
    const load = guard(0.5, (share) => samples.push(share));
    expect(load.refusal()).toBeUndefined();
    // Busy through a whole window: the sample that ends it finds the loop busy nearly all of it.
    busyFor(WINDOW_MS * 1.5);
    await sleep(10);
    const refusal = load.refusal();
    expect(refusal).toBeInstanceOf(OverloadedError);
    expect(refusal!.retryAfterMs).toBe(WINDOW_MS);
    expect(refusal!.message).toMatch(/event loop was busy \d+ % of the last 0\.2 s \(MAX_EVENT_LOOP_UTILIZATION=0\.5\)/);
    expect(load.current).toBeGreaterThan(0.5);
    expect(samples.at(-1)).toBe(load.current);

    // Two idle windows: the last whole one is idle.
    await sleep(WINDOW_MS * 2.5);
    expect(load.current).toBeLessThan(0.5);
    expect(load.refusal()).toBeUndefined();
  });

  it('never refuses with a limit of 1', async () => {
    const load = guard(1);
    busyFor(WINDOW_MS * 1.5);
    await sleep(10);
    expect(load.current).toBeGreaterThan(0.5);
    expect(load.refusal()).toBeUndefined();
  });
});
