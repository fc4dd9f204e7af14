// The /transcription event map: every event, its payload and its ack, for server and clients alike.
import type { ProtocolErrorBody } from './errors.js';
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
  /** How many transcription_result segments the session produced. */
  segments: number;
  /** Total audio accepted in the session, in milliseconds. */
  duration_ms: number;
}

export interface TranscriptionResult {
  session_id: string;
  segment: number;
  text: string;
  is_final: true;
  start_ms: number;
  end_ms: number;
  /** From the moment the segment was cut to this emit (0 for a replay). */
  latency_ms: number;
  /** Sent again to a client that resumed the session; it may already have this segment. */
  replayed?: true;
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

export interface ServerToClientEvents {
  transcription_result: (result: TranscriptionResult) => void;
  transcription_error: (error: TranscriptionErrorEvent) => void;
}

/** What a client may pass in the Socket.IO handshake `auth`. */
export interface HandshakeAuth {
  /** Required when the server sets AUTH_TOKEN. */
  token?: string;
  /** Continue a distributed trace (Sentry). */
  'sentry-trace'?: string;
  baggage?: string;
}

export type ClientEventName = keyof ClientToServerEvents;
