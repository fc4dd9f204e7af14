// Streaming audio decoders: each session format's bytes → mono 16-bit PCM (s16le) at the session's working rate.
//
// API (phase 1; the socket/session integration builds on it):
//   const d = await createStreamDecoder(format, { sampleRate, inputRate? });
//   const pcm: Buffer = d.decode(chunk);     // transactional: all of the chunk is consumed, or AudioDecodeError and
//                                            // nothing changed (refuse the chunk with AUDIO_DECODE_FAILED, keep going)
//   const state: Uint8Array = d.continuation(); // store with the append (same fenced write), ≤ MAX_CONTINUATION_BYTES
//   const d2 = await restoreStreamDecoder(format, options, state); // another process: continues at the next byte
//   d.flush(); d.close();                    // at end_session: the resampler's last ≈ 0.2 ms; free the wasm memory
//
// Integration: create the decoder at start_session (format validated with isStreamFormat); in audio_chunk, decode
//   right after validation and before the append, append the PCM and continuation() in the same fenced write; on
//   AudioDecodeError answer AUDIO_DECODE_FAILED (not retryable for that chunk) and append nothing. On resume, restore
//   from the stored continuation (a duplicate seq is dropped before decode, as today). Errors surface in the chunk that
//   completes a broken page/element: bytes inside an incomplete one cannot be judged earlier.
// Rates: the store keeps PCM at the session's own sample_rate (bytesToMs, the segmenter and the engines all read
// settings.sample_rate), so `sampleRate` is that rate and every decoder outputs it:
//   - pcm_s16le, mulaw, alaw: the input is at `inputRate` (default: sampleRate, i.e. protocol's "G.711 at the
//     session's sample_rate, usually 8000": stored as 8 kHz PCM, no resampling); a different inputRate is resampled.
//   - ogg_opus, webm_opus: libopus decodes at 48 kHz and src/audio/resample.ts takes it to sampleRate once
//     (DEFAULT_SAMPLE_RATE, 16000, is what the engines want). `inputRate` is ignored: the stream carries its rate.
//   Resampling is streamed (StreamResampler): output is the same however the stream is cut into chunks.
// Channels: mono and stereo Opus are mixed down to mono (by libopus); more than two channels (mapping family ≥ 1)
//   is refused with AudioDecodeError. PCM and G.711 are mono (the session's channels: 1).
// Containers: one Ogg Opus logical stream (other streams' pages skipped, chained streams followed); one WebM Opus
//   track (other tracks' blocks skipped). Timestamps and granule positions are not used: packets are decoded back
//   to back, and the end trimming of the last Ogg page is not applied (≤ one packet of padding at the end).
// Continuation: format, counters, the bytes not yet consumed (a partial Ogg page < 65,307 B plus a partial packet
//   ≤ 3,840 B; a partial WebM element ≤ 64 KiB + 12 B), the resampler's few held samples, the pre-skip still to drop,
//   and the last 160 ms of Opus packets (≤ 16 KiB). The container headers are kept parsed (Opus track number, pre-skip), not as
//   bytes. libopus's internal state cannot be serialised: a restored decoder is a fresh libopus that first decodes
//   those packets (output dropped: RFC 7845's pre-roll, doubled) and then continues at the next byte, so the audio
//   after a move is close to, not bit-identical with, an uninterrupted decode (≈ 45–80 dB SNR, measured in the tests).
//   MAX_CONTINUATION_BYTES bounds it (≈ 93 KiB worst case; typically 0.5–3 KB).
// Bounds: an Ogg page is at most 65,307 B by construction; a WebM element declared above 64 KiB (buffered) or 1 MiB
//   (skipped) is an error, never an allocation; an Opus packet above 3,840 B is an error.
import { StreamResampler, type ResamplerState } from './stream-resampler.js';
import { AudioDecodeError } from './errors.js';
import { ALAW_TABLE, decodeG711, MULAW_TABLE } from './g711.js';
import { decodeContinuation, encodeContinuation } from './continuation.js';
import type { Demuxer } from './demux.js';
import { MAX_OGG_PAGE_BYTES, oggDemuxer } from './ogg.js';
import { MAX_WEBM_BUFFERED_ELEMENT, webmDemuxer } from './webm.js';
import { MAX_OPUS_PACKET_BYTES, opusPacketSamples } from './opus-packet.js';
import { concat, OpusStream, PREROLL_MAX_BYTES, PREROLL_MAX_PACKETS } from './opus-stream.js';

export { AudioDecodeError } from './errors.js';

export const STREAM_FORMATS = ['pcm_s16le', 'mulaw', 'alaw', 'ogg_opus', 'webm_opus'] as const;
export type StreamFormat = (typeof STREAM_FORMATS)[number];

export function isStreamFormat(value: unknown): value is StreamFormat {
  return typeof value === 'string' && (STREAM_FORMATS as readonly string[]).includes(value);
}

export interface StreamDecoderOptions {
  /** The session's working rate: the rate of the PCM `decode` returns. */
  sampleRate: number;
  /** pcm_s16le / mulaw / alaw only: the rate the client sends at (default: sampleRate). */
  inputRate?: number;
}

export interface StreamDecoder {
  readonly format: StreamFormat;
  readonly sampleRate: number;
  /** Mono s16le PCM at sampleRate for the chunk (may be empty); throws AudioDecodeError and changes nothing. */
  decode(chunk: Uint8Array): Buffer;
  /** The last samples the resampler holds back (end of stream); the decoder can still be closed after. */
  flush(): Buffer;
  /** Everything a decoder on another process needs to go on from the next byte; ≤ MAX_CONTINUATION_BYTES. */
  continuation(): Uint8Array;
  /** Input bytes received but not decoded yet (a partial page, element or sample). */
  readonly pendingBytes: number;
  /** Frees the wasm decoder; the object is unusable afterwards. Idempotent. */
  close(): void;
}

/**
 * Upper bound of continuation().length for every format: the larger container remainder (Ogg: a partial page and a
 * partial packet; WebM: a partial element), the Opus pre-roll (160 ms, ≤ 16 KiB), the resampler's held samples
 * and the JSON counters. Typical: 0.5–3 KB for Opus at 24 kbit/s, under 100 B for PCM and G.711.
 */
export const MAX_CONTINUATION_BYTES =
  Math.max(MAX_OGG_PAGE_BYTES + MAX_OPUS_PACKET_BYTES, 12 + MAX_WEBM_BUFFERED_ELEMENT) + PREROLL_MAX_BYTES + 2 * PREROLL_MAX_PACKETS + 4096 + 4096 + 64;

export async function createStreamDecoder(format: StreamFormat, options: StreamDecoderOptions): Promise<StreamDecoder> {
  return open(format, options, null);
}

/** A decoder continuing the stream a continuation() was taken from; AudioDecodeError if it is not a valid one. */
export async function restoreStreamDecoder(format: StreamFormat, options: StreamDecoderOptions, continuation: Uint8Array): Promise<StreamDecoder> {
  const { meta, blobs } = decodeContinuation(continuation, STREAM_FORMATS.indexOf(format));
  return open(format, options, { meta, blobs });
}

type Snapshot = { meta: Record<string, unknown>; blobs: Uint8Array[] };

async function open(format: StreamFormat, options: StreamDecoderOptions, snap: Snapshot | null): Promise<StreamDecoder> {
  checkRate(options.sampleRate, 'sampleRate');
  if (options.inputRate !== undefined) checkRate(options.inputRate, 'inputRate');
  if (!isStreamFormat(format)) throw new RangeError(`unknown audio format ${String(format)}`);
  const formatIndex = STREAM_FORMATS.indexOf(format);
  // The resampler state travels as meta counters + the first blob.
  let resamplerState: ResamplerState | undefined;
  let rest: Snapshot | null = null;
  if (snap) {
    try {
      const r = snap.meta.resampler as Record<string, unknown> | undefined;
      const held = snap.blobs[0];
      if (typeof r !== 'object' || r === null || !held || held.length % 2 !== 0 || held.length > 4096) throw new Error('resampler');
      resamplerState = {
        held: new Int16Array(held.buffer.slice(held.byteOffset, held.byteOffset + held.length)),
        start: count(r.start),
        nextOut: count(r.nextOut),
        totalIn: count(r.totalIn),
      };
      rest = { meta: snap.meta, blobs: snap.blobs.slice(1) };
    } catch (err) {
      throw err instanceof AudioDecodeError ? err : new AudioDecodeError(`invalid decoder continuation: ${(err as Error).message}`);
    }
  }
  const snapshot = (meta: Record<string, unknown>, blobs: Uint8Array[], r: ResamplerState): Uint8Array =>
    encodeContinuation(formatIndex, { ...meta, resampler: { start: r.start, nextOut: r.nextOut, totalIn: r.totalIn } }, [
      new Uint8Array(r.held.buffer, r.held.byteOffset, r.held.byteLength),
      ...blobs,
    ]);

  if (format === 'ogg_opus' || format === 'webm_opus') {
    const demuxer = (format === 'ogg_opus' ? oggDemuxer : webmDemuxer) as Demuxer<unknown>;
    let state: unknown;
    let preSkipLeft = 0;
    let preroll: Uint8Array[] = [];
    if (rest) {
      try {
        const [packed, ...blobs] = rest.blobs;
        if (!packed) throw new Error('preroll');
        preroll = unpackPackets(packed);
        state = demuxer.fromSnapshot(rest.meta, blobs);
        preSkipLeft = count(rest.meta.preSkipLeft);
      } catch (err) {
        throw new AudioDecodeError(`invalid decoder continuation: ${(err as Error).message}`);
      }
    } else state = demuxer.initial();
    const opus = await OpusStream.open(options.sampleRate, resamplerState && { preSkipLeft, resampler: resamplerState, preroll });
    return new OpusStreamDecoder(format, options.sampleRate, demuxer, state, opus, snapshot);
  }

  const inputRate = options.inputRate ?? options.sampleRate;
  const resampler = new StreamResampler(inputRate, options.sampleRate, resamplerState);
  let odd: Uint8Array = new Uint8Array(0);
  if (rest) {
    odd = rest.blobs[0] ?? new Uint8Array(0);
    if (odd.length > 1 || (format !== 'pcm_s16le' && odd.length > 0)) throw new AudioDecodeError('invalid decoder continuation: pending bytes');
  }
  return new RawStreamDecoder(format, options.sampleRate, resampler, odd, snapshot);
}

type SnapshotFn = (meta: Record<string, unknown>, blobs: Uint8Array[], r: ResamplerState) => Uint8Array;

/** pcm_s16le, mulaw, alaw: every byte decodes, so the only state is a split 16-bit sample and the resampler. */
class RawStreamDecoder implements StreamDecoder {
  constructor(
    readonly format: StreamFormat,
    readonly sampleRate: number,
    private readonly resampler: StreamResampler,
    private odd: Uint8Array,
    private readonly snapshot: SnapshotFn,
  ) {}

  get pendingBytes(): number {
    return this.odd.length;
  }

  decode(chunk: Uint8Array): Buffer {
    let samples: Int16Array;
    if (this.format === 'pcm_s16le') {
      const bytes = this.odd.length > 0 ? Buffer.concat([this.odd, chunk]) : chunk;
      const whole = bytes.length & ~1;
      // A fresh aligned copy: the chunk may sit at an odd offset, and the caller keeps its own buffer.
      samples = new Int16Array(whole / 2);
      new Uint8Array(samples.buffer).set(bytes.subarray(0, whole));
      this.odd = bytes.slice(whole);
    } else {
      samples = decodeG711(chunk, this.format === 'mulaw' ? MULAW_TABLE : ALAW_TABLE);
    }
    return toBuffer(this.resampler.push(samples));
  }

  flush(): Buffer {
    return toBuffer(this.resampler.flush());
  }

  continuation(): Uint8Array {
    return this.snapshot({}, [this.odd], this.resampler.snapshot());
  }

  close(): void {}
}

/** ogg_opus, webm_opus: demux on a copy of the state, then decode the (already checked) packets, then commit. */
class OpusStreamDecoder implements StreamDecoder {
  private closed = false;

  constructor(
    readonly format: StreamFormat,
    readonly sampleRate: number,
    private readonly demuxer: Demuxer<unknown>,
    private state: unknown,
    private readonly opus: OpusStream,
    private readonly snapshot: SnapshotFn,
  ) {}

  get pendingBytes(): number {
    return (this.state as { pending: Uint8Array }).pending.length;
  }

  decode(chunk: Uint8Array): Buffer {
    if (this.closed) throw new Error('decode after close');
    const { state, items } = this.demuxer.push(this.state, chunk);
    const parts: Int16Array[] = [];
    let total = 0;
    let run: Uint8Array[] = [];
    const drain = (): void => {
      if (run.length === 0) return;
      const pcm = this.opus.decode(run);
      parts.push(pcm);
      total += pcm.length;
      run = [];
    };
    for (const item of items) {
      if ('packet' in item) run.push(item.packet);
      else {
        drain();
        this.opus.startStream(item.head.preSkip);
      }
    }
    drain();
    this.state = state;
    return toBuffer(concat(parts, total));
  }

  flush(): Buffer {
    return toBuffer(this.opus.flush());
  }

  continuation(): Uint8Array {
    const { meta, blobs } = this.demuxer.toSnapshot(this.state);
    const { preSkipLeft, resampler, preroll } = this.opus.snapshot();
    return this.snapshot({ ...meta, preSkipLeft }, [packPackets(preroll), ...blobs], resampler);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.opus.close();
  }
}

/** Pre-roll packets as one blob: (u16 LE length, bytes)*; each is ≤ MAX_OPUS_PACKET_BYTES. */
function packPackets(packets: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(packets.reduce((n, p) => n + 2 + p.length, 0));
  let at = 0;
  for (const p of packets) {
    out[at] = p.length & 0xff;
    out[at + 1] = p.length >> 8;
    out.set(p, at + 2);
    at += 2 + p.length;
  }
  return out;
}

function unpackPackets(bytes: Uint8Array): Uint8Array[] {
  const packets: Uint8Array[] = [];
  let at = 0;
  if (bytes.length > PREROLL_MAX_BYTES + 2 * PREROLL_MAX_PACKETS) throw new Error('preroll');
  while (at < bytes.length) {
    if (at + 2 > bytes.length || packets.length >= PREROLL_MAX_PACKETS) throw new Error('preroll');
    const length = bytes[at]! | (bytes[at + 1]! << 8);
    if (length === 0 || length > MAX_OPUS_PACKET_BYTES || at + 2 + length > bytes.length) throw new Error('preroll');
    const packet = bytes.slice(at + 2, at + 2 + length);
    opusPacketSamples(packet, 'in the continuation'); // only checked packets reach libopus
    packets.push(packet);
    at += 2 + length;
  }
  return packets;
}

function toBuffer(samples: Int16Array): Buffer {
  return Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
}

function checkRate(rate: number, name: string): void {
  if (!Number.isInteger(rate) || rate < 1000 || rate > 384000) throw new RangeError(`${name} must be a whole number of Hz, got ${rate}`);
}

function count(v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new AudioDecodeError('invalid decoder continuation: a counter is not a whole number');
  return v;
}
