// What can go wrong inside the server, one type per failure and layer (store, sessions, engine, scheduling, limits).
// Each names its protocol code; the code's properties (retryable, whose fault, span status) live once, in the
// protocol's ERROR_CATALOGUE. errors/wire-errors.ts turns them into what the client is told.
import { ERROR_CATALOGUE, ErrorCode } from '../protocol/errors.js';

/** Base of every failure the server names. */
export abstract class ServerError extends Error {
  /** The protocol code the client is told and telemetry counts it under. */
  abstract readonly code: ErrorCode;
  /** Wait at least this long before retrying, when known. */
  readonly retryAfterMs?: number;

  constructor(message: string, options: { cause?: unknown; retryAfterMs?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = Math.max(0, Math.round(options.retryAfterMs));
  }

  /** Whether the same request may succeed later: the code's, unless a failure knows better (EngineError). */
  get retryable(): boolean {
    return ERROR_CATALOGUE[this.code].retryable;
  }
}

// --- Store ---

/** The buffer store (Redis) did not answer or failed a command. */
export class StoreUnavailableError extends ServerError {
  readonly code = ErrorCode.STORE_UNAVAILABLE;
}

// --- Sessions ---

/** No live session with this id that the caller may use (never started, expired, or someone else's). */
export class UnknownSessionError extends ServerError {
  readonly code = ErrorCode.UNKNOWN_SESSION;
  constructor(
    readonly sessionId: string,
    readonly reason: 'not-found' | 'expired',
    message?: string,
  ) {
    super(
      message ??
        (reason === 'expired'
          ? `session ${sessionId} expired (sessions expire after SESSION_TTL_S idle)`
          : `no live session ${sessionId}; call start_session first (sessions expire after SESSION_TTL_S idle)`),
    );
  }
}

/** The session has ended, or end_session is finishing it. */
export class SessionEndedError extends ServerError {
  readonly code = ErrorCode.SESSION_ENDED;
  constructor(
    readonly sessionId: string,
    readonly ending: boolean,
    message?: string,
  ) {
    super(
      message ??
        (ending
          ? `session ${sessionId} is ending; start a new session for more audio`
          : `session ${sessionId} has ended; start a new session for more audio`),
    );
  }
}

/** A chunk's seq skips ahead of what the session expects. */
export class SequenceGapError extends ServerError {
  readonly code = ErrorCode.SEQ_GAP;
  constructor(
    readonly seq: number,
    readonly expectedSeq: number,
  ) {
    super(`seq ${seq} skips ahead; the server expects seq ${expectedSeq} next`);
  }
}

/** The session already buffers MAX_BUFFER_MS of audio awaiting transcription. */
export class BufferFullError extends ServerError {
  readonly code = ErrorCode.BUFFER_FULL;
  constructor(sessionId: string, bufferedMs: number, maxBufferMs: number) {
    super(`session ${sessionId} already buffers ${bufferedMs} ms awaiting transcription (MAX_BUFFER_MS=${maxBufferMs}); resend this chunk shortly`);
  }
}

/** A per-connection or per-token cap on concurrent sessions. */
export class TooManySessionsError extends ServerError {
  readonly code = ErrorCode.TOO_MANY_SESSIONS;
}

/** The session reached its maximum duration. */
export class SessionTimeLimitError extends ServerError {
  readonly code = ErrorCode.SESSION_TIME_LIMIT;
}

// --- Engine and its scheduler ---

/** The engine gave up on a segment. `status` is the provider's HTTP status when there was one. */
export class EngineError extends ServerError {
  readonly code = ErrorCode.ENGINE_ERROR;
  /** Whether the scheduler may retry it: a time-out, 429 or 5xx may pass; a 4xx will not. */
  private readonly mayRetry: boolean;
  /** HTTP status of a remote engine's answer; undefined for a time-out, a network failure or a local engine. */
  readonly status?: number;
  /** The failure means "too much at once" (429, 503, time-out): the scheduler lowers its concurrency. */
  readonly overload: boolean;
  /**
   * What the client is told: the status and the provider's own words, without the endpoint or request id the
   * message holds for logs and Sentry. Defaults to the message (local engines name nothing internal).
   */
  readonly reason: string;

  constructor(
    message: string,
    options: { retryable?: boolean; cause?: unknown; status?: number; overload?: boolean; retryAfterMs?: number; reason?: string } = {},
  ) {
    super(message, options);
    this.mayRetry = options.retryable ?? true;
    if (options.status !== undefined) this.status = options.status;
    this.overload = options.overload ?? false;
    this.reason = options.reason ?? message;
  }

  override get retryable(): boolean {
    return this.mayRetry;
  }
}

/**
 * The engine refused one segment for good (EngineError with retryable false): the segment is committed as not
 * transcribed and the session goes on. `cause` is the EngineError, with the detail for logs and Sentry.
 */
export class SegmentRejectedError extends ServerError {
  readonly code = ErrorCode.ENGINE_REJECTED;
  constructor(
    readonly sessionId: string,
    readonly segment: number,
    readonly startMs: number,
    readonly endMs: number,
    /** The engine's client-safe reason. */
    readonly reason: string,
    options: { cause?: unknown } = {},
  ) {
    super(`segment ${segment} (${startMs}–${endMs} ms) was not transcribed: the engine refused it (${reason}); later segments go on`, options);
  }
}

/** The chosen engine cannot run on this machine: start-up stops with this message. */
export class EngineUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineUnavailableError';
  }
}

/** The engine cannot serve a new session within MAX_RESULT_DELAY_MS. */
export class OverloadedError extends ServerError {
  readonly code = ErrorCode.OVERLOADED;
}

// --- Limits and lifecycle ---

/** A client sends faster than its limit allows. */
export class RateLimitedError extends ServerError {
  readonly code = ErrorCode.RATE_LIMITED;
}

/** How long a client is asked to wait before reconnecting after SERVER_DRAINING: long enough for the LB to see /readyz
 * fail, not more. The one value for every drain refusal (handshake, events, notice, start_session). */
export const DRAIN_RETRY_AFTER_MS = 500;

/** This node is shutting down and takes no new sessions. */
export class DrainingError extends ServerError {
  readonly code = ErrorCode.SERVER_DRAINING;

  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, retryAfterMs: DRAIN_RETRY_AFTER_MS });
  }
}

// --- Audio ---

/** A chunk's bytes do not decode in the session's format: nothing was appended, the session goes on. */
export class AudioDecodeFailedError extends ServerError {
  readonly code = ErrorCode.AUDIO_DECODE_FAILED;
}
