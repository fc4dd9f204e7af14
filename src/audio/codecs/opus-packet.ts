// Opus packet framing (RFC 6716 §3) and the OpusHead header (RFC 7845 §5.1), checked before anything reaches libopus
// so a malformed packet is refused before it changes the decoder's state.
import { AudioDecodeError } from './errors.js';

/** The largest packet the mono wasm decoder accepts (its input buffer: 120 ms at 256 kbit/s). */
export const MAX_OPUS_PACKET_BYTES = 3840;
const MAX_FRAME_BYTES = 1275;
const MAX_PACKET_SAMPLES_48K = 5760; // 120 ms

/** Samples at 48 kHz per frame for each of the 32 TOC configurations. */
function frameSamples48k(config: number): number {
  if (config < 12) return [480, 960, 1920, 2880][config & 3]!; // SILK 10/20/40/60 ms
  if (config < 16) return [480, 960][config & 1]!; // hybrid 10/20 ms
  return [120, 240, 480, 960][config & 3]!; // CELT 2.5/5/10/20 ms
}

/**
 * Samples per channel at 48 kHz that `packet` decodes to, after checking its frame lengths as opus_packet_parse does.
 * `where` names the packet in the error message.
 */
export function opusPacketSamples(packet: Uint8Array, where: string): number {
  const fail = (why: string): never => {
    throw new AudioDecodeError(`expected an Opus packet (RFC 6716) ${where}: ${why}`);
  };
  if (packet.length === 0) return 0; // a lost or DTX packet in the container: nothing to decode
  if (packet.length > MAX_OPUS_PACKET_BYTES) fail(`${packet.length} bytes is more than ${MAX_OPUS_PACKET_BYTES}`);
  const toc = packet[0]!;
  const perFrame = frameSamples48k(toc >> 3);
  const body = packet.length - 1;
  let frames: number;
  switch (toc & 3) {
    case 0:
      frames = 1;
      if (body > MAX_FRAME_BYTES) fail('frame longer than 1275 bytes');
      break;
    case 1:
      frames = 2;
      if (body % 2 !== 0 || body / 2 > MAX_FRAME_BYTES) fail('two equal frames of odd or oversized total length');
      break;
    case 2: {
      frames = 2;
      if (body < 1) fail('missing frame length');
      let first = packet[1]!;
      let used = 1;
      if (first >= 252) {
        if (body < 2) fail('truncated frame length');
        first += 4 * packet[2]!;
        used = 2;
      }
      const rest = body - used - first;
      if (rest < 0 || first > MAX_FRAME_BYTES || rest > MAX_FRAME_BYTES) fail('frame lengths do not fit the packet');
      break;
    }
    default: {
      if (body < 1) fail('missing frame count');
      const countByte = packet[1]!;
      frames = countByte & 0x3f;
      if (frames === 0 || frames * perFrame > MAX_PACKET_SAMPLES_48K) fail(`${frames} frames is not 1 to 120 ms`);
      let at = 2;
      let remaining = body - 1;
      if (countByte & 0x40) {
        // Padding length: each 255 adds 254 bytes and another length byte follows.
        let pad = 255;
        while (pad === 255) {
          if (remaining < 1) fail('truncated padding length');
          pad = packet[at++]!;
          remaining--;
          remaining -= pad === 255 ? 254 : pad;
        }
        if (remaining < 0) fail('padding longer than the packet');
      }
      if (countByte & 0x80) {
        // VBR: frames − 1 coded lengths, the last frame takes the rest.
        for (let f = 0; f < frames - 1; f++) {
          if (remaining < 1) fail('truncated frame length');
          let size = packet[at++]!;
          remaining--;
          if (size >= 252) {
            if (remaining < 1) fail('truncated frame length');
            size += 4 * packet[at++]!;
            remaining--;
          }
          if (size > MAX_FRAME_BYTES) fail('frame longer than 1275 bytes');
          remaining -= size;
        }
        if (remaining < 0 || remaining > MAX_FRAME_BYTES) fail('frame lengths do not fit the packet');
      } else if (remaining % frames !== 0 || remaining / frames > MAX_FRAME_BYTES) {
        fail('constant-size frames do not divide the packet');
      }
    }
  }
  if (frames * perFrame > MAX_PACKET_SAMPLES_48K) fail('more than 120 ms');
  return frames * perFrame;
}

/** What the decoder takes from an OpusHead: the channel count (mixed down to mono) and the samples to drop. */
export interface OpusHead {
  channels: number;
  preSkip: number;
}

/** Parses an OpusHead packet (also WebM's CodecPrivate); more than two channels (mapping family ≥ 1) is refused. */
export function parseOpusHead(packet: Uint8Array, where: string): OpusHead {
  const magic = 'OpusHead';
  for (let i = 0; i < magic.length; i++) {
    if (packet[i] !== magic.charCodeAt(i)) throw new AudioDecodeError(`expected an OpusHead header ${where}`);
  }
  if (packet.length < 19) throw new AudioDecodeError(`expected an OpusHead header of at least 19 bytes ${where}, got ${packet.length}`);
  const version = packet[8]!;
  if (version >> 4 !== 0) throw new AudioDecodeError(`unsupported OpusHead version ${version} ${where}`);
  const channels = packet[9]!;
  const preSkip = packet[10]! | (packet[11]! << 8);
  const family = packet[18]!;
  if (channels < 1) throw new AudioDecodeError(`OpusHead declares 0 channels ${where}`);
  if (family !== 0 || channels > 2) {
    throw new AudioDecodeError(`only mono or stereo Opus (channel mapping family 0) is supported ${where}: got ${channels} channels, family ${family}`);
  }
  return { channels, preSkip };
}
