// The one place where the server's errors become the protocol's `{ code, message, retryable }`: acks, the
// transcription_error event and telemetry's error codes all come from here.
import { ErrorCode, ProtocolError, type ClientEventName, type ErrorCode as Code, type ProtocolErrorBody } from '../protocol/index.js';
import {
  BufferFullError,
  DrainingError,
  EngineError,
  OverloadedError,
  RateLimitedError,
  SegmentRejectedError,
  SequenceGapError,
  ServerError,
  SessionEndedError,
  SessionTimeLimitError,
  StoreUnavailableError,
  TooManySessionsError,
  UnknownSessionError,
} from './server-errors.js';

/** Codes caused by the client's input or the client's pace: a non-ok span status, never a captured exception. */
const CLIENT_FAULTS: ReadonlySet<Code> = new Set<Code>([
  ErrorCode.INVALID_PAYLOAD,
  ErrorCode.UNSUPPORTED_FORMAT,
  ErrorCode.CHUNK_TOO_LARGE,
  ErrorCode.INVALID_AUDIO,
  ErrorCode.UNKNOWN_SESSION,
  ErrorCode.SESSION_ENDED,
  ErrorCode.SEQ_GAP,
  ErrorCode.BUFFER_FULL,
  ErrorCode.RATE_LIMITED,
  ErrorCode.TOO_MANY_SESSIONS,
  ErrorCode.SESSION_TIME_LIMIT,
  ErrorCode.OVERLOADED,
  ErrorCode.SERVER_DRAINING,
  ErrorCode.INVALID_MODEL,
]);

/** Each catalogued error's code: what the client is told and what telemetry reports the failure under. */
export function wireCodeOf(error: unknown): Code {
  if (error instanceof ProtocolError) return error.code;
  if (error instanceof UnknownSessionError) return ErrorCode.UNKNOWN_SESSION;
  if (error instanceof SessionEndedError) return ErrorCode.SESSION_ENDED;
  if (error instanceof SequenceGapError) return ErrorCode.SEQ_GAP;
  if (error instanceof BufferFullError) return ErrorCode.BUFFER_FULL;
  if (error instanceof SegmentRejectedError) return ErrorCode.ENGINE_REJECTED;
  if (error instanceof EngineError) return ErrorCode.ENGINE_ERROR;
  if (error instanceof StoreUnavailableError) return ErrorCode.STORE_UNAVAILABLE;
  if (error instanceof OverloadedError) return ErrorCode.OVERLOADED;
  if (error instanceof RateLimitedError) return ErrorCode.RATE_LIMITED;
  if (error instanceof TooManySessionsError) return ErrorCode.TOO_MANY_SESSIONS;
  if (error instanceof SessionTimeLimitError) return ErrorCode.SESSION_TIME_LIMIT;
  if (error instanceof DrainingError) return ErrorCode.SERVER_DRAINING;
  return ErrorCode.INTERNAL_ERROR;
}

export function isClientFault(code: Code): boolean {
  return CLIENT_FAULTS.has(code);
}

/** What the client is told. `event` prefixes the message, so it says which request it answers. */
export function toWireError(error: unknown, event?: ClientEventName): ProtocolErrorBody {
  if (error instanceof ProtocolError) return error.toBody();
  const code = wireCodeOf(error);
  if (code === ErrorCode.INTERNAL_ERROR || !(error instanceof ServerError)) {
    // A bug's message may hold anything: the client gets a fixed sentence, the log gets the error.
    return { code: ErrorCode.INTERNAL_ERROR, message: 'The server failed to handle this event; it was logged. Retry it.', retryable: true };
  }
  let message = error.message;
  if (error instanceof EngineError) {
    // The reason, not the message: the message names the provider's endpoint and request id (logs and Sentry only).
    message = `transcription failed (${error.reason}); the audio is kept, ${event === 'end_session' ? 'call end_session again' : 'and retried with the next segment or at end_session'}`;
  }
  const body: ProtocolErrorBody = { code, message: event ? `${event}: ${message}` : message, retryable: error.retryable };
  if (error instanceof SequenceGapError) body.expected_seq = error.expectedSeq;
  if (error instanceof SegmentRejectedError) Object.assign(body, { segment: error.segment, start_ms: error.startMs, end_ms: error.endMs });
  if (error.retryAfterMs !== undefined) body.retry_after_ms = error.retryAfterMs;
  return body;
}
