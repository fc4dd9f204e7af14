// The continuation's byte layout: small JSON for counters and flags, raw bytes for pending input and held samples.
//   "ADC" 1 | format index (1 byte) | meta length (u32 LE) | meta JSON | blob count (1 byte) | (length u32 LE, bytes)*
import { AudioDecodeError } from './errors.js';

const MAGIC = [0x41, 0x44, 0x43, 0x01];
const MAX_META_BYTES = 4096;
const MAX_BLOBS = 8;

export function encodeContinuation(formatIndex: number, meta: Record<string, unknown>, blobs: readonly Uint8Array[]): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(meta));
  const size = MAGIC.length + 1 + 4 + json.length + 1 + blobs.reduce((n, b) => n + 4 + b.length, 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out.set(MAGIC);
  let at = MAGIC.length;
  out[at++] = formatIndex;
  view.setUint32(at, json.length, true);
  at += 4;
  out.set(json, at);
  at += json.length;
  out[at++] = blobs.length;
  for (const b of blobs) {
    view.setUint32(at, b.length, true);
    at += 4;
    out.set(b, at);
    at += b.length;
  }
  return out;
}

export function decodeContinuation(bytes: Uint8Array, formatIndex: number): { meta: Record<string, unknown>; blobs: Uint8Array[] } {
  const bad = (why: string): never => {
    throw new AudioDecodeError(`invalid decoder continuation: ${why}`);
  };
  if (bytes.length < MAGIC.length + 6 || MAGIC.some((m, i) => bytes[i] !== m)) bad('not a continuation (version 1)');
  if (bytes[MAGIC.length] !== formatIndex) bad('it was taken from a decoder of another format');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = MAGIC.length + 1;
  const metaLength = view.getUint32(at, true);
  at += 4;
  if (metaLength > MAX_META_BYTES || at + metaLength + 1 > bytes.length) bad('truncated');
  let meta: unknown;
  try {
    meta = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(at, at + metaLength)));
  } catch {
    bad('unreadable state');
  }
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) bad('unreadable state');
  at += metaLength;
  const count = bytes[at++]!;
  if (count > MAX_BLOBS) bad('too many parts');
  const blobs: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    if (at + 4 > bytes.length) bad('truncated');
    const length = view.getUint32(at, true);
    at += 4;
    if (at + length > bytes.length) bad('truncated');
    blobs.push(bytes.slice(at, at + length));
    at += length;
  }
  if (at !== bytes.length) bad('trailing bytes');
  return { meta: meta as Record<string, unknown>, blobs };
}
