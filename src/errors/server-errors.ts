// The catalogue of what can go wrong inside the server, one type per failure and layer (store, sessions, engine,
// scheduling, limits). None of them knows the wire: socket/wire-errors.ts alone turns them into protocol codes.

/** Base of every failure the server names: `retryable` says whether the same request may succeed later. */
export abstract class ServerError extends Error {
  abstract readonly retryable: boolean;
  /** Wait at least this long before retrying, when known. */
  readonly retryAfterMs?: number;

  constructor(message: string, options: { cause?: unknown; retryAfterMs?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = Math.max(0, Math.round(options.retryAfterMs));
  }
}

// --- Store ---

/** The buffer store (Redis) did not answer or failed a command. */
export class StoreUnavailableError extends ServerError {
  readonly retryable = true;
}

// --- Sessions ---

/** No live session with this id that the caller may use (never started, expired, or someone else's). */
export class UnknownSessionError extends ServerError {
  readonly retryable = false;
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
  readonly retryable = false;
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
  readonly retryable = false;
  constructor(
    readonly seq: number,
    readonly expectedSeq: number,
  ) {
    super(`seq ${seq} skips ahead; the server expects seq ${expectedSeq} next`);
  }
}

/** The session already buffers MAX_BUFFER_MS of audio awaiting transcription. */
export class BufferFullError extends ServerError {
  readonly retryable = true;
  constructor(sessionId: string, bufferedMs: number, maxBufferMs: number) {
    super(`session ${sessionId} already buffers ${bufferedMs} ms awaiting transcription (MAX_BUFFER_MS=${maxBufferMs}); resend this chunk shortly`);
  }
}

/** A per-connection or per-token cap on concurrent sessions. */
export class TooManySessionsError extends ServerError {
  readonly retryable = false;
}

/** The session reached its maximum duration. */
export class SessionTimeLimitError extends ServerError {
  readonly retryable = false;
}

// --- Engine and its scheduler ---

/** The engine gave up on a segment. `status` is the provider's HTTP status when there was one. */
export class EngineError extends ServerError {
  readonly retryable: boolean;
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
    this.retryable = options.retryable ?? true;
    if (options.status !== undefined) this.status = options.status;
    this.overload = options.overload ?? false;
    this.reason = options.reason ?? message;
  }
}

/**
 * The engine refused one segment for good (EngineError with retryable false): the segment is committed as not
 * transcribed and the session goes on. `cause` is the EngineError, with the detail for logs and Sentry.
 */
export class SegmentRejectedError extends ServerError {
  readonly retryable = false;
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
  readonly retryable = true;
}

// --- Limits and lifecycle ---

/** A client sends faster than its limit allows. */
export class RateLimitedError extends ServerError {
  readonly retryable = true;
}

/** How long a client is asked to wait before reconnecting after SERVER_DRAINING: long enough for the LB to see /readyz
 * fail, not more. The one value for every drain refusal (handshake, events, notice, start_session). */
export const DRAIN_RETRY_AFTER_MS = 500;

/** This node is shutting down and takes no new sessions. */
export class DrainingError extends ServerError {
  readonly retryable = true;

  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, retryAfterMs: DRAIN_RETRY_AFTER_MS });
  }
}
