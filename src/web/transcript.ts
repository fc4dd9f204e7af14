// The transcript the page shows: segments kept once each, in order, with the server's final text as the last word.
import type { EndSessionAccepted, TranscriptionResult } from '../client/index.js';

export interface TranscriptLine {
  /** Unique on the page: server session part and segment number. */
  key: string;
  /** 0, or higher after the server lost the session and started a fresh one (its times count from 0 again). */
  part: number;
  text: string;
  startMs: number;
  endMs: number;
}

/**
 * A server that lost a session (restarted without Redis) opens a fresh one under the same id whose segments count
 * from 0 again: each such server session is a "part" here, so its segment 0 does not overwrite the earlier one.
 */
export class Transcript {
  private parts: Map<number, TranscriptionResult>[] = [new Map()];
  /** Set at Stop when the server's end_session text differs from the segments received (then it replaces them). */
  private finalText: string | undefined;

  /** Adds a result unless its segment is already shown (resumed sessions replay every segment); true if added. */
  add(result: TranscriptionResult): boolean {
    const current = this.parts[this.parts.length - 1]!;
    if (current.has(result.segment)) return false;
    current.set(result.segment, result);
    return true;
  }

  /** The server answered a reconnect with a fresh session: later segments belong to a new part. */
  beginServerSession(): void {
    if (this.parts[this.parts.length - 1]!.size > 0) this.parts.push(new Map());
  }

  /** Stop's answer is the authority on the current server session's text. */
  finish(end: EndSessionAccepted): void {
    const current = this.parts[this.parts.length - 1]!;
    const received = ordered(current).map((r) => r.text).join(' ');
    this.finalText = received === end.text ? undefined : end.text;
  }

  clear(): void {
    this.parts = [new Map()];
    this.finalText = undefined;
  }

  get lines(): TranscriptLine[] {
    const lines: TranscriptLine[] = [];
    this.parts.forEach((part, index) => {
      const last = index === this.parts.length - 1;
      if (last && this.finalText !== undefined) {
        const results = ordered(part);
        if (this.finalText) {
          lines.push({ key: `${index}:final`, part: index, text: this.finalText, startMs: results[0]?.start_ms ?? 0, endMs: results.at(-1)?.end_ms ?? 0 });
        }
        return;
      }
      for (const result of ordered(part)) {
        if (!result.text) continue;
        lines.push({ key: `${index}:${result.segment}`, part: index, text: result.text, startMs: result.start_ms, endMs: result.end_ms });
      }
    });
    return lines;
  }

  get text(): string {
    return this.lines.map((line) => line.text).join(' ');
  }
}

function ordered(part: Map<number, TranscriptionResult>): TranscriptionResult[] {
  return [...part.values()].sort((a, b) => a.segment - b.segment);
}
