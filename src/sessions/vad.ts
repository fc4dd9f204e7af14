// Energy voice-activity detection on 16-bit PCM: frame levels in dBFS against a fixed speech threshold.

/** Frame length for level measurement; 10 ms is the usual VAD granularity. */
export const VAD_FRAME_MS = 10;

/** RMS level of little-endian 16-bit samples in pcm[start, end) (byte offsets), in dBFS. */
export function levelDbfs(pcm: Uint8Array, start = 0, end = pcm.length): number {
  const view = new DataView(pcm.buffer, pcm.byteOffset, pcm.byteLength);
  let sum = 0;
  let count = 0;
  for (let i = start; i + 1 < end; i += 2) {
    const sample = view.getInt16(i, true);
    sum += sample * sample;
    count += 1;
  }
  if (count === 0 || sum === 0) return -Infinity;
  return 20 * Math.log10(Math.sqrt(sum / count) / 32768);
}

/** Calls `onFrame(isSpeech, frameBytes)` for each VAD frame of `pcm` (the last may be short). */
export function forEachFrame(
  pcm: Uint8Array,
  sampleRate: number,
  speechDbfs: number,
  onFrame: (isSpeech: boolean, frameBytes: number) => void,
): void {
  const frameBytes = Math.max(2, Math.round((sampleRate * VAD_FRAME_MS) / 1000) * 2);
  for (let start = 0; start < pcm.length; start += frameBytes) {
    const end = Math.min(pcm.length, start + frameBytes);
    onFrame(levelDbfs(pcm, start, end) >= speechDbfs, end - start);
  }
}

/** Speech frames a segment needs before it counts as speech, so a lone click does not. */
const MIN_SPEECH_FRAMES = 3;

/** True when `pcm` holds speech: silent segments are never sent to an engine (no text made up from silence). */
export function hasSpeech(pcm: Uint8Array, sampleRate: number, speechDbfs: number): boolean {
  let speechFrames = 0;
  forEachFrame(pcm, sampleRate, speechDbfs, (isSpeech) => {
    if (isSpeech) speechFrames += 1;
  });
  return speechFrames >= MIN_SPEECH_FRAMES;
}
