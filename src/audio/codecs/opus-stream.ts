// Opus packets → mono 16-bit PCM at the working rate: libopus (wasm) at 48 kHz, pre-skip, then the stream resampler.
import { OpusDecoder } from 'opus-decoder';
import { opusPacketSamples } from './opus-packet.js';
import { type ResamplerState, StreamResampler } from './stream-resampler.js';

export const OPUS_RATE = 48000;

/**
 * Packets a restored libopus decodes before going on. RFC 7845 §4.6 asks for at least 80 ms; measured on ffmpeg's
 * CELT stream, 80 ms left the output 5 dB from the uninterrupted decode and 160 ms ≈ 50 dB, so 160 ms it is
 * (about 0.5–1.3 KB at 24–64 kbit/s), capped in packets and bytes to keep the continuation bounded.
 */
const PREROLL_SAMPLES_48K = 7680;
export const PREROLL_MAX_PACKETS = 64;
export const PREROLL_MAX_BYTES = 16 * 1024;

export interface OpusStreamState {
  /** Decoded samples (48 kHz) still to drop from the start of the stream: OpusHead's pre-skip. */
  preSkipLeft: number;
  resampler: ResamplerState;
  /** The last ≥ 80 ms of packets: a restored libopus decodes them (output dropped) to rebuild its history. */
  preroll: Uint8Array[];
}

/**
 * One decoder per stream, created mono: libopus mixes a stereo stream down itself (RFC 7845 §5.1.1.5 allows
 * decoding any family-0 stream to mono), so the channel count need not be known before the header arrives.
 */
export class OpusStream {
  private constructor(
    private readonly decoder: OpusDecoder<undefined>,
    private readonly resampler: StreamResampler,
    private preSkipLeft: number,
    private preroll: Uint8Array[],
  ) {}

  static async open(workingRate: number, state?: OpusStreamState): Promise<OpusStream> {
    const decoder = new OpusDecoder({ channels: 1, streamCount: 1, coupledStreamCount: 0, channelMappingTable: [0] });
    await decoder.ready;
    const preroll = state?.preroll ?? [];
    for (const packet of preroll) decoder.decodeFrame(packet); // rebuilds libopus's history; output dropped
    return new OpusStream(decoder, new StreamResampler(OPUS_RATE, workingRate, state?.resampler), state?.preSkipLeft ?? 0, preroll);
  }

  /** Sets the pre-skip when a stream header arrives (a chained Ogg stream sets it again). */
  startStream(preSkip: number): void {
    this.preSkipLeft = preSkip;
  }

  /** Packets already checked by opusPacketSamples; a packet libopus still rejects decodes to nothing. */
  decode(packets: readonly Uint8Array[]): Int16Array {
    const parts: Int16Array[] = [];
    let total = 0;
    for (const packet of packets) {
      if (packet.length === 0) continue;
      this.remember(packet);
      const { channelData, samplesDecoded } = this.decoder.decodeFrame(packet);
      let from = 0;
      if (this.preSkipLeft > 0) {
        from = Math.min(this.preSkipLeft, samplesDecoded);
        this.preSkipLeft -= from;
      }
      if (samplesDecoded <= from) continue;
      const pcm = toInt16(channelData[0]!, from, samplesDecoded);
      parts.push(pcm);
      total += pcm.length;
    }
    return this.resampler.push(concat(parts, total));
  }

  flush(): Int16Array {
    return this.resampler.flush();
  }

  snapshot(): OpusStreamState {
    return { preSkipLeft: this.preSkipLeft, resampler: this.resampler.snapshot(), preroll: this.preroll.slice() };
  }

  /** Keeps the newest packets covering PREROLL_SAMPLES_48K (a new array: snapshots share the packets, not the list). */
  private remember(packet: Uint8Array): void {
    const kept = [packet];
    let covered = opusPacketSamples(packet, '');
    let bytes = packet.length;
    for (let i = this.preroll.length - 1; i >= 0 && covered < PREROLL_SAMPLES_48K && kept.length < PREROLL_MAX_PACKETS; i--) {
      const older = this.preroll[i]!;
      if (bytes + older.length > PREROLL_MAX_BYTES) break;
      kept.unshift(older);
      covered += opusPacketSamples(older, '');
      bytes += older.length;
    }
    this.preroll = kept;
  }

  close(): void {
    this.decoder.free();
  }
}

/** libopus's own float→int16 rule (FLOAT2INT16): scale by 32768, round, saturate. */
function toInt16(samples: Float32Array, from: number, to: number): Int16Array {
  const out = new Int16Array(to - from);
  for (let i = from; i < to; i++) {
    const v = Math.round(samples[i]! * 32768);
    out[i - from] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
  return out;
}

export function concat(parts: readonly Int16Array[], total: number): Int16Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Int16Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
