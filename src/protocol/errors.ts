// Error codes of the /transcription protocol and the refused-ack shape every handler answers with.

/** Whose doing an error is: the client's input or pace (a non-ok span, never a captured exception), or the server's. */
export type ErrorFault = 'client' | 'server';

/** The Sentry span status an error ends its event's span with. */
export type ErrorSpanStatus = 'invalid_argument' | 'out_of_range' | 'not_found' | 'failed_precondition' | 'resource_exhausted' | 'internal_error' | 'unavailable';

export interface ErrorSpec {
  /** The same request may succeed later, unchanged (after a pause or a reconnect). */
  retryable: boolean;
  fault: ErrorFault;
  spanStatus: ErrorSpanStatus;
  /** What it means, for a person (the client library's describe()). */
  forPeople: string;
}

/**
 * Every error code of the /transcription protocol, defined once with its properties: adding an error is one line here
 * (and, where the server raises it from its own layers, a one-line class in src/errors/server-errors.ts).
 */
export const ERROR_CATALOGUE = {
  INVALID_PAYLOAD: { retryable: false, fault: 'client', spanStatus: 'invalid_argument', forPeople: 'The app sent the server a request it could not read. This is a bug in the app.' },
  UNSUPPORTED_FORMAT: { retryable: false, fault: 'client', spanStatus: 'invalid_argument', forPeople: 'The server cannot use this audio format. Send 16-bit PCM, G.711 (μ-law or A-law) or Opus in Ogg or WebM, mono at 8000–48000 Hz.' },
  CHUNK_TOO_LARGE: { retryable: false, fault: 'client', spanStatus: 'out_of_range', forPeople: 'A piece of audio was too large for the server. Send shorter chunks.' },
  /** A chunk's bytes do not decode in the session's format (mulaw, alaw, ogg_opus, webm_opus): it changed nothing; the session goes on. */
  AUDIO_DECODE_FAILED: { retryable: false, fault: 'client', spanStatus: 'invalid_argument', forPeople: 'A piece of audio could not be decoded in the format the session was started with, and was skipped.' },
  INVALID_AUDIO: { retryable: false, fault: 'client', spanStatus: 'invalid_argument', forPeople: 'A piece of audio was not valid 16-bit PCM and was skipped.' },
  UNKNOWN_SESSION: { retryable: false, fault: 'client', spanStatus: 'not_found', forPeople: 'The server no longer knows this session (it may have expired). Start a new one.' },
  SESSION_ENDED: { retryable: false, fault: 'client', spanStatus: 'failed_precondition', forPeople: 'This session has already ended. Start a new one to keep transcribing.' },
  SEQ_GAP: { retryable: false, fault: 'client', spanStatus: 'failed_precondition', forPeople: 'Some audio arrived out of order; it is being sent again.' },
  BUFFER_FULL: { retryable: true, fault: 'client', spanStatus: 'resource_exhausted', forPeople: 'The server is behind on transcribing, so sending is paused for a moment.' },
  ENGINE_ERROR: { retryable: true, fault: 'server', spanStatus: 'internal_error', forPeople: 'The speech recogniser failed on part of the audio; the server will try that part again.' },
  /** The engine refused one segment for good (e.g. the provider's 4xx): it is listed as untranscribed and the session goes on. */
  ENGINE_REJECTED: { retryable: false, fault: 'server', spanStatus: 'failed_precondition', forPeople: 'The speech recogniser refused part of the audio, so that part has no transcript; the rest goes on.' },
  /** start_session named a model this server (ALLOWED_MODELS) or this connection's token does not allow. */
  INVALID_MODEL: { retryable: false, fault: 'client', spanStatus: 'invalid_argument', forPeople: 'The server does not offer the requested speech model. Pick one it allows.' },
  STORE_UNAVAILABLE: { retryable: true, fault: 'server', spanStatus: 'unavailable', forPeople: 'The server cannot reach its audio storage right now; retrying.' },
  /** The engine cannot serve a new session within MAX_RESULT_DELAY_MS: retry after `retry_after_ms`, or another node. */
  OVERLOADED: { retryable: true, fault: 'client', spanStatus: 'resource_exhausted', forPeople: 'The server is busy with other speakers; it will try again in a moment.' },
  /** Audio arrives faster than the allowed multiple of real time (or events faster than allowed): wait `retry_after_ms`. */
  RATE_LIMITED: { retryable: true, fault: 'client', spanStatus: 'resource_exhausted', forPeople: 'Audio was sent faster than the server allows; sending is paused for a moment.' },
  /** A per-connection or per-token limit on concurrent sessions is reached: end one first. */
  TOO_MANY_SESSIONS: { retryable: false, fault: 'client', spanStatus: 'resource_exhausted', forPeople: 'Too many transcription sessions are open at once. Stop one before starting another.' },
  /** The session reached MAX_SESSION_MS (or its token's limit): no more audio is taken; end_session it and start a new one. */
  SESSION_TIME_LIMIT: { retryable: false, fault: 'client', spanStatus: 'out_of_range', forPeople: 'This session reached its maximum length. Start a new one to keep transcribing.' },
  /** This node is shutting down: reconnect (through the load balancer) and resume. */
  SERVER_DRAINING: { retryable: true, fault: 'client', spanStatus: 'unavailable', forPeople: 'The server is restarting; reconnecting to another one.' },
  INTERNAL_ERROR: { retryable: true, fault: 'server', spanStatus: 'internal_error', forPeople: 'The server hit an unexpected problem; retrying.' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** The codes by name, for `ErrorCode.SEQ_GAP` rather than a bare string. */
export const ErrorCode = Object.fromEntries(Object.keys(ERROR_CATALOGUE).map((code) => [code, code])) as { readonly [C in ErrorCode]: C };

export interface ProtocolErrorBody {
  code: ErrorCode;
  message: string;
  retryable: boolean;
  /** SEQ_GAP only: the sequence number the server expects next. */
  expected_seq?: number;
  /** OVERLOADED, RATE_LIMITED, SERVER_DRAINING: wait at least this long before retrying. */
  retry_after_ms?: number;
  /** ENGINE_REJECTED only: the refused segment's number and the stretch of audio it covered. */
  segment?: number;
  start_ms?: number;
  end_ms?: number;
}

/** An error that carries a protocol code; anything else thrown in a handler becomes INTERNAL_ERROR. */
export class ProtocolError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Partial<ProtocolErrorBody>;

  constructor(code: ErrorCode, message: string, details: Partial<ProtocolErrorBody> = {}) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
    this.retryable = details.retryable ?? ERROR_CATALOGUE[code].retryable;
    this.details = details;
  }

  toBody(): ProtocolErrorBody {
    return { ...this.details, code: this.code, message: this.message, retryable: this.retryable };
  }
}

export function isRetryable(code: ErrorCode): boolean {
  return ERROR_CATALOGUE[code].retryable;
}

export function isClientFault(code: ErrorCode): boolean {
  return ERROR_CATALOGUE[code].fault === 'client';
}

/**
 * Why the handshake was refused: `connect_error`'s `data.code` (its message says the same in words).
 * Not retryable by reconnecting with the same credentials, except TOO_MANY_CONNECTIONS, RATE_LIMITED and
 * SERVER_DRAINING after `retry_after_ms`.
 */
export const ConnectErrorCode = {
  UNAUTHORIZED: 'UNAUTHORIZED',
  TOKEN_EXPIRED: 'TOKEN_EXPIRED',
  TOKEN_INVALID: 'TOKEN_INVALID',
  TOKEN_REPLAYED: 'TOKEN_REPLAYED',
  ORIGIN_NOT_ALLOWED: 'ORIGIN_NOT_ALLOWED',
  TOO_MANY_CONNECTIONS: 'TOO_MANY_CONNECTIONS',
  /** The address opened more connections in the last minute than HANDSHAKES_PER_MINUTE: retry after `retry_after_ms`. */
  RATE_LIMITED: 'RATE_LIMITED',
  SERVER_DRAINING: 'SERVER_DRAINING',
  /** Only /transcription is served: Socket.IO's default namespace "/" refuses with this (other names: Socket.IO's own "Invalid namespace"). */
  UNKNOWN_NAMESPACE: 'UNKNOWN_NAMESPACE',
} as const;

export type ConnectErrorCode = (typeof ConnectErrorCode)[keyof typeof ConnectErrorCode];

/** `connect_error`'s `data` when the server refuses a handshake. */
export interface ConnectErrorData {
  code: ConnectErrorCode;
  retry_after_ms?: number;
}
