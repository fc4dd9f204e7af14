// Puts transcription results in segment order: holds early ones back, drops repeats, and never waits forever.
import type { TranscriptionResult } from '../protocol/events.js';

export interface SegmentOrderOptions {
  /** The first segment number a new session produces. */
  firstSegment?: number;
  /** How long a later segment may wait for a missing earlier one before the gap is skipped. */
  gapTimeoutMs?: number;
}

/**
 * Segments arrive in order from a healthy server, but a resumed session re-sends the ones a client may have
 * missed and a reconnect can interleave them: this delivers each segment once, lowest number first.
 */
export class SegmentOrder {
  private next: number;
  private readonly held = new Map<number, TranscriptionResult>();
  private gapTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly gapTimeoutMs: number;
  private readonly firstSegment: number;

  constructor(
    private readonly deliver: (result: TranscriptionResult) => void,
    options: SegmentOrderOptions = {},
  ) {
    this.firstSegment = options.firstSegment ?? 0;
    this.next = this.firstSegment;
    this.gapTimeoutMs = options.gapTimeoutMs ?? 10_000;
  }

  /** The segment number expected next; everything below it has been delivered or skipped. */
  get nextSegment(): number {
    return this.next;
  }

  push(result: TranscriptionResult): void {
    if (result.segment < this.next || this.held.has(result.segment)) return;
    this.held.set(result.segment, result);
    this.release();
  }

  /** Delivers everything held, skipping gaps: nothing more is coming (the session ended). */
  flush(): void {
    this.clearTimer();
    const rest = [...this.held.values()].sort((a, b) => a.segment - b.segment);
    this.held.clear();
    for (const result of rest) {
      this.next = result.segment + 1;
      this.deliver(result);
    }
  }

  /** Forgets all state, for a new session. */
  reset(): void {
    this.held.clear();
    this.next = this.firstSegment;
    this.clearTimer();
  }

  private release(): void {
    const before = this.next;
    let result = this.held.get(this.next);
    while (result) {
      this.held.delete(this.next);
      this.next += 1;
      this.deliver(result);
      result = this.held.get(this.next);
    }
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

  private clearTimer(): void {
    if (this.gapTimer !== undefined) clearTimeout(this.gapTimer);
    this.gapTimer = undefined;
  }
}
