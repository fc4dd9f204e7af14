// FloodGuard's decisions on an injected clock: when a connection is paused, resumed and closed, and that it holds no
// timer once closed. ReadBudget: a burst is cut at the budget and read again next turn; one packet a turn never is.
import { describe, expect, it } from 'vitest';
import { FloodGuard, type Clock } from '../../src/limits/flood-guard.js';
import { ReadBudget } from '../../src/limits/read-budget.js';

/** A manual clock: timers fire only on advance(). */
function manualClock() {
  let now = 0;
  const timers = new Map<number, { at: number; callback: () => void }>();
  let next = 0;
  const clock: Clock & { advance(ms: number): void; pending(): number } = {
    now: () => now,
    setTimeout: (callback, ms) => (timers.set(++next, { at: now + ms, callback }), next),
    clearTimeout: (id) => void timers.delete(id as number),
    advance(ms) {
      now += ms;
      for (const [id, timer] of [...timers]) if (timer.at <= now) (timers.delete(id), timer.callback());
    },
    pending: () => timers.size,
  };
  return clock;
}

function guarded(settings: Partial<{ maxInFlight: number; firstPauseAfter: number; pauseMs: number; maxPauses: number; calmMs: number }> = {}) {
  const clock = manualClock();
  const events: string[] = [];
  let inFlight = 0;
  const guard = new FloodGuard(
    { maxInFlight: 4, firstPauseAfter: 4, pauseMs: 250, maxPauses: 3, calmMs: 10_000, ...settings },
    { pause: () => events.push('pause'), resume: () => events.push('resume'), disconnect: (n) => events.push(`disconnect ${n}`), inFlight: () => inFlight },
    clock,
  );
  const refuse = (n: number, backlogged = true) => {
    for (let i = 0; i < n; i++) guard.answered({ retryAfterMs: 10, backlogged });
  };
  return { guard, clock, events, refuse, setInFlight: (n: number) => (inFlight = n) };
}

describe('FloodGuard', () => {
  it('pauses after firstPauseAfter backlogged refusals, however large the window, and never for refusals read in time', () => {
    const { refuse, events } = guarded({ maxInFlight: 128, firstPauseAfter: 32 });
    refuse(500, false);
    expect(events).toEqual([]);
    refuse(32);
    expect(events).toEqual([]);
    refuse(1);
    expect(events).toEqual(['pause']);
  });

  it('forgives as many backlogged refusals as MAX_CHUNKS_IN_FLIGHT (chunks already sent), pauses at the next', () => {
    const { guard, events, refuse } = guarded();
    refuse(4);
    expect(events).toEqual([]);
    refuse(1);
    expect(events).toEqual(['pause']);
    expect(guard.paused).toBe(true);
  });

  it('never pauses a client whose refusals come while it is drained (it waits for acks), however many', () => {
    const { events, refuse } = guarded();
    refuse(1000, false);
    expect(events).toEqual([]);
  });

  it('a drained turn starts the count again', () => {
    const { events, refuse } = guarded();
    refuse(4);
    refuse(1, false);
    refuse(4);
    expect(events).toEqual([]);
  });

  it('resumes after FLOOD_PAUSE_MS once its window has drained to half, then pauses at its first backlogged refusal', () => {
    const { guard, clock, events, refuse, setInFlight } = guarded();
    refuse(5);
    setInFlight(3);
    clock.advance(250);
    // Still 3 of 4 in flight: it waits for acks.
    expect(events).toEqual(['pause']);
    setInFlight(2);
    guard.answered({ backlogged: true });
    expect(events).toEqual(['pause', 'resume']);
    refuse(1);
    expect(events).toEqual(['pause', 'resume', 'pause']);
  });

  it('pauses at least as long as the refusal asked to wait', () => {
    const { guard, clock, events } = guarded();
    for (let i = 0; i < 5; i++) guard.answered({ retryAfterMs: 1000, backlogged: true });
    clock.advance(999);
    expect(events).toEqual(['pause']);
    clock.advance(1);
    expect(events).toEqual(['pause', 'resume']);
  });

  it('closes the connection when it floods again after FLOOD_MAX_PAUSES pauses, and holds no timer after', () => {
    const { guard, clock, events, refuse } = guarded();
    refuse(5);
    for (let i = 0; i < 2; i++) {
      clock.advance(250);
      refuse(1);
    }
    expect(events.filter((e) => e === 'pause')).toHaveLength(3);
    clock.advance(250);
    refuse(1);
    expect(events.at(-1)).toBe('disconnect 3');
    expect(clock.pending()).toBe(0);
    refuse(100);
    clock.advance(10_000);
    expect(events.at(-1)).toBe('disconnect 3');
  });

  it('a calm spell (no refusal for calmMs) clears its record', () => {
    const { guard, clock, events, refuse } = guarded();
    refuse(5);
    clock.advance(250);
    expect(guard.pauseCount).toBe(1);
    clock.advance(10_000);
    refuse(4);
    expect(guard.pauseCount).toBe(0);
    expect(events).toEqual(['pause', 'resume']);
  });

  it('close() while paused clears the resume timer', () => {
    const { guard, clock, events, refuse } = guarded();
    refuse(5);
    expect(clock.pending()).toBe(1);
    guard.close();
    expect(clock.pending()).toBe(0);
    clock.advance(1000);
    expect(events).toEqual(['pause']);
  });
});

describe('ReadBudget', () => {
  const nextTurn = () => new Promise((r) => setImmediate(r));

  it('stops reading past the budget in one turn and reads again at the next; backlogged meanwhile', async () => {
    const events: string[] = [];
    const budget = new ReadBudget(3, () => (events.push('pause'), true), () => events.push('resume'));
    for (let i = 0; i < 3; i++) budget.take();
    expect(events).toEqual([]);
    expect(budget.backlogged()).toBe(false);
    budget.take();
    budget.take();
    expect(events).toEqual(['pause']);
    expect(budget.backlogged()).toBe(true);
    await nextTurn();
    expect(events).toEqual(['pause', 'resume']);
    // A turn within the budget: the backlog has drained by the next.
    budget.take();
    await nextTurn();
    expect(budget.backlogged()).toBe(false);
  });

  it('one packet a turn is never stopped', async () => {
    const events: string[] = [];
    const budget = new ReadBudget(3, () => (events.push('pause'), true), () => events.push('resume'));
    for (let i = 0; i < 20; i++) {
      budget.take();
      await nextTurn();
    }
    expect(events).toEqual([]);
  });
});
