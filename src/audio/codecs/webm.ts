// WebM/Matroska demuxing for one Opus track, as MediaRecorder writes it (Segment and Clusters of unknown size,
// SimpleBlocks): the element walk is flat (Segment and Cluster are entered, not buffered), only the EBML header,
// Tracks and blocks are buffered, everything else known is skipped by counting, and any other ID is an error.
import { type Demuxer, type DemuxItem, concatBytes } from './demux.js';
import { AudioDecodeError } from './errors.js';
import { type OpusHead, opusPacketSamples, parseOpusHead } from './opus-packet.js';

/** Largest element read into memory (EBML header, Tracks, a block): an Opus block is at most a few KB. */
export const MAX_WEBM_BUFFERED_ELEMENT = 64 * 1024;
/** Largest element skipped by counting (Cues, Tags, Void…); a larger declared size is refused, not skipped. */
export const MAX_WEBM_SKIPPED_ELEMENT = 1024 * 1024;

const EBML = 0x1a45dfa3;
const DOC_TYPE = 0x4282;
const SEGMENT = 0x18538067;
const CLUSTER = 0x1f43b675;
const TRACKS = 0x1654ae6b;
const TRACK_ENTRY = 0xae;
const TRACK_NUMBER = 0xd7;
const CODEC_ID = 0x86;
const CODEC_PRIVATE = 0x63a2;
const CODEC_DELAY = 0x56aa;
const AUDIO = 0xe1;
const CHANNELS = 0x9f;
const SIMPLE_BLOCK = 0xa3;
const BLOCK_GROUP = 0xa0;
const BLOCK = 0xa1;
/** Segment- and Cluster-level elements this demuxer has no use for. */
const SKIPPED = new Set([
  0x114d9b74, // SeekHead
  0x1549a966, // Info
  0x1c53bb6b, // Cues
  0x1043a770, // Chapters
  0x1941a469, // Attachments
  0x1254c367, // Tags
  0xec, // Void
  0xbf, // CRC-32
  0xe7, // Timestamp
  0xa7, // Position
  0xab, // PrevSize
  0x5854, // SilentTracks
  0xaf, // EncryptedBlock
]);

export interface WebmState {
  offset: number;
  /** An element header or a buffered element not complete yet (≤ 12 + MAX_WEBM_BUFFERED_ELEMENT bytes). */
  pending: Uint8Array;
  /** Bytes of a skipped element still to pass over (never buffered). */
  skip: number;
  stage: 'ebml' | 'body';
  /** The Opus track's number, once Tracks is read. */
  track: number | null;
}

export const webmDemuxer: Demuxer<WebmState> = {
  initial: () => ({ offset: 0, pending: new Uint8Array(0), skip: 0, stage: 'ebml', track: null }),

  push(prev, chunk) {
    const s: WebmState = { ...prev };
    const bytes = concatBytes(prev.pending, chunk);
    const items: DemuxItem[] = [];
    let at = 0;
    for (;;) {
      if (s.skip > 0) {
        const n = Math.min(s.skip, bytes.length - at);
        s.skip -= n;
        at += n;
        if (s.skip > 0) break;
      }
      const where = s.offset + at;
      const id = readVint(bytes, at, true, where);
      if (!id) break;
      const size = readVint(bytes, at + id.length, false, where);
      if (!size) break;
      const header = id.length + size.length;
      if (s.stage === 'ebml' && id.value !== EBML) {
        throw new AudioDecodeError(`expected an EBML header (1A 45 DF A3) at byte ${where} of the stream`);
      }
      if (id.value === SEGMENT || id.value === CLUSTER) {
        at += header; // entered: their children follow at the same flat level
        continue;
      }
      const name = idName(id.value);
      if (size.unknown) throw new AudioDecodeError(`WebM element ${name} at byte ${where} of the stream has an unknown size`);
      if (SKIPPED.has(id.value)) {
        if (size.value > MAX_WEBM_SKIPPED_ELEMENT) throw tooLarge(name, size.value, MAX_WEBM_SKIPPED_ELEMENT, where);
        at += header;
        s.skip = size.value;
        continue;
      }
      if (id.value !== EBML && id.value !== TRACKS && id.value !== SIMPLE_BLOCK && id.value !== BLOCK_GROUP) {
        throw new AudioDecodeError(`expected a WebM element (Cluster, SimpleBlock, BlockGroup, Tracks…) at byte ${where} of the stream, found ID 0x${id.value.toString(16)}`);
      }
      if (size.value > MAX_WEBM_BUFFERED_ELEMENT) throw tooLarge(name, size.value, MAX_WEBM_BUFFERED_ELEMENT, where);
      if (bytes.length - at < header + size.value) break;
      const body = bytes.subarray(at + header, at + header + size.value);
      const bodyAt = where + header;
      if (id.value === EBML) {
        checkDocType(body, bodyAt);
        s.stage = 'body';
        s.track = null; // a new stream (a recorder restarted): its Tracks follow
      } else if (id.value === TRACKS) {
        const { track, head } = readTracks(body, bodyAt);
        s.track = track;
        items.push({ head });
      } else {
        if (s.track === null) throw new AudioDecodeError(`expected Tracks before the first block (at byte ${where} of the stream)`);
        if (id.value === SIMPLE_BLOCK) readBlock(body, bodyAt, s.track, items);
        else for (const child of children(body, bodyAt)) if (child.id === BLOCK) readBlock(child.body, child.at, s.track, items);
      }
      at += header + size.value;
    }
    s.pending = bytes.slice(at);
    s.offset += at;
    return { state: s, items };
  },

  toSnapshot: (s) => ({ meta: { offset: s.offset, skip: s.skip, stage: s.stage, track: s.track }, blobs: [s.pending] }),

  fromSnapshot(meta, blobs) {
    const [pending] = blobs;
    const stage = meta.stage;
    if (stage !== 'ebml' && stage !== 'body') throw new Error('stage');
    if (!pending || pending.length > 12 + MAX_WEBM_BUFFERED_ELEMENT) throw new Error('pending');
    const skip = asCount(meta.skip);
    if (skip > MAX_WEBM_SKIPPED_ELEMENT) throw new Error('skip');
    return { offset: asCount(meta.offset), pending, skip, stage, track: meta.track === null ? null : asCount(meta.track) };
  },
};

interface Vint {
  length: number;
  value: number;
  unknown: boolean;
}

/** An EBML variable-length integer at `at`, or null if the bytes end first. IDs keep their marker bit. */
function readVint(b: Uint8Array, at: number, isId: boolean, where: number): Vint | null {
  if (at >= b.length) return null;
  const first = b[at]!;
  const length = first === 0 ? 9 : Math.clz32(first) - 23;
  if (length > (isId ? 4 : 8)) throw new AudioDecodeError(`invalid EBML ${isId ? 'element ID' : 'size'} at byte ${where} of the stream`);
  if (at + length > b.length) return null;
  let value = isId ? first : first & (0xff >> length);
  let allOnes = value === 0xff >> length;
  for (let i = 1; i < length; i++) {
    value = value * 256 + b[at + i]!;
    if (b[at + i] !== 0xff) allOnes = false;
  }
  return { length, value, unknown: !isId && allOnes };
}

function* children(body: Uint8Array, bodyAt: number): Generator<{ id: number; body: Uint8Array; at: number }> {
  let at = 0;
  while (at < body.length) {
    const where = bodyAt + at;
    const id = readVint(body, at, true, where);
    const size = id && readVint(body, at + id.length, false, where);
    if (!id || !size || size.unknown || at + id.length + size.length + size.value > body.length) {
      throw new AudioDecodeError(`WebM element at byte ${where} of the stream does not fit in its parent`);
    }
    const start = at + id.length + size.length;
    yield { id: id.value, body: body.subarray(start, start + size.value), at: bodyAt + start };
    at = start + size.value;
  }
}

function readUint(b: Uint8Array): number {
  let v = 0;
  for (const byte of b) v = v * 256 + byte;
  return v;
}

function checkDocType(body: Uint8Array, bodyAt: number): void {
  for (const child of children(body, bodyAt)) {
    if (child.id !== DOC_TYPE) continue;
    const docType = new TextDecoder().decode(child.body).replace(/\0+$/, '');
    if (docType !== 'webm' && docType !== 'matroska') {
      throw new AudioDecodeError(`expected a WebM or Matroska stream, the EBML header declares "${docType.slice(0, 32)}"`);
    }
  }
}

function readTracks(body: Uint8Array, bodyAt: number): { track: number; head: OpusHead } {
  const codecs: string[] = [];
  for (const entry of children(body, bodyAt)) {
    if (entry.id !== TRACK_ENTRY) continue;
    let number = 0;
    let codec = '';
    let codecPrivate: { body: Uint8Array; at: number } | null = null;
    let codecDelayNs = 0;
    let channels = 1;
    for (const f of children(entry.body, entry.at)) {
      if (f.id === TRACK_NUMBER) number = readUint(f.body);
      else if (f.id === CODEC_ID) codec = new TextDecoder().decode(f.body).replace(/\0+$/, '');
      else if (f.id === CODEC_PRIVATE) codecPrivate = f;
      else if (f.id === CODEC_DELAY) codecDelayNs = readUint(f.body);
      else if (f.id === AUDIO) for (const a of children(f.body, f.at)) if (a.id === CHANNELS) channels = readUint(a.body);
    }
    if (codec !== 'A_OPUS') {
      codecs.push(codec.slice(0, 32) || 'none');
      continue;
    }
    if (number < 1) throw new AudioDecodeError(`the WebM Opus track at byte ${entry.at} of the stream has no track number`);
    // CodecPrivate is the OpusHead; without one, the Audio element's channels and CodecDelay say the same.
    if (codecPrivate) return { track: number, head: parseOpusHead(codecPrivate.body, `in the WebM CodecPrivate at byte ${codecPrivate.at} of the stream`) };
    if (channels < 1 || channels > 2) throw new AudioDecodeError(`only mono or stereo Opus is supported, the WebM track declares ${channels} channels`);
    return { track: number, head: { channels, preSkip: Math.round((codecDelayNs * 48000) / 1e9) } };
  }
  throw new AudioDecodeError(`the WebM stream has no Opus track (${codecs.length > 0 ? `codec ${codecs.join(', ')}` : 'no tracks'})`);
}

/** A (Simple)Block's frames for `track`, through any of Matroska's three lacings. */
function readBlock(body: Uint8Array, bodyAt: number, track: number, items: DemuxItem[]): void {
  const bad = (why: string): never => {
    throw new AudioDecodeError(`expected a Matroska block at byte ${bodyAt} of the stream: ${why}`);
  };
  const num = readVint(body, 0, false, bodyAt);
  if (!num || num.length + 3 > body.length) return bad('truncated block header');
  if (num.value !== track) return; // another track (video, a second audio track)
  let at = num.length + 2;
  const flags = body[at++]!;
  const lacing = (flags >> 1) & 3;
  const sizes: number[] = [];
  if (lacing === 0) sizes.push(body.length - at);
  else {
    if (at >= body.length) bad('truncated lace count');
    const count = body[at++]! + 1;
    if (lacing === 2) {
      const rest = body.length - at;
      if (rest % count !== 0) bad('fixed-size lacing does not divide the block');
      for (let i = 0; i < count; i++) sizes.push(rest / count);
    } else {
      let sum = 0;
      for (let i = 0; i < count - 1; i++) {
        let size = 0;
        if (lacing === 1) {
          // Xiph lacing: 255s plus a final byte.
          let byte = 255;
          while (byte === 255) {
            if (at >= body.length) bad('truncated Xiph lace size');
            byte = body[at++]!;
            size += byte;
          }
        } else {
          const v = readVint(body, at, false, bodyAt + at);
          if (!v) return bad('truncated EBML lace size');
          at += v.length;
          // The first size is unsigned, the others are signed differences from the previous one.
          size = i === 0 ? v.value : sizes[i - 1]! + v.value - (2 ** (7 * v.length - 1) - 1);
        }
        if (size < 0) bad('negative lace size');
        sizes.push(size);
        sum += size;
      }
      const last = body.length - at - sum;
      if (last < 0) bad('lace sizes exceed the block');
      sizes.push(last);
    }
  }
  for (const size of sizes) {
    const frame = body.subarray(at, at + size);
    at += size;
    opusPacketSamples(frame, `in the Matroska block at byte ${bodyAt} of the stream`);
    items.push({ packet: frame.slice() });
  }
}

function idName(id: number): string {
  const names: Record<number, string> = { [EBML]: 'EBML', [TRACKS]: 'Tracks', [SIMPLE_BLOCK]: 'SimpleBlock', [BLOCK_GROUP]: 'BlockGroup' };
  return names[id] ?? `0x${id.toString(16)}`;
}

function tooLarge(name: string, size: number, limit: number, where: number): AudioDecodeError {
  return new AudioDecodeError(`WebM element ${name} at byte ${where} of the stream declares ${size} bytes, more than the ${limit} allowed`);
}

function asCount(v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new Error('not a count');
  return v;
}
