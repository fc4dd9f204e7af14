// Whisper's verbose_json answer read into a result, with the parts Whisper itself marks as not speech dropped: its
// best-known failure is text invented on noise ("Thank you for watching.") or a phrase repeated in a loop. The rules
// are Whisper's own decoding thresholds (openai/whisper transcribe.py: no_speech_threshold 0.6 with logprob_threshold
// -1, compression_ratio_threshold 2.4), applied per segment of the answer.
import type { DropReason, EngineResult, EngineWord } from './engine.js';
import { languageCode } from './languages.js';

export const GATE_THRESHOLDS = {
  /** Above this no_speech_prob, with avg_logprob below AVG_LOGPROB, the segment is silence or noise. */
  noSpeechProb: 0.6,
  avgLogprob: -1,
  /** Above this gzip compression ratio the text repeats itself (a decoding loop). */
  compressionRatio: 2.4,
} as const;

export interface VerboseSegment {
  start: number;
  end: number;
  text: string;
  no_speech_prob?: number;
  avg_logprob?: number;
  compression_ratio?: number;
}

export interface VerboseWord {
  word: string;
  start: number;
  end: number;
}

export interface VerboseTranscription {
  text: string;
  language?: string;
  segments?: VerboseSegment[];
  words?: VerboseWord[];
}

/** Why Whisper's own figures say a segment is not speech; undefined when it is kept. */
export function dropReason(segment: VerboseSegment): DropReason | undefined {
  const { noSpeechProb, avgLogprob, compressionRatio } = GATE_THRESHOLDS;
  if (typeof segment.compression_ratio === 'number' && segment.compression_ratio > compressionRatio) return 'repetition';
  if (typeof segment.no_speech_prob === 'number' && segment.no_speech_prob > noSpeechProb && typeof segment.avg_logprob === 'number' && segment.avg_logprob < avgLogprob) {
    return 'no_speech';
  }
  return undefined;
}

/** The result a verbose_json answer gives once its non-speech segments are dropped (their words with them). */
export function gateVerbose(answer: VerboseTranscription): EngineResult {
  const segments = Array.isArray(answer.segments) ? answer.segments : undefined;
  const dropped: DropReason[] = [];
  const droppedSpans: Array<[number, number]> = [];
  const kept: VerboseSegment[] = [];
  for (const segment of segments ?? []) {
    const reason = dropReason(segment);
    if (reason) {
      dropped.push(reason);
      droppedSpans.push([segment.start, segment.end]);
    } else kept.push(segment);
  }
  // Nothing dropped: the answer's own text, exactly (segment texts joined may differ in spacing).
  const text = dropped.length === 0 ? answer.text.trim() : kept.map((s) => s.text.trim()).filter(Boolean).join(' ');
  const result: EngineResult = { text };
  if (Array.isArray(answer.words)) {
    const inDropped = (word: VerboseWord) => {
      const middle = (word.start + word.end) / 2;
      return droppedSpans.some(([from, to]) => middle >= from && middle <= to);
    };
    result.words = answer.words.filter((w) => !inDropped(w) && w.word.trim() !== '').map(toEngineWord);
  }
  const language = answer.language ? languageCode(answer.language) : undefined;
  if (language && text) result.language = language;
  if (dropped.length > 0) result.dropped = dropped;
  return result;
}

function toEngineWord(word: VerboseWord): EngineWord {
  return { word: word.word.trim(), startMs: Math.round(word.start * 1000), endMs: Math.round(word.end * 1000) };
}
