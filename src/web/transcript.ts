// The transcript the page shows: segments kept once each, in order, the segment in progress as its latest interim
// guess, and the server's final text as the last word.
import type { EndSessionAccepted, TranscriptionResult } from '../client/index.js';

export interface TranscriptLine {
  /** Unique on the page: server session part and segment number (an interim and its final share it). */
  key: string;
  /** 0, or higher after the server lost the session and started a fresh one (its times count from 0 again). */
  part: number;
  text: string;
  startMs: number;
  endMs: number;
  /** A guess at the segment in progress, replaced in place by its final. */
  interim: boolean;
  /** The speaker stopped within this segment (utterance_end): the page marks where a turn ended. */
  endsUtterance: boolean;
}

/**
 * A server that lost a session (restarted without Redis) opens a fresh one under the same id whose segments count
 * from 0 again: each such server session is a "part" here, so its segment 0 does not overwrite the earlier one.
 */
export class Transcript {
  private parts: Map<number, TranscriptionResult>[] = [new Map()];
  /** Where the speaker stopped (utterance_end's end_ms), per part. */
  private utteranceEnds: number[][] = [[]];
  /** The latest interim of the segment in progress in the current part, until its final comes. */
  private interim: TranscriptionResult | undefined;
  /** Set at Stop when the server's end_session text differs from the segments received (then it replaces them). */
  private finalText: string | undefined;

  /** Adds a final unless its segment is already shown (resumed sessions replay every segment); true if added. */
  add(result: TranscriptionResult): boolean {
    const current = this.parts[this.parts.length - 1]!;
    if (current.has(result.segment)) return false;
    current.set(result.segment, result);
    if (this.interim && this.interim.segment <= result.segment) this.interim = undefined;
    return true;
  }

  /** Shows `result` as the segment in progress, replacing the previous guess; false when its final is already here. */
  setInterim(result: TranscriptionResult): boolean {
    const current = this.parts[this.parts.length - 1]!;
    if (current.has(result.segment) || [...current.keys()].some((segment) => segment > result.segment)) return false;
    this.interim = result;
    return true;
  }

  /** The speaker stopped at `endMs` (session time); true when that is news. */
  endUtterance(endMs: number): boolean {
    const ends = this.utteranceEnds[this.utteranceEnds.length - 1]!;
    if (ends.includes(endMs)) return false;
    ends.push(endMs);
    return true;
  }

  /** The server answered a reconnect with a fresh session: later segments belong to a new part. */
  beginServerSession(): void {
    this.interim = undefined;
    if (this.parts[this.parts.length - 1]!.size > 0) {
      this.parts.push(new Map());
      this.utteranceEnds.push([]);
    }
  }

  /** Stop's answer is the authority on the current server session's text. */
  finish(end: EndSessionAccepted): void {
    this.interim = undefined;
    const current = this.parts[this.parts.length - 1]!;
    const received = ordered(current).map((r) => r.text).join(' ');
    this.finalText = received === end.text ? undefined : end.text;
  }

  clear(): void {
    this.parts = [new Map()];
    this.utteranceEnds = [[]];
    this.interim = undefined;
    this.finalText = undefined;
  }

  get lines(): TranscriptLine[] {
    const lines: TranscriptLine[] = [];
    this.parts.forEach((part, index) => {
      const last = index === this.parts.length - 1;
      if (last && this.finalText !== undefined) {
        const results = ordered(part);
        if (this.finalText) {
          lines.push({ key: `${index}:final`, part: index, text: this.finalText, startMs: results[0]?.start_ms ?? 0, endMs: results.at(-1)?.end_ms ?? 0, interim: false, endsUtterance: false });
        }
        return;
      }
      const ends = this.utteranceEnds[index] ?? [];
      for (const result of ordered(part)) {
        if (result.text) lines.push(line(index, result, false, ends));
      }
      if (last && this.interim?.text) lines.push(line(index, this.interim, true, []));
    });
    return lines;
  }

  /** The final text so far (interim guesses left out). */
  get text(): string {
    return this.lines
      .filter((entry) => !entry.interim)
      .map((entry) => entry.text)
      .join(' ');
  }
}

function line(part: number, result: TranscriptionResult, interim: boolean, utteranceEnds: readonly number[]): TranscriptLine {
  const endsUtterance = utteranceEnds.some((endMs) => endMs > result.start_ms && endMs <= result.end_ms);
  return { key: `${part}:${result.segment}`, part, text: result.text, startMs: result.start_ms, endMs: result.end_ms, interim, endsUtterance };
}

function ordered(part: Map<number, TranscriptionResult>): TranscriptionResult[] {
  return [...part.values()].sort((a, b) => a.segment - b.segment);
}
