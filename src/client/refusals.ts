// What the client does with each refusal the server answers: one table for the session requests and the chunk sender.
import { ErrorCode } from '../protocol/errors.js';
import type { ProtocolErrorBody } from '../protocol/index.js';
import { retryAfterDelay } from './backoff.js';
import { TranscriptionClientError } from './errors.js';

export type RefusalAction =
  /** SERVER_DRAINING: this node is going away; reconnect after `delayMs` (the load balancer picks another) and resume. */
  | { kind: 'move'; delayMs: number }
  /** BUFFER_FULL, OVERLOADED, RATE_LIMITED: ask again unchanged after `delayMs` (or a backoff), limited by time, not count. */
  | { kind: 'busy'; delayMs: number | undefined }
  /** Any other retryable refusal: ask again after a backoff, a bounded number of times. */
  | { kind: 'retry' }
  /** UNKNOWN_SESSION, SESSION_ENDED: the session itself is gone. */
  | { kind: 'session-gone' }
  /** Not retryable: this request will never be taken as it is. */
  | { kind: 'refused' };

const BUSY: ReadonlySet<string> = new Set([ErrorCode.BUFFER_FULL, ErrorCode.OVERLOADED, ErrorCode.RATE_LIMITED]);
const SESSION_GONE: ReadonlySet<string> = new Set([ErrorCode.UNKNOWN_SESSION, ErrorCode.SESSION_ENDED]);
/** Drain notices without a delay (older servers) still move: after a short pause. */
const DEFAULT_MOVE_DELAY_MS = 500;

export function refusalAction(error: ProtocolErrorBody): RefusalAction {
  const after = error.retry_after_ms;
  const delayMs = typeof after === 'number' && Number.isFinite(after) ? retryAfterDelay(after) : undefined;
  if (error.code === ErrorCode.SERVER_DRAINING) return { kind: 'move', delayMs: delayMs ?? retryAfterDelay(DEFAULT_MOVE_DELAY_MS) };
  if (BUSY.has(error.code)) return { kind: 'busy', delayMs };
  if (SESSION_GONE.has(error.code)) return { kind: 'session-gone' };
  return error.retryable ? { kind: 'retry' } : { kind: 'refused' };
}

export function refusalError(body: ProtocolErrorBody, sessionId: string | undefined, seq?: number): TranscriptionClientError {
  return new TranscriptionClientError(body.code, body.message, {
    retryable: body.retryable,
    sessionId,
    seq,
    expectedSeq: body.expected_seq,
    retryAfterMs: body.retry_after_ms,
  });
}

/** Anything thrown that is not already the client's error becomes INTERNAL_ERROR, with the original as its cause. */
export function asClientError(error: unknown, sessionId: string | undefined): TranscriptionClientError {
  if (error instanceof TranscriptionClientError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new TranscriptionClientError(ErrorCode.INTERNAL_ERROR, `Unexpected client failure: ${message}`, {
    retryable: false,
    sessionId,
    cause: error,
  });
}

/** The accepted payload without the `ok` flag, as the client's promises resolve with. */
export function stripOk<T extends { ok: true }>(response: T): Omit<T, 'ok'> {
  const { ok: _ok, ...rest } = response;
  return rest;
}
