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
  STORE_UNAVAILABLE: 'STORE_UNAVAILABLE',
  INTERNAL_ERROR: 'INTERNAL_ERROR',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Codes a client may retry unchanged (after a pause or a reconnect). */
const RETRYABLE: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  ErrorCode.BUFFER_FULL,
  ErrorCode.ENGINE_ERROR,
  ErrorCode.STORE_UNAVAILABLE,
  ErrorCode.INTERNAL_ERROR,
]);

export interface ProtocolErrorBody {
  code: ErrorCode;
  message: string;
  retryable: boolean;
  /** SEQ_GAP only: the sequence number the server expects next. */
  expected_seq?: number;
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
