// The part of a segment worth decoding: its quiet ends cut back to a short margin before pocketsphinx sees it.
import { forEachFrame } from '../../audio/vad.js';

/**
 * Frames below this level (RMS, dBFS) are quiet here: 10 dB under the server's default speech threshold, so the soft
 * start and end of a word (unvoiced consonants, breath) stay in.
 */
export const TRIM_QUIET_DBFS = -55;
/** Quiet kept on each side of the sound: the decoder's silence model wants some, and word onsets sit in it. */
export const TRIM_MARGIN_MS = 300;

/** Bytes [from, to) of a segment to hand the decoder; the whole segment when it has no sound above TRIM_QUIET_DBFS. */
export interface DecodeSpan {
  from: number;
  to: number;
}

/**
 * Where the sound of `pcm` (mono s16le) starts and ends, widened by TRIM_MARGIN_MS. A segment cut at a pause ends with
 * SILENCE_MS of quiet and the next one starts with the rest of the pause (often a second or more): pocketsphinx spends
 * about a quarter of a speech frame's CPU on each quiet one, and a long quiet lead-in measurably costs words (its
 * per-segment cepstral mean is pulled toward the silence). Quiet inside the span is left alone.
 */
export function decodeSpan(pcm: Buffer, sampleRate: number): DecodeSpan {
  let first = -1;
  let last = -1;
  let at = 0;
  forEachFrame(pcm, sampleRate, TRIM_QUIET_DBFS, (loud, frameBytes) => {
    if (loud) {
      if (first < 0) first = at;
      last = at + frameBytes;
    }
    at += frameBytes;
  });
  if (first < 0) return { from: 0, to: pcm.length };
  const margin = Math.round((sampleRate * TRIM_MARGIN_MS) / 1000) * 2;
  return { from: Math.max(0, first - margin), to: Math.min(pcm.length, last + margin) };
}
