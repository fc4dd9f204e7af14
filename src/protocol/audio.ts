// Audio format facts shared by server and clients: the one wire format and byte/time conversions.

export const AUDIO_FORMAT = 'pcm_s16le' as const;
export const BYTES_PER_SAMPLE = 2;
export const DEFAULT_SAMPLE_RATE = 16000;
export const MIN_SAMPLE_RATE = 8000;
export const MAX_SAMPLE_RATE = 48000;

/** Milliseconds of mono 16-bit audio in `bytes` bytes at `sampleRate` (exact, may be fractional). */
export function bytesToMs(bytes: number, sampleRate: number): number {
  return (bytes / BYTES_PER_SAMPLE / sampleRate) * 1000;
}

/** Whole bytes (sample-aligned) of mono 16-bit audio in `ms` milliseconds. */
export function msToBytes(ms: number, sampleRate: number): number {
  return Math.round((ms * sampleRate) / 1000) * BYTES_PER_SAMPLE;
}
