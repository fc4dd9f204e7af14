// Facts of mono 16-bit PCM, the one sample format everywhere: bytes per sample, the default rate, byte↔time conversions.

export const BYTES_PER_SAMPLE = 2;
/** The rate a session gets when it names none, the page sends and the engines want (no second resampling). */
export const DEFAULT_SAMPLE_RATE = 16000;

/** Milliseconds of mono 16-bit audio in `bytes` bytes at `sampleRate` (exact, may be fractional). */
export function bytesToMs(bytes: number, sampleRate: number): number {
  return (bytes / BYTES_PER_SAMPLE / sampleRate) * 1000;
}

/** Whole bytes (sample-aligned) of mono 16-bit audio in `ms` milliseconds. */
export function msToBytes(ms: number, sampleRate: number): number {
  return Math.round((ms * sampleRate) / 1000) * BYTES_PER_SAMPLE;
}

/** Throws a RangeError unless `bytes` is a whole, non-negative number of 16-bit samples. */
export function assertWholeSamples(bytes: number): void {
  if (!Number.isInteger(bytes) || bytes < 0 || bytes % BYTES_PER_SAMPLE !== 0) {
    throw new RangeError(`PCM byte length ${bytes} is not a whole number of 16-bit samples`);
  }
}

/** Throws a RangeError unless `sampleRate` is a positive whole number of Hz. */
export function assertSampleRate(sampleRate: number): void {
  if (!Number.isInteger(sampleRate) || sampleRate <= 0) throw new RangeError(`invalid sample rate ${sampleRate}`);
}
