// Levels of 16-bit PCM: energy voice-activity detection (frames against a speech threshold in dBFS) and the page's
// input meter; browser-safe (typed arrays only). The VAD runs on every byte of every session, so frames are compared
// in the linear domain (mean square against the threshold's mean square): no logarithm or root per frame.

/** Frames louder than this (RMS, dBFS) count as speech unless VAD_SPEECH_DBFS says otherwise. */
export const DEFAULT_SPEECH_DBFS = -45;

/** Frame length for level measurement; 10 ms is the usual VAD granularity. */
export const VAD_FRAME_MS = 10;

const FULL_SCALE = 32768;

/** Little-endian 16-bit samples of `pcm` without a copy when the bytes are aligned (they usually are). */
function samplesOf(pcm: Uint8Array): Int16Array | DataView {
  return pcm.byteOffset % 2 === 0
    ? new Int16Array(pcm.buffer, pcm.byteOffset, pcm.byteLength >> 1)
    : new DataView(pcm.buffer, pcm.byteOffset, pcm.byteLength);
}

/** Sum of squared samples in [from, to) (sample indices). */
function sumOfSquares(samples: Int16Array | DataView, from: number, to: number): number {
  let sum = 0;
  if (samples instanceof Int16Array) {
    for (let i = from; i < to; i++) sum += samples[i]! * samples[i]!;
  } else {
    for (let i = from; i < to; i++) {
      const sample = samples.getInt16(i * 2, true);
      sum += sample * sample;
    }
  }
  return sum;
}

/** The mean square a frame must reach to be speech at `speechDbfs`. */
function speechMeanSquare(speechDbfs: number): number {
  const amplitude = FULL_SCALE * 10 ** (speechDbfs / 20);
  return amplitude * amplitude;
}

/** Calls `onFrame(isSpeech, frameBytes)` for each VAD frame of `pcm` (the last may be short); stops when it returns true. */
export function forEachFrame(
  pcm: Uint8Array,
  sampleRate: number,
  speechDbfs: number,
  onFrame: (isSpeech: boolean, frameBytes: number) => boolean | void,
): void {
  const frameSamples = Math.max(1, Math.round((sampleRate * VAD_FRAME_MS) / 1000));
  const threshold = speechMeanSquare(speechDbfs);
  const samples = samplesOf(pcm);
  const total = pcm.length >> 1;
  for (let from = 0; from * 2 < pcm.length; from += frameSamples) {
    const to = Math.min(total, from + frameSamples);
    const count = to - from;
    const isSpeech = count > 0 && sumOfSquares(samples, from, to) >= threshold * count;
    const frameBytes = Math.min(pcm.length, (from + frameSamples) * 2) - from * 2;
    if (onFrame(isSpeech, frameBytes) === true) return;
  }
}

/** Speech frames a segment needs before it counts as speech, so a lone click does not. */
const MIN_SPEECH_FRAMES = 3;

/**
 * Byte offset in `pcm` of its first speech frame when it holds speech (MIN_SPEECH_FRAMES of them), else undefined.
 * Speech is usually found in the first frames: the rest of the segment is not read.
 */
export function speechStart(pcm: Uint8Array, sampleRate: number, speechDbfs: number): number | undefined {
  let at = 0;
  let first: number | undefined;
  let speechFrames = 0;
  forEachFrame(pcm, sampleRate, speechDbfs, (isSpeech, frameBytes) => {
    if (isSpeech) {
      first ??= at;
      speechFrames += 1;
    }
    at += frameBytes;
    return speechFrames >= MIN_SPEECH_FRAMES;
  });
  return speechFrames >= MIN_SPEECH_FRAMES ? first : undefined;
}

/** True when `pcm` holds speech: silent segments are never sent to an engine (no text made up from silence). */
export function hasSpeech(pcm: Uint8Array, sampleRate: number, speechDbfs: number): boolean {
  return speechStart(pcm, sampleRate, speechDbfs) !== undefined;
}

/** Root-mean-square level of `samples` in dBFS (−Infinity for digital silence or no samples), for the page's input meter. */
export function levelDbfs(samples: Int16Array): number {
  if (samples.length === 0) return -Infinity;
  const rms = Math.sqrt(sumOfSquares(samples, 0, samples.length) / samples.length) / FULL_SCALE;
  return rms === 0 ? -Infinity : 20 * Math.log10(rms);
}

/** Byte offsets in `pcm` of the first speech frame's start and the last one's end; undefined when none is speech. */
export function speechBounds(pcm: Uint8Array, sampleRate: number, speechDbfs: number): { from: number; to: number } | undefined {
  let at = 0;
  let from: number | undefined;
  let to = 0;
  forEachFrame(pcm, sampleRate, speechDbfs, (isSpeech, frameBytes) => {
    if (isSpeech) {
      from ??= at;
      to = at + frameBytes;
    }
    at += frameBytes;
  });
  return from === undefined ? undefined : { from, to };
}
