// Errors the client reports: protocol refusals plus its own failures, and plain-words descriptions for people.
import { ConnectErrorCode, ERROR_CATALOGUE, ErrorCode, isRetryable } from '../protocol/errors.js';

/** Failures the client detects itself, next to the server's protocol codes. */
export const ClientErrorCode = {
  /** The server did not answer an event within the ack timeout, even after retries. */
  ACK_TIMEOUT: 'ACK_TIMEOUT',
  /** The connection was lost and could not be re-established. */
  DISCONNECTED: 'DISCONNECTED',
  /** The server refused the connection (for example a missing or wrong token). */
  CONNECT_REFUSED: 'CONNECT_REFUSED',
  /** The server accepted the session but no longer has some audio the client had already seen acknowledged. */
  AUDIO_LOST: 'AUDIO_LOST',
  /** A chunk was sent or a session ended before start() succeeded. */
  NO_SESSION: 'NO_SESSION',
  /** start() was called while a session is still running. */
  SESSION_ACTIVE: 'SESSION_ACTIVE',
  /** close() was called. */
  CLOSED: 'CLOSED',
} as const;

export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];
export type TranscriptionErrorCode = ErrorCode | ClientErrorCode;

export interface TranscriptionClientErrorDetails {
  retryable?: boolean;
  sessionId?: string;
  seq?: number;
  segment?: number;
  expectedSeq?: number;
  /** The more precise reason behind the code: for CONNECT_REFUSED, the server's ConnectErrorCode (e.g. TOKEN_EXPIRED). */
  detail?: string;
  /** The server asked to wait this long before trying again (OVERLOADED, RATE_LIMITED, SERVER_DRAINING). */
  retryAfterMs?: number;
  cause?: unknown;
}

/** Every error the client rejects with or emits: `code` is a protocol code or a ClientErrorCode. */
export class TranscriptionClientError extends Error {
  readonly code: TranscriptionErrorCode;
  readonly retryable: boolean;
  readonly sessionId: string | undefined;
  readonly seq: number | undefined;
  readonly segment: number | undefined;
  readonly expectedSeq: number | undefined;
  readonly detail: string | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(code: TranscriptionErrorCode, message: string, details: TranscriptionClientErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'TranscriptionClientError';
    this.code = code;
    this.retryable = details.retryable ?? (code in ErrorCode ? isRetryable(code as ErrorCode) : false);
    this.sessionId = details.sessionId;
    this.seq = details.seq;
    this.segment = details.segment;
    this.expectedSeq = details.expectedSeq;
    this.detail = details.detail;
    this.retryAfterMs = details.retryAfterMs;
  }

  /** The error in words for a person, e.g. for a status line on the page. */
  describe(): string {
    const precise = this.detail === undefined ? undefined : (CONNECT_DESCRIPTIONS as Record<string, string | undefined>)[this.detail];
    return precise ? `${precise} (${this.message})` : describeError(this.code, this.message);
  }
}

/** Wire codes are described in the protocol's catalogue; the client's own codes here. */
const DESCRIPTIONS: Record<TranscriptionErrorCode, string> = {
  ...(Object.fromEntries(Object.entries(ERROR_CATALOGUE).map(([code, spec]) => [code, spec.forPeople])) as Record<ErrorCode, string>),
  ACK_TIMEOUT: 'The server stopped answering in time.',
  DISCONNECTED: 'Could not reach the server, or the connection was lost and could not be restored.',
  CONNECT_REFUSED: 'The server refused the connection. Check the access token.',
  AUDIO_LOST: 'The server lost some recent audio (it may have restarted); the transcript may miss a few words.',
  NO_SESSION: 'No transcription session is running. Start one first.',
  SESSION_ACTIVE: 'A transcription session is already running. Stop it before starting another.',
  CLOSED: 'The connection was closed.',
};

/** Why a handshake was refused (CONNECT_REFUSED's `detail`), for a person. */
const CONNECT_DESCRIPTIONS: Record<ConnectErrorCode, string> = {
  UNAUTHORIZED: 'The server refused the connection. Check the access token: it is missing or wrong.',
  TOKEN_EXPIRED: 'The server refused the connection: the access token has expired. Get a new token.',
  TOKEN_INVALID: 'The server refused the connection. Check the access token: it is not valid.',
  TOKEN_REPLAYED: 'The server refused the connection: this one-time access token was already used. Get a new token.',
  ORIGIN_NOT_ALLOWED: 'The server does not accept connections from this page\'s address (origin).',
  TOO_MANY_CONNECTIONS: 'The server refused the connection: too many connections are open from here. Close some and try again.',
  RATE_LIMITED: 'The server refused the connection: too many connection attempts from here. Trying again shortly.',
  SERVER_DRAINING: 'The server is shutting down and took no new connection; try again in a moment.',
  UNKNOWN_NAMESPACE: 'The server serves the /transcription namespace only; this app connected to another one.',
};

/**
 * Turns a protocol or client error code into a sentence for a person; the server's own message is added
 * when it says more than the code does. Unknown codes fall back to the message itself.
 */
export function describeError(code: string, message?: string): string {
  const known = (DESCRIPTIONS as Record<string, string | undefined>)[code];
  const detail = message?.trim();
  if (!known) return detail ? detail : `Unexpected error (${code}).`;
  if (!detail || detail === code) return known;
  return `${known} (${detail})`;
}
