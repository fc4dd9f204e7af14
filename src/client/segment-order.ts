// Puts transcription results in segment order: holds early finals back, drops repeats and stale interims, and never
// waits forever.
import type { TranscriptionResult } from '../protocol/events.js';

export interface SegmentOrderOptions {
  /** The first segment number a new session produces. */
  firstSegment?: number;
  /** How long a later segment may wait for a missing earlier one before the gap is skipped. */
  gapTimeoutMs?: number;
  /** Receives interim results (`is_final: false`) of the segment in progress; without it they are dropped. */
  interim?: (result: TranscriptionResult) => void;
}

/**
 * Segments arrive in order from a healthy server, but a resumed session re-sends the ones a client may have
 * missed and a reconnect can interleave them: this delivers each final once, lowest number first. Interims share
 * the number of the final that replaces them: those of the current segment go out at once (each replacing the last),
 * one of a later segment waits until that segment is current, and one whose final has come is dropped.
 */
/** Held in place of a final the server will never send (the segment was refused): counts as delivered, emits nothing. */
const SKIPPED = Symbol('skipped');

export class SegmentOrder {
  private next: number;
  private readonly held = new Map<number, TranscriptionResult | typeof SKIPPED>();
  /** The latest interim of each segment beyond the current one, waiting for its turn. */
  private readonly waitingInterims = new Map<number, TranscriptionResult>();
  private gapTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly gapTimeoutMs: number;
  private readonly firstSegment: number;
  private readonly deliverInterim: ((result: TranscriptionResult) => void) | undefined;

  constructor(
    private readonly deliver: (result: TranscriptionResult) => void,
    options: SegmentOrderOptions = {},
  ) {
    this.firstSegment = options.firstSegment ?? 0;
    this.next = this.firstSegment;
    this.gapTimeoutMs = options.gapTimeoutMs ?? 10_000;
    this.deliverInterim = options.interim;
  }

  /** The segment number expected next; everything below it has been delivered or skipped. */
  get nextSegment(): number {
    return this.next;
  }

  push(result: TranscriptionResult): void {
    // A final already delivered or held makes any interim of its segment stale.
    if (result.segment < this.next || this.held.has(result.segment)) return;
    if (result.is_final === false) {
      if (result.segment === this.next) this.deliverInterim?.(result);
      else this.waitingInterims.set(result.segment, result);
      return;
    }
    this.held.set(result.segment, result);
    this.waitingInterims.delete(result.segment);
    this.release();
  }

  /**
   * Segment `segment` will have no final (the server refused it: ENGINE_REJECTED): later ones need not wait for it.
   * A final that still comes for it is dropped.
   */
  skip(segment: number): void {
    if (segment < this.next || this.held.has(segment)) return;
    this.held.set(segment, SKIPPED);
    this.waitingInterims.delete(segment);
    this.release();
  }

  /** Delivers every final held, skipping gaps: nothing more is coming (the session ended). */
  flush(): void {
    this.clearTimer();
    this.waitingInterims.clear();
    const rest = [...this.held.entries()].sort(([a], [b]) => a - b);
    this.held.clear();
    for (const [segment, result] of rest) {
      this.next = segment + 1;
      if (result !== SKIPPED) this.deliver(result);
    }
  }

  /** Forgets all state, for a new session. */
  reset(): void {
    this.held.clear();
    this.waitingInterims.clear();
    this.next = this.firstSegment;
    this.clearTimer();
  }

  private release(): void {
    const before = this.next;
    let result = this.held.get(this.next);
    while (result) {
      this.held.delete(this.next);
      this.next += 1;
      if (result !== SKIPPED) this.deliver(result);
      result = this.held.get(this.next);
    }
    if (this.next !== before) this.advanceInterims();
    // The timer measures how long the current gap has been open: restart it only when the gap moved.
    if (this.next !== before || this.held.size === 0) this.clearTimer();
    if (this.held.size > 0 && this.gapTimer === undefined) {
      this.gapTimer = setTimeout(() => {
        this.gapTimer = undefined;
        this.next = Math.min(...this.held.keys());
        this.release();
      }, this.gapTimeoutMs);
      // A pending gap must not keep a Node process alive on its own.
      (this.gapTimer as { unref?: () => void }).unref?.();
    }
  }

  /** The current segment moved on: interims it has passed are stale, and one waiting for the new current goes out. */
  private advanceInterims(): void {
    for (const segment of this.waitingInterims.keys()) if (segment < this.next) this.waitingInterims.delete(segment);
    const waiting = this.waitingInterims.get(this.next);
    if (!waiting) return;
    this.waitingInterims.delete(this.next);
    this.deliverInterim?.(waiting);
  }

  private clearTimer(): void {
    if (this.gapTimer !== undefined) clearTimeout(this.gapTimer);
    this.gapTimer = undefined;
  }
}
