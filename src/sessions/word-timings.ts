// Word timings of a final in session time: the engine's own, moved by the segment's start, or, when the engine gives
// none (gpt-4o-transcribe), spread over the segment's speech in proportion to each word's length.
import type { EngineWord } from '../engines/engine.js';
import type { WordTiming } from '../protocol/index.js';

const round = (ms: number) => Math.round(ms * 1000) / 1000;

/** The engine's words in session time, kept inside [segmentStartMs, segmentEndMs] and in order. */
export function sessionWords(words: readonly EngineWord[], segmentStartMs: number, segmentEndMs: number): WordTiming[] {
  const out: WordTiming[] = [];
  let floor = segmentStartMs;
  for (const w of words) {
    const start = Math.min(segmentEndMs, Math.max(floor, segmentStartMs + w.startMs));
    const end = Math.min(segmentEndMs, Math.max(start, segmentStartMs + w.endMs));
    const timing: WordTiming = { word: w.word, start_ms: round(start), end_ms: round(end) };
    if (w.confidence !== undefined) timing.confidence = w.confidence;
    out.push(timing);
    floor = start;
  }
  return out;
}

/** `text`'s words spread over [fromMs, toMs] by character count (an estimate: say so with words_interpolated). */
export function interpolateWords(text: string, fromMs: number, toMs: number): WordTiming[] {
  const words = text.split(/\s+/).filter(Boolean);
  const total = words.reduce((sum, w) => sum + w.length, 0);
  if (total === 0) return [];
  const span = Math.max(0, toMs - fromMs);
  const out: WordTiming[] = [];
  let chars = 0;
  for (const word of words) {
    const start = fromMs + (span * chars) / total;
    chars += word.length;
    out.push({ word, start_ms: round(start), end_ms: round(fromMs + (span * chars) / total) });
  }
  return out;
}
