// Error codes of the /transcription protocol and the refused-ack shape every handler answers with.

export const ErrorCode = {
  INVALID_PAYLOAD: 'INVALID_PAYLOAD',
  UNSUPPORTED_FORMAT: 'UNSUPPORTED_FORMAT',
  CHUNK_TOO_LARGE: 'CHUNK_TOO_LARGE',
  INVALID_AUDIO: 'INVALID_AUDIO',
  UNKNOWN_SESSION: 'UNKNOWN_SESSION',
  SESSION_ENDED: 'SESSION_ENDED',
  SEQ_GAP: 'SEQ_GAP',
  BUFFER_FULL: 'BUFFER_FULL',
  ENGINE_ERROR: 'ENGINE_ERROR',
  /** The engine refused one segment for good (e.g. the provider's 4xx): it is listed as untranscribed and the session goes on. */
  ENGINE_REJECTED: 'ENGINE_REJECTED',
  /** start_session named a model this server (ALLOWED_MODELS) or this connection's token does not allow. */
  INVALID_MODEL: 'INVALID_MODEL',
  STORE_UNAVAILABLE: 'STORE_UNAVAILABLE',
  /** The engine cannot serve a new session within MAX_RESULT_DELAY_MS: retry after `retry_after_ms`, or another node. */
  OVERLOADED: 'OVERLOADED',
  /** Audio arrives faster than the allowed multiple of real time (or events faster than allowed): wait `retry_after_ms`. */
  RATE_LIMITED: 'RATE_LIMITED',
  /** A per-connection or per-token limit on concurrent sessions is reached: end one first. */
  TOO_MANY_SESSIONS: 'TOO_MANY_SESSIONS',
  /** The session reached MAX_SESSION_MS (or its token's limit): no more audio is taken; end_session it and start a new one. */
  SESSION_TIME_LIMIT: 'SESSION_TIME_LIMIT',
  /** This node is shutting down: reconnect (through the load balancer) and resume. */
  SERVER_DRAINING: 'SERVER_DRAINING',
  INTERNAL_ERROR: 'INTERNAL_ERROR',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Codes a client may retry unchanged (after a pause or a reconnect). */
const RETRYABLE: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  ErrorCode.BUFFER_FULL,
  ErrorCode.ENGINE_ERROR,
  ErrorCode.STORE_UNAVAILABLE,
  ErrorCode.OVERLOADED,
  ErrorCode.RATE_LIMITED,
  ErrorCode.SERVER_DRAINING,
  ErrorCode.INTERNAL_ERROR,
]);

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
    this.retryable = details.retryable ?? RETRYABLE.has(code);
    this.details = details;
  }

  toBody(): ProtocolErrorBody {
    return { ...this.details, code: this.code, message: this.message, retryable: this.retryable };
  }
}

export function isRetryable(code: ErrorCode): boolean {
  return RETRYABLE.has(code);
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
} as const;

export type ConnectErrorCode = (typeof ConnectErrorCode)[keyof typeof ConnectErrorCode];

/** `connect_error`'s `data` when the server refuses a handshake. */
export interface ConnectErrorData {
  code: ConnectErrorCode;
  retry_after_ms?: number;
}
