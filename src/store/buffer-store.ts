// The buffer store interface: session state and not-yet-transcribed audio, shared by the Redis and memory stores.
import type { ErrorCode, SessionSettings, TranscriptionResult } from '../protocol/index.js';

export interface SessionRecord {
  id: string;
  settings: SessionSettings;
  /** The sequence number the session expects next. */
  nextSeq: number;
  /** Every audio byte accepted so far (absolute offset of the buffer's end). */
  receivedBytes: number;
  /** Audio bytes already transcribed (absolute offset of the buffer's start). */
  committedBytes: number;
  /** transcription_result segments produced so far. */
  segments: number;
  ended: boolean;
  /** SHA-256 (base64url) of the session's resume_token, set at creation; absent for sessions made without one. */
  resumeTokenHash?: string;
}

/** Why a stretch of audio was not transcribed: the protocol code and a reason fit for the client (no internal detail). */
export interface SegmentFailure {
  code: ErrorCode;
  reason: string;
}

/** What a final carries beyond its text and times, kept with the segment so a replayed final carries it too. */
export type SegmentDetails = Pick<TranscriptionResult, 'engine' | 'language' | 'speech_final' | 'words' | 'words_interpolated'>;

/** A segment whose text is known (or that failed for good), kept so a resumed client can be sent what it missed. */
export interface StoredSegment {
  segment: number;
  text: string;
  startByte: number;
  endByte: number;
  /** Set when the segment was not transcribed (text is empty): it keeps its number, so results stay gap-free. */
  failed?: SegmentFailure;
  details?: SegmentDetails;
}

export type AppendOutcome =
  | { status: 'appended'; seq: number; nextSeq: number; bufferedBytes: number; receivedBytes: number }
  | { status: 'duplicate'; seq: number; nextSeq: number; bufferedBytes: number }
  | { status: 'gap'; nextSeq: number }
  | { status: 'full'; nextSeq: number; bufferedBytes: number }
  | { status: 'unknown' }
  | { status: 'ended' }
  /** A decoded append whose fence is no longer the newest: another node resumed the session; nothing was written. */
  | { status: 'fenced' };

/**
 * A decoded format's append (mulaw, alaw, Opus): the decoder's continuation after this chunk, written in the same
 * atomic step as the PCM, and only while `fence` is the session's newest claim, so the stored decoder state always
 * matches the stored audio and next_seq.
 */
export interface DecoderWrite {
  continuation: Uint8Array;
  fence: number | undefined;
}

/** The decoder state written by the last decoded append, and the seq it continues at. */
export interface StoredDecoder {
  nextSeq: number;
  /** Undefined before the first decoded append. */
  continuation: Buffer | undefined;
}

export type CommitOutcome =
  | { status: 'committed'; record: SessionRecord; segment: StoredSegment | undefined }
  /** Another commit already moved the buffer past this segment's start. */
  | { status: 'stale'; record: SessionRecord }
  /** The fencing token is no longer the newest: another node claimed the session, and nothing was written. */
  | { status: 'fenced' }
  | { status: 'unknown' };

export interface BufferStore {
  /** "redis" or "memory": reported as db.system on spans. */
  readonly kind: 'redis' | 'memory';
  /** Where a session's audio lives, for spans (`cache.key`): the store names its own keys. */
  keyOf(id: string): string;
  /** Creates the session, or returns it unchanged when it exists (resume). Refreshes its TTL. */
  openSession(id: string, settings: SessionSettings, resumeTokenHash?: string): Promise<{ record: SessionRecord; created: boolean }>;
  getSession(id: string): Promise<SessionRecord | undefined>;
  /**
   * Appends `chunk` as sequence `seq` (the next one when undefined) in one atomic step: a lower seq is a
   * duplicate and is not buffered again, a higher one is a gap, and the buffer never exceeds `maxBufferedBytes`.
   */
  append(id: string, seq: number | undefined, chunk: Buffer, maxBufferedBytes: number, decoder?: DecoderWrite): Promise<AppendOutcome>;
  /** The session's stored decoder state (see DecoderWrite), read in one step with next_seq; undefined when no session. */
  readDecoder(id: string): Promise<StoredDecoder | undefined>;
  /** Buffered audio between absolute offsets [from, to); `from` is at or after the committed offset. */
  readAudio(id: string, from: number, to: number): Promise<Buffer>;
  /**
   * Marks audio [startByte, endByte) transcribed and drops it from the buffer; a non-empty text becomes the
   * session's next numbered segment. Stale when the committed offset is no longer `startByte`; fenced (nothing
   * written) when `fence` is given and a newer claim exists. With `failure` the stretch is committed as not
   * transcribed: it takes the next number as a failed segment, and its audio is kept aside until the session ends.
   * `details` are kept with a segment that has text.
   */
  commitSegment(id: string, startByte: number, endByte: number, text: string, fence?: number, failure?: SegmentFailure, details?: SegmentDetails): Promise<CommitOutcome>;
  /**
   * Makes the caller the session's one owner: returns a fencing token higher than any given before, and takes the
   * session over from whoever held it (a resume elsewhere wins at once). The lease lasts `leaseMs` unless renewed.
   * Undefined when the session does not exist.
   */
  claimSession(id: string, leaseMs: number): Promise<number | undefined>;
  /** Extends the lease while `fence` is still the newest token; false once another claim took the session over. */
  renewLease(id: string, fence: number, leaseMs: number): Promise<boolean>;
  /** The session's segments from number `from` on, in order. */
  segmentsFrom(id: string, from: number): Promise<StoredSegment[]>;
  /** Marks the session ended and drops its audio (the kept audio of failed segments too); its record and segments stay until the TTL. */
  endSession(id: string): Promise<SessionRecord | undefined>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
