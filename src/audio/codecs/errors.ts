// The one error a stream decoder throws for input it cannot decode; the decoder's state is unchanged when it does.

/**
 * Bytes that do not decode in the stream's format (or a continuation that is not one). The message says what was
 * expected and where ("expected an Ogg page (OggS) at byte 4096 of the stream"), never the audio bytes themselves.
 * The integration maps it to AUDIO_DECODE_FAILED: the chunk is refused, the session and decoder go on.
 */
export class AudioDecodeError extends Error {
  override readonly name = 'AudioDecodeError';
  constructor(message: string) {
    super(message);
  }
}
