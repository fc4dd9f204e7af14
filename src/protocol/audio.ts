// The wire's audio contract: the one format and the accepted rates. Byte/time conversions live in src/audio/pcm.ts
// and are re-exported here so protocol users need one import.

export { BYTES_PER_SAMPLE, bytesToMs, DEFAULT_SAMPLE_RATE, msToBytes } from '../audio/pcm.js';

export const AUDIO_FORMAT = 'pcm_s16le' as const;
export const MIN_SAMPLE_RATE = 8000;
export const MAX_SAMPLE_RATE = 48000;
