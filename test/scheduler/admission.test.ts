// Admission control against an engine of known capacity: which new sessions it turns away, judged by the segment
// rate the running sessions bring (or a prior cost before it is measured), and the retry delays it hands out,
// asserted on a virtual clock.
import { describe, expect, it } from 'vitest';
import { OverloadedError } from '../../src/errors/server-errors.js';
import { AdmissionControl, priorSessionRate } from '../../src/scheduler/admission.js';

/** An engine that takes `capacity` segments a second with results due in 1 s; admission aims at 85 % of it. */
function admissionAt(capacity: number) {
  const clock = { now: 0 };
  const admission = new AdmissionControl(
    { expectedResultDelayMs: () => 1000, provenCapacityPerSecond: capacity },
    { maxResultDelayMs: 10_000, priorSessionRate: priorSessionRate(8000), now: () => clock.now },
  );
  /** Plays `sessions` sessions cutting at the given times (ms, the same for each), up to `until`. */
  const play = (sessions: number, cutsAt: number[], until: number) => {
    const events = cutsAt.flatMap((at) => Array.from({ length: sessions }, (_, s) => ({ at, session: `s${s}` })));
    for (const { at, session } of events.sort((a, b) => a.at - b.at)) {
      clock.now = at;
      admission.segmentCut(session);
    }
    clock.now = until;
  };
  return { admission, play };
}

describe('admission control', () => {
  it('refuses a new session when the running ones already bring more than 85 % of what the engine takes', () => {
    const { admission, play } = admissionAt(10);
    // 20 sessions cutting every 2 s: 0.5 segments/s each; 21 of them would bring 10.5/s against 8.5/s.
    play(20, [0, 2000, 4000, 6000, 8000, 10_000], 10_500);
    const refusal = admission.refusal(20);
    expect(refusal).toBeInstanceOf(OverloadedError);
    expect(refusal?.message).toMatch(/near the capacity/);
    expect(refusal?.retryAfterMs).toBeGreaterThanOrEqual(1000);
    // Fewer running sessions leave room.
    expect(admission.refusal(15)).toBeUndefined();
  });

  it('counts the interval each young session is still in, not only the short ones that have ended', () => {
    const { admission, play } = admissionAt(10);
    // 20 young sessions whose segments come 2 s, then 8 s apart (0.2 segments/s each): 5.5 s in, only the 2 s
    // intervals have ended. Judged by those alone, each would bring 0.5/s and 21 would be too many (10.5 > 8.5).
    play(20, [0, 2000], 5500);
    expect(admission.refusal(20)).toBeUndefined();
  });

  it('before any rate is measured, counts each session at the prior cost: a surge is admitted up to the capacity shown', () => {
    const { admission } = admissionAt(10);
    // Prior: a segment per 4 s (half of an 8 s cap) = 0.25/s; 85 % of 10/s holds 34 sessions.
    let admitted = 1;
    while (admission.refusal(admitted) === undefined) admitted++;
    expect(admitted).toBe(34);
    expect(admission.refusal(0)).toBeUndefined();
  });

  it('spreads the retry delays of a surge it refuses, so they do not come back together', () => {
    let seed = 1;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const admission = new AdmissionControl(
      { expectedResultDelayMs: () => 1000, provenCapacityPerSecond: 1 },
      { maxResultDelayMs: 10_000, priorSessionRate: 0.25, now: () => 0, random },
    );
    const delays = Array.from({ length: 300 }, () => admission.refusal(100)!.retryAfterMs!);
    // Never sooner than a segment interval (4 s); 300 refusals at ~20 returns a second need about 15 s.
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(4000);
    expect(Math.max(...delays)).toBeGreaterThan(12_000);
    // No second gets more than a small share of them back.
    const perSecond = new Map<number, number>();
    for (const d of delays) perSecond.set(Math.floor(d / 1000), (perSecond.get(Math.floor(d / 1000)) ?? 0) + 1);
    expect(Math.max(...perSecond.values())).toBeLessThan(60);
  });
});
