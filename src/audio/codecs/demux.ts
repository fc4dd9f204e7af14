// What a container demuxer hands to the Opus stage, in stream order.
import type { OpusHead } from './opus-packet.js';

export type DemuxItem = { head: OpusHead } | { packet: Uint8Array };

/**
 * A demuxer is a pure step: `push` parses pending bytes + chunk on a copy of the state and returns the new state with
 * what it found, or throws AudioDecodeError having changed nothing. Its state serialises as meta (JSON) + byte blobs.
 */
export interface Demuxer<S> {
  push(state: S, chunk: Uint8Array): { state: S; items: DemuxItem[] };
  initial(): S;
  toSnapshot(state: S): { meta: Record<string, unknown>; blobs: Uint8Array[] };
  fromSnapshot(meta: Record<string, unknown>, blobs: Uint8Array[]): S;
}

export function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
