// SegmentOrder on its own: finals once each in segment order, interims of the current segment replacing each other,
// and interims that come too late (after their final) dropped.
import { describe, expect, it, vi } from 'vitest';
import { SegmentOrder } from '../../src/client/index.js';
import type { TranscriptionResult } from '../../src/protocol/index.js';

function final(segment: number, text = `final ${segment}`): TranscriptionResult {
  return { session_id: 's', segment, text, is_final: true, start_ms: segment * 1000, end_ms: (segment + 1) * 1000, latency_ms: 5 };
}

function interim(segment: number, text: string): TranscriptionResult {
  return { ...final(segment, text), is_final: false, end_ms: segment * 1000 + 400 };
}

/** A SegmentOrder whose deliveries are written down as "F<segment>" for finals and "I<segment>:<text>" for interims. */
function recorder(gapTimeoutMs = 10_000) {
  const log: string[] = [];
  const order = new SegmentOrder((r) => log.push(`F${r.segment}`), { gapTimeoutMs, interim: (r) => log.push(`I${r.segment}:${r.text}`) });
  return { order, log };
}

describe('SegmentOrder with interim results', () => {
  it('delivers interims of the current segment at once, each replacing the last, then the final', () => {
    const { order, log } = recorder();
    order.push(interim(0, 'hel'));
    order.push(interim(0, 'hello wor'));
    order.push(final(0));
    order.push(interim(1, 'again'));
    expect(log).toEqual(['I0:hel', 'I0:hello wor', 'F0', 'I1:again']);
  });

  it('drops an interim that arrives after its final was delivered, or while its final is held', () => {
    const { order, log } = recorder();
    order.push(final(0));
    order.push(interim(0, 'late'));
    // Final 2 is held (1 is missing): an interim of 2 is already out of date.
    order.push(final(2));
    order.push(interim(2, 'stale'));
    order.push(final(1));
    expect(log).toEqual(['F0', 'F1', 'F2']);
  });

  it('keeps finals in order and holds an interim of a later segment until that segment is current', () => {
    const { order, log } = recorder();
    order.push(interim(1, 'one early'));
    order.push(interim(1, 'one later'));
    expect(log).toEqual([]);
    order.push(final(0));
    // Only the latest interim of segment 1 is still worth showing.
    expect(log).toEqual(['F0', 'I1:one later']);
    order.push(final(1));
    expect(log).toEqual(['F0', 'I1:one later', 'F1']);
  });

  it('forgets a waiting interim once its final has come, and at flush', () => {
    const { order, log } = recorder();
    order.push(interim(1, 'one'));
    order.push(final(1));
    order.push(interim(3, 'three'));
    order.flush();
    expect(log).toEqual(['F1']);
    // Nothing of segment 3 comes out later: flush forgot it.
    order.push(interim(2, 'two'));
    expect(log).toEqual(['F1', 'I2:two']);
  });

  it('skips a gap that never fills, then carries on with the interims of the segment it reached', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const { order, log } = recorder(50);
      order.push(final(0));
      order.push(interim(2, 'two so far'));
      order.push(final(2));
      order.push(interim(3, 'three so far'));
      expect(log).toEqual(['F0']);
      // Not a moment before the gap time-out, then at once.
      vi.advanceTimersByTime(49);
      expect(log).toEqual(['F0']);
      vi.advanceTimersByTime(1);
      expect(log).toEqual(['F0', 'F2', 'I3:three so far']);
      expect(order.nextSegment).toBe(3);
    } finally {
      vi.useRealTimers();
    }
  });

  it('treats results without is_final: false as finals (servers without interims), and drops interims without a listener', () => {
    const delivered: number[] = [];
    const order = new SegmentOrder((r) => delivered.push(r.segment));
    order.push(interim(0, 'nobody listens'));
    const { is_final: _drop, ...legacy } = final(0);
    order.push(legacy as TranscriptionResult);
    order.push(final(1));
    expect(delivered).toEqual([0, 1]);
  });
});

describe('SegmentOrder and a refused segment (ENGINE_REJECTED)', () => {
  it('a skipped number releases the finals held behind it at once, and a late final for it is dropped', () => {
    const { order, log } = recorder(600_000);
    order.push(final(0));
    order.push(final(2));
    order.push(final(3));
    expect(log).toEqual(['F0']);
    order.skip(1);
    expect(log).toEqual(['F0', 'F2', 'F3']);
    order.push(final(1));
    expect(log).toEqual(['F0', 'F2', 'F3']);
    expect(order.nextSegment).toBe(4);
  });

  it('a skip that comes before the later finals lets them through as they arrive; flush passes over it', () => {
    const { order, log } = recorder(600_000);
    order.skip(0);
    order.skip(2);
    order.push(final(1));
    expect(log).toEqual(['F1']);
    order.skip(4);
    order.push(final(5));
    order.flush();
    expect(log).toEqual(['F1', 'F5']);
    expect(order.nextSegment).toBe(6);
  });
});
