// The /transcription event map: every event, its payload and its ack, for server and clients alike.
import type { ErrorCode, ProtocolErrorBody } from './errors.js';
import type { AudioChunkRequest, EndSessionRequest, StartSessionRequest } from './payloads.js';

export const NAMESPACE = '/transcription';

export type Refused = { ok: false; error: ProtocolErrorBody };
export type Ack<T> = ({ ok: true } & T) | Refused;

export interface StartSessionAccepted {
  session_id: string;
  resumed: boolean;
  /** The sequence number the server expects next (0 for a new session). */
  next_seq: number;
  sample_rate: number;
  /**
   * New sessions only: the secret that proves ownership. Send it back as `resume_token` with `session_id` to resume
   * from another connection; keep it like a password.
   */
  resume_token?: string;
  /** Interim results are on, every this many ms of new speech; absent when off. */
  interim_interval_ms?: number;
}

export interface AudioChunkAccepted {
  seq: number;
  /** Audio accepted but not yet transcribed, in milliseconds. */
  buffered_ms: number;
  /** True when this seq had been accepted before; it was not buffered again. */
  duplicate?: boolean;
}

export interface EndSessionAccepted {
  session_id: string;
  /** Every segment's text, in order, joined by spaces. */
  text: string;
  /** How many segment numbers the session used: its transcription_results plus its `untranscribed` stretches. */
  segments: number;
  /** Total audio accepted in the session, in milliseconds. */
  duration_ms: number;
  /** Present when some audio has no transcript: each stretch, with why (e.g. ENGINE_REJECTED). */
  untranscribed?: UntranscribedStretch[];
}

/** A stretch of a session's audio without a transcript; its segment number has no transcription_result. */
export interface UntranscribedStretch {
  segment: number;
  start_ms: number;
  end_ms: number;
  /** ENGINE_REJECTED (the engine refused it), or ENGINE_ERROR (still failing when an idle session was ended). */
  code: ErrorCode;
  /** The engine's reason, without internal detail. */
  reason: string;
}

export interface TranscriptionResult {
  session_id: string;
  /** Finals and the interims that precede them share the number. */
  segment: number;
  text: string;
  /** false: an interim guess at the segment so far, replaced by the next result with the same `segment`. */
  is_final: boolean;
  start_ms: number;
  /** For an interim, the end of the audio heard so far. */
  end_ms: number;
  /** Final: from the segment's cut to this emit (0 for a replay). Interim: from the request's start to this emit. */
  latency_ms: number;
  /** Sent again to a client that resumed the session; it may already have this segment. */
  replayed?: true;
  /** Sessions started with word_timestamps: each word with its times in session audio time, in order. */
  words?: WordTiming[];
  /** The engine gave no word times (e.g. gpt-4o-transcribe): `words` are spread over the segment's speech by length. */
  words_interpolated?: true;
  /** ISO 639-1 code of the segment's language, when the engine reports one. */
  language?: string;
  /** The engine that produced the text: "openai", "pocketsphinx", or the fallback's name. */
  engine?: string;
  /** Finals only: true when a pause ended the segment (or the stream ended), false when the length cap cut it. */
  speech_final?: boolean;
}

export interface WordTiming {
  word: string;
  start_ms: number;
  end_ms: number;
  /** 0..1, where the engine gives one. */
  confidence?: number;
}

/** Sessions started with utterance_end_ms: that much non-speech followed speech. */
export interface UtteranceEnd {
  session_id: string;
  /** Where the speech ended, in session audio time (ms). */
  end_ms: number;
}

export interface TranscriptionErrorEvent extends ProtocolErrorBody {
  session_id: string;
  segment?: number;
}

export interface ClientToServerEvents {
  start_session: (payload: StartSessionRequest, ack: (response: Ack<StartSessionAccepted>) => void) => void;
  audio_chunk: (payload: AudioChunkRequest, ack: (response: Ack<AudioChunkAccepted>) => void) => void;
  end_session: (payload: EndSessionRequest, ack: (response: Ack<EndSessionAccepted>) => void) => void;
}

/**
 * Sent before a node closes a connection on purpose: SERVER_DRAINING (shutdown, drain: reconnect and resume
 * elsewhere) or FLOODING (it kept sending past its refusals, RATE_LIMITED or others; docs/protocol.md).
 */
export interface ServerNotice {
  code: 'SERVER_DRAINING' | 'FLOODING';
  message: string;
  /** Reconnect after about this long (the load balancer sends the new connection to another node). */
  retry_after_ms: number;
}

export interface ServerToClientEvents {
  transcription_result: (result: TranscriptionResult) => void;
  transcription_error: (error: TranscriptionErrorEvent) => void;
  utterance_end: (event: UtteranceEnd) => void;
  server_notice: (notice: ServerNotice) => void;
}

/** What a client may pass in the Socket.IO handshake `auth`. */
export interface HandshakeAuth {
  /** The server's AUTH_TOKEN, or a short-lived client token minted by POST /v1/tokens. */
  token?: string;
  /** Continue a distributed trace (Sentry). */
  'sentry-trace'?: string;
  baggage?: string;
}

export type ClientEventName = keyof ClientToServerEvents;
