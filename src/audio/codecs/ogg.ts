// Ogg page framing (RFC 3533) for one Ogg Opus stream (RFC 7845): pages checked (capture pattern, version, CRC),
// packets reassembled across pages, OpusHead parsed, OpusTags skipped without being kept.
import { type Demuxer, type DemuxItem, concatBytes } from './demux.js';
import { AudioDecodeError } from './errors.js';
import { MAX_OPUS_PACKET_BYTES, opusPacketSamples, parseOpusHead } from './opus-packet.js';

const HEADER_BYTES = 27;
/** The largest page the format can express: 27 + 255 lacing values + 255 × 255 body bytes. */
export const MAX_OGG_PAGE_BYTES = HEADER_BYTES + 255 + 255 * 255;

export interface OggState {
  /** Stream offset of pending[0], for error messages. */
  offset: number;
  /** Bytes of a page not complete yet (< MAX_OGG_PAGE_BYTES). */
  pending: Uint8Array;
  /** Serial number of the Opus logical stream, once its OpusHead page is seen; other streams' pages are skipped. */
  serial: number | null;
  stage: 'head' | 'tags' | 'audio' | 'ended';
  /** Start of an audio packet that continues on the next page (≤ MAX_OPUS_PACKET_BYTES). */
  partial: Uint8Array;
  /** What the next page's continued packet is: the rest of `partial`, or of a packet being skipped (OpusTags). */
  carry: 'none' | 'packet' | 'skip';
}

export const oggDemuxer: Demuxer<OggState> = {
  initial: () => ({ offset: 0, pending: new Uint8Array(0), serial: null, stage: 'head', partial: new Uint8Array(0), carry: 'none' }),

  push(prev, chunk) {
    const s: OggState = { ...prev };
    const bytes = concatBytes(prev.pending, chunk);
    const items: DemuxItem[] = [];
    let at = 0;
    // The capture pattern is checked as soon as its 4 bytes are here, so garbage is refused in the chunk that brings it.
    while (bytes.length - at >= 4) {
      const where = s.offset + at;
      if (bytes[at] !== 0x4f || bytes[at + 1] !== 0x67 || bytes[at + 2] !== 0x67 || bytes[at + 3] !== 0x53) {
        throw new AudioDecodeError(`expected an Ogg page (OggS) at byte ${where} of the stream`);
      }
      if (bytes.length - at < HEADER_BYTES) break;
      if (bytes[at + 4] !== 0) throw new AudioDecodeError(`unsupported Ogg page version ${bytes[at + 4]} at byte ${where} of the stream`);
      const segments = bytes[at + 26]!;
      if (bytes.length - at < HEADER_BYTES + segments) break;
      let bodyBytes = 0;
      for (let i = 0; i < segments; i++) bodyBytes += bytes[at + HEADER_BYTES + i]!;
      const pageBytes = HEADER_BYTES + segments + bodyBytes;
      if (bytes.length - at < pageBytes) break;
      const page = bytes.subarray(at, at + pageBytes);
      if (pageCrc(page) !== readU32(page, 22)) throw new AudioDecodeError(`Ogg page at byte ${where} of the stream fails its CRC check`);
      readPage(s, page, where, items);
      at += pageBytes;
    }
    s.pending = bytes.slice(at); // a copy: never a view of the caller's chunk
    s.offset += at;
    return { state: s, items };
  },

  toSnapshot: (s) => ({
    meta: { offset: s.offset, serial: s.serial, stage: s.stage, carry: s.carry },
    blobs: [s.pending, s.partial],
  }),

  fromSnapshot(meta, blobs) {
    const stage = meta.stage;
    if (stage !== 'head' && stage !== 'tags' && stage !== 'audio' && stage !== 'ended') throw new Error('stage');
    const serial = meta.serial === null ? null : asInt(meta.serial);
    const [pending, partial] = blobs;
    if (!pending || !partial || pending.length >= MAX_OGG_PAGE_BYTES || partial.length > MAX_OPUS_PACKET_BYTES) throw new Error('blobs');
    const carry = meta.carry;
    if (carry !== 'none' && carry !== 'packet' && carry !== 'skip') throw new Error('carry');
    return { offset: asInt(meta.offset), serial, stage, partial, pending, carry };
  },
};

function readPage(s: OggState, page: Uint8Array, where: number, items: DemuxItem[]): void {
  const flags = page[5]!;
  const serial = readU32(page, 14);
  const segments = page[26]!;
  const bos = (flags & 0x02) !== 0;
  const continued = (flags & 0x01) !== 0;

  if (s.stage === 'head' || (s.stage === 'ended' && bos)) {
    // Before our stream starts (or after it ended, for a chained stream): only BOS pages; skip non-Opus ones.
    if (!bos) throw new AudioDecodeError(`expected an Ogg Opus stream: a beginning-of-stream page with OpusHead at byte ${where} of the stream`);
    const body = page.subarray(HEADER_BYTES + segments);
    if (!startsWith(body, 'OpusHead')) {
      if (s.stage === 'head' && s.serial === null && startsWith(body, 'OpusTags')) {
        throw new AudioDecodeError(`expected OpusHead before OpusTags at byte ${where} of the stream`);
      }
      return; // another codec's stream multiplexed in the file
    }
    const head = parseOpusHead(body.subarray(0, page[HEADER_BYTES]! < 255 ? page[HEADER_BYTES]! : body.length), `at byte ${where} of the stream`);
    items.push({ head });
    s.serial = serial;
    s.stage = 'tags';
    s.partial = new Uint8Array(0);
    s.carry = 'none';
    return;
  }
  if (serial !== s.serial || s.stage === 'ended') return;

  let bodyAt = HEADER_BYTES + segments;
  let packetStart = bodyAt;
  // A page that does not continue a packet drops a cut one (RFC 3533: lost data); a page continuing a packet whose
  // start we never had (or the comment header) skips that packet.
  let partial = continued && s.carry === 'packet' ? s.partial : new Uint8Array(0);
  let skipping = continued && s.carry !== 'packet';
  for (let i = 0; i < segments; i++) {
    const lace = page[HEADER_BYTES + i]!;
    bodyAt += lace;
    if (lace === 255) continue;
    const fragment = page.subarray(packetStart, bodyAt);
    if (skipping || s.stage === 'tags') s.stage = 'audio'; // OpusTags is one packet, however many pages; not needed
    else emitPacket(concatBytes(partial, fragment), where, items);
    skipping = false;
    partial = new Uint8Array(0);
    packetStart = bodyAt;
  }
  s.partial = new Uint8Array(0);
  s.carry = 'none';
  if (packetStart < bodyAt) {
    // The page ends inside a packet: keep an audio packet's start, skip the rest of anything else.
    if (skipping || s.stage === 'tags') s.carry = 'skip';
    else {
      const kept = concatBytes(partial, page.subarray(packetStart, bodyAt));
      if (kept.length > MAX_OPUS_PACKET_BYTES) throw new AudioDecodeError(`Opus packet continuing after the Ogg page at byte ${where} of the stream is longer than ${MAX_OPUS_PACKET_BYTES} bytes`);
      s.partial = kept.slice();
      s.carry = 'packet';
    }
  }
  if ((flags & 0x04) !== 0) {
    s.stage = 'ended';
    s.carry = 'none';
    s.partial = new Uint8Array(0);
  }
}

function emitPacket(packet: Uint8Array, where: number, items: DemuxItem[]): void {
  if (packet.length > MAX_OPUS_PACKET_BYTES) throw new AudioDecodeError(`Opus packet in the Ogg page at byte ${where} of the stream is longer than ${MAX_OPUS_PACKET_BYTES} bytes`);
  opusPacketSamples(packet, `in the Ogg page at byte ${where} of the stream`);
  items.push({ packet: packet.slice() });
}

function startsWith(bytes: Uint8Array, ascii: string): boolean {
  if (bytes.length < ascii.length) return false;
  for (let i = 0; i < ascii.length; i++) if (bytes[i] !== ascii.charCodeAt(i)) return false;
  return true;
}

function readU32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

function asInt(v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new Error('not a count');
  return v;
}

// Ogg's CRC-32: polynomial 0x04C11DB7, not reflected, initial value 0, over the page with its CRC field as zeros.
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let j = 0; j < 8; j++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    t[i] = r >>> 0;
  }
  return t;
})();

function pageCrc(page: Uint8Array): number {
  let crc = 0;
  for (let i = 0; i < page.length; i++) {
    const b = i >= 22 && i < 26 ? 0 : page[i]!;
    crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ b) & 0xff]!) >>> 0;
  }
  return crc;
}
