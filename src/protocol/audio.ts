// The wire's audio contract: the one format and the accepted rates. Byte/time conversions live in src/audio/pcm.ts
// and are re-exported here so protocol users need one import.

export { BYTES_PER_SAMPLE, bytesToMs, DEFAULT_SAMPLE_RATE, msToBytes } from '../audio/pcm.js';

export const AUDIO_FORMAT = 'pcm_s16le' as const;
/**
 * Every start_session.format (docs/protocol.md): raw 16-bit PCM, G.711 at the session's rate, and Opus in Ogg or WebM
 * (decoded and resampled to the session's rate). The same list as src/audio/codecs' STREAM_FORMATS, kept here so the
 * protocol (and the browser bundle) does not load the decoders.
 */
export const AUDIO_FORMATS = ['pcm_s16le', 'mulaw', 'alaw', 'ogg_opus', 'webm_opus'] as const;
export type AudioFormat = (typeof AUDIO_FORMATS)[number];
/** Opus in a container: the stream carries its own rate; sample_rate is the rate the server decodes to. */
export const CONTAINER_FORMATS: readonly AudioFormat[] = ['ogg_opus', 'webm_opus'];

export function isAudioFormat(value: unknown): value is AudioFormat {
  return typeof value === 'string' && (AUDIO_FORMATS as readonly string[]).includes(value);
}
export const MIN_SAMPLE_RATE = 8000;
export const MAX_SAMPLE_RATE = 48000;
