// A decoded session's stream decoder in this process (mulaw, alaw, ogg_opus, webm_opus). Chunks decode one at a time
// in seq order; the decoder state is written with each append (src/store: DecoderWrite), and whenever a decoded chunk
// was not appended (refused, store failure) the state here is dropped and rebuilt from the store's copy, so it never
// runs ahead of the audio the store holds. Rebuilding is also how a session resumed on another process goes on.
import { createStreamDecoder, restoreStreamDecoder, type StreamDecoder } from '../audio/codecs/index.js';
import type { AudioFormat } from '../protocol/index.js';
import type { StoredDecoder } from '../store/buffer-store.js';

/** pcm_s16le is stored as it comes: no decoder, no state, the chunk path as before. */
export function needsDecoder(format: AudioFormat): boolean {
  return format !== 'pcm_s16le';
}

export class SessionDecoder {
  private decoder: StreamDecoder | undefined;
  private seq = 0;
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    readonly format: AudioFormat,
    private readonly sampleRate: number,
    /** The store's copy of the state (see StoredDecoder). */
    private readonly load: () => Promise<StoredDecoder | undefined>,
  ) {}

  /** Runs `work` after every earlier call has settled: one chunk decodes and appends at a time. */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.tail.then(work, work);
    this.tail = run.catch(() => {});
    return run;
  }

  /** The seq the decoder continues at, (re)building it from the store when it has no state here. */
  async ready(): Promise<number> {
    if (this.decoder) return this.seq;
    if (this.closed) throw new Error('session decoder closed');
    const stored = await this.load();
    const options = { sampleRate: this.sampleRate };
    const decoder = stored?.continuation
      ? await restoreStreamDecoder(this.format, options, stored.continuation)
      : await createStreamDecoder(this.format, options);
    if (this.closed) {
      decoder.close();
      throw new Error('session decoder closed');
    }
    this.decoder = decoder;
    this.seq = stored?.nextSeq ?? 0;
    return this.seq;
  }

  /** PCM at the session's rate; AudioDecodeError leaves the state unchanged. Call ready() first. */
  decode(chunk: Uint8Array): Buffer {
    return this.current().decode(chunk);
  }

  /** The resampler's last samples (end of stream). */
  flush(): Buffer {
    return this.current().flush();
  }

  /** What the store keeps with the append of the chunk just decoded. */
  continuation(): Uint8Array {
    return this.current().continuation();
  }

  /** The chunk just decoded was appended: the state here is the store's again. */
  appended(): void {
    this.seq += 1;
  }

  /** The chunk just decoded was not appended: forget the state; the next chunk rebuilds it from the store. */
  discard(): void {
    this.decoder?.close();
    this.decoder = undefined;
  }

  /** Frees the decoder (wasm memory); the store keeps its state for a resume. Idempotent. */
  close(): void {
    this.closed = true;
    this.discard();
  }

  private current(): StreamDecoder {
    if (!this.decoder) throw new Error('session decoder not ready');
    return this.decoder;
  }
}
