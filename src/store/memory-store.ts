// Buffer store in process memory: for a single server without Redis; sessions do not survive a restart.
import type { SessionSettings } from '../protocol/index.js';
import type { AppendOutcome, BufferStore, CommitOutcome, SessionRecord, StoredSegment } from './buffer-store.js';

interface MemorySession {
  record: SessionRecord;
  /** Accepted chunks not yet committed, kept as received: appending never copies audio. */
  chunks: Buffer[];
  /** Absolute offset of chunks[0]'s first byte (may trail committedBytes while a chunk is partly committed). */
  chunksStart: number;
  segments: StoredSegment[];
  /** Audio of segments committed as failed: not transcribed, but not dropped before the session ends. */
  kept: Buffer[];
  expiresAt: number;
  /** The newest fencing token handed out (0 = never claimed). One process owns every session here: the lease is trivial. */
  fence: number;
  /** The decoder continuation written with the last decoded append. */
  decoder?: Buffer;
}

export interface MemoryStoreOptions {
  ttlS: number;
  now?: () => number;
}

export function createMemoryStore({ ttlS, now = Date.now }: MemoryStoreOptions): BufferStore {
  const sessions = new Map<string, MemorySession>();
  const ttlMs = ttlS * 1000;

  // Expired sessions are dropped lazily on access and by this sweep, so idle ones do not pile up.
  const sweep = setInterval(() => {
    const t = now();
    for (const [id, s] of sessions) if (s.expiresAt <= t) sessions.delete(id);
  }, Math.min(ttlMs, 60_000));
  sweep.unref();

  function live(id: string): MemorySession | undefined {
    const s = sessions.get(id);
    if (!s) return undefined;
    if (s.expiresAt <= now()) {
      sessions.delete(id);
      return undefined;
    }
    s.expiresAt = now() + ttlMs;
    return s;
  }

  function copy(record: SessionRecord): SessionRecord {
    return { ...record, settings: { ...record.settings } };
  }

  return {
    kind: 'memory',
    keyOf: (id) => `session:${id}:audio`,

    async openSession(id: string, settings: SessionSettings, resumeTokenHash?: string) {
      const existing = live(id);
      if (existing) return { record: copy(existing.record), created: false };
      const record: SessionRecord = {
        id,
        settings: { ...settings },
        nextSeq: 0,
        receivedBytes: 0,
        committedBytes: 0,
        segments: 0,
        ended: false,
        ...(resumeTokenHash === undefined ? {} : { resumeTokenHash }),
      };
      sessions.set(id, { record, chunks: [], chunksStart: 0, segments: [], kept: [], expiresAt: now() + ttlMs, fence: 0 });
      return { record: copy(record), created: true };
    },

    async getSession(id) {
      const s = live(id);
      return s && copy(s.record);
    },

    async append(id, seq, chunk, maxBufferedBytes, decoder): Promise<AppendOutcome> {
      const s = live(id);
      if (!s) return { status: 'unknown' };
      const r = s.record;
      if (r.ended) return { status: 'ended' };
      if (decoder && decoder.fence !== undefined && decoder.fence !== s.fence) return { status: 'fenced' };
      const buffered = r.receivedBytes - r.committedBytes;
      const at = seq ?? r.nextSeq;
      if (at < r.nextSeq) return { status: 'duplicate', seq: at, nextSeq: r.nextSeq, bufferedBytes: buffered };
      if (at > r.nextSeq) return { status: 'gap', nextSeq: r.nextSeq };
      if (buffered + chunk.length > maxBufferedBytes) return { status: 'full', nextSeq: r.nextSeq, bufferedBytes: buffered };
      s.chunks.push(chunk);
      // A copy: the caller's continuation buffer is not ours to keep.
      if (decoder) s.decoder = Buffer.from(decoder.continuation);
      r.nextSeq += 1;
      r.receivedBytes += chunk.length;
      return {
        status: 'appended',
        seq: at,
        nextSeq: r.nextSeq,
        bufferedBytes: buffered + chunk.length,
        receivedBytes: r.receivedBytes,
      };
    },

    async readDecoder(id) {
      const s = live(id);
      return s && { nextSeq: s.record.nextSeq, continuation: s.decoder && Buffer.from(s.decoder) };
    },

    async readAudio(id, from, to) {
      const s = live(id);
      return s ? audioOf(s, from, to) : Buffer.alloc(0);
    },

    async commitSegment(id, startByte, endByte, text, fence, failure, details): Promise<CommitOutcome> {
      const s = live(id);
      if (!s) return { status: 'unknown' };
      if (fence !== undefined && fence !== s.fence) return { status: 'fenced' };
      const r = s.record;
      if (r.committedBytes !== startByte) return { status: 'stale', record: copy(r) };
      const end = Math.min(endByte, r.receivedBytes);
      if (failure && end > startByte) s.kept.push(Buffer.from(audioOf(s, startByte, end)));
      // Drop whole chunks before `end`; a chunk that straddles it is kept and sliced on read.
      while (s.chunks.length > 0 && s.chunksStart + s.chunks[0]!.length <= end) {
        s.chunksStart += s.chunks.shift()!.length;
      }
      r.committedBytes = end;
      let segment: StoredSegment | undefined;
      if (text || failure) {
        segment = { segment: r.segments, text: failure ? '' : text, startByte, endByte: end, ...(failure ? { failed: { ...failure } } : details ? { details: structuredClone(details) } : {}) };
        s.segments.push(segment);
        r.segments += 1;
      }
      return { status: 'committed', record: copy(r), segment };
    },

    async claimSession(id) {
      const s = live(id);
      if (!s) return undefined;
      s.fence += 1;
      return s.fence;
    },

    async renewLease(id, fence) {
      return live(id)?.fence === fence;
    },

    async segmentsFrom(id, from) {
      const s = live(id);
      return s ? s.segments.slice(from) : [];
    },

    async endSession(id) {
      const s = live(id);
      if (!s) return undefined;
      s.record.ended = true;
      s.chunks = [];
      s.kept = [];
      delete s.decoder;
      s.chunksStart = s.record.receivedBytes;
      return copy(s.record);
    },

    async ping() {},

    async close() {
      clearInterval(sweep);
      sessions.clear();
    },
  };
}

/** Buffered audio between absolute offsets [from, to), sliced from the chunks as received. */
function audioOf(s: MemorySession, from: number, to: number): Buffer {
  const parts: Buffer[] = [];
  let offset = s.chunksStart;
  for (const chunk of s.chunks) {
    const end = offset + chunk.length;
    if (end > from && offset < to) {
      parts.push(chunk.subarray(Math.max(0, from - offset), Math.min(chunk.length, to - offset)));
    }
    offset = end;
    if (offset >= to) break;
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}
