// The page's transcript model: each segment shown once, replays ignored, and the server's final text as the authority.
import { describe, expect, it } from 'vitest';
import type { TranscriptionResult } from '../../src/protocol/index.js';
import { Transcript } from '../../src/web/transcript.js';

function result(segment: number, text: string, replayed = false): TranscriptionResult {
  return { session_id: 's', segment, text, is_final: true, start_ms: segment * 1000, end_ms: (segment + 1) * 1000, latency_ms: 5, ...(replayed ? { replayed: true as const } : {}) };
}

describe('Transcript', () => {
  it('keeps the first copy of each segment: replays after a resume add nothing', () => {
    const transcript = new Transcript();
    expect(transcript.add(result(0, 'hello'))).toBe(true);
    expect(transcript.add(result(1, 'world'))).toBe(true);
    expect(transcript.add(result(0, 'hello', true))).toBe(false);
    expect(transcript.add(result(1, 'world', true))).toBe(false);
    expect(transcript.add(result(2, 'again'))).toBe(true);
    expect(transcript.text).toBe('hello world again');
    expect(transcript.lines.map((line) => [line.startMs, line.endMs])).toEqual([[0, 1000], [1000, 2000], [2000, 3000]]);
  });

  it('orders segments by number whatever order they arrive in', () => {
    const transcript = new Transcript();
    transcript.add(result(1, 'second'));
    transcript.add(result(0, 'first'));
    expect(transcript.text).toBe('first second');
  });

  it('starts a new part when the server lost the session, so its segment 0 does not replace the earlier one', () => {
    const transcript = new Transcript();
    transcript.add(result(0, 'before'));
    transcript.beginServerSession();
    transcript.add(result(0, 'after'));
    expect(transcript.text).toBe('before after');
    expect(new Set(transcript.lines.map((line) => line.key)).size).toBe(2);
  });

  it('keeps the segments when the final text agrees, and shows the final text when it does not', () => {
    const agreeing = new Transcript();
    agreeing.add(result(0, 'hello'));
    agreeing.add(result(1, 'world'));
    agreeing.finish({ session_id: 's', text: 'hello world', segments: 2, duration_ms: 2000 });
    expect(agreeing.lines).toHaveLength(2);

    const missing = new Transcript();
    missing.add(result(0, 'hello'));
    missing.finish({ session_id: 's', text: 'hello world', segments: 2, duration_ms: 2000 });
    expect(missing.text).toBe('hello world');
    expect(missing.lines).toHaveLength(1);
  });

  it('shows the segment in progress as its latest interim, replaced in place (same key) by the final', () => {
    const transcript = new Transcript();
    transcript.add(result(0, 'hello'));
    expect(transcript.setInterim({ ...result(1, 'wor'), is_final: false })).toBe(true);
    expect(transcript.setInterim({ ...result(1, 'world so'), is_final: false })).toBe(true);
    expect(transcript.lines.map((line) => [line.key, line.text, line.interim])).toEqual([
      ['0:0', 'hello', false],
      ['0:1', 'world so', true],
    ]);
    // Interim guesses are not the transcript.
    expect(transcript.text).toBe('hello');

    transcript.add(result(1, 'world so far'));
    expect(transcript.lines.map((line) => [line.key, line.text, line.interim])).toEqual([
      ['0:0', 'hello', false],
      ['0:1', 'world so far', false],
    ]);
    // An interim of a segment whose final is shown is refused.
    expect(transcript.setInterim({ ...result(1, 'late'), is_final: false })).toBe(false);
    expect(transcript.setInterim({ ...result(0, 'later'), is_final: false })).toBe(false);
    expect(transcript.text).toBe('hello world so far');
  });

  it('drops the interim at Stop and when the server starts a fresh session', () => {
    const transcript = new Transcript();
    transcript.setInterim({ ...result(0, 'guess'), is_final: false });
    transcript.beginServerSession();
    expect(transcript.lines).toEqual([]);
    transcript.setInterim({ ...result(0, 'guess again'), is_final: false });
    transcript.finish({ session_id: 's', text: '', segments: 0, duration_ms: 500 });
    expect(transcript.lines).toEqual([]);
  });

  it('clears everything for a new recording', () => {
    const transcript = new Transcript();
    transcript.add(result(0, 'old'));
    transcript.clear();
    expect(transcript.add(result(0, 'new'))).toBe(true);
    expect(transcript.text).toBe('new');
  });
});

describe('Transcript: where the speaker stopped', () => {
  it('marks the line within which an utterance ended, once, and only in its own server session', () => {
    const transcript = new Transcript();
    transcript.add(result(0, 'hello'));
    transcript.add(result(1, 'world'));
    expect(transcript.endUtterance(1400)).toBe(true);
    expect(transcript.endUtterance(1400)).toBe(false);
    expect(transcript.lines.map((line) => line.endsUtterance)).toEqual([false, true]);
    // A fresh server session's times start again at 0: an earlier part's end does not mark its lines.
    transcript.beginServerSession();
    transcript.add(result(1, 'again'));
    expect(transcript.lines.map((line) => [line.part, line.endsUtterance])).toEqual([[0, false], [0, true], [1, false]]);
    transcript.clear();
    transcript.add(result(1, 'world'));
    expect(transcript.lines[0]!.endsUtterance).toBe(false);
  });
});
