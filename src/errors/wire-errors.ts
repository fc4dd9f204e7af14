// The one place where the server's errors become the protocol's `{ code, message, retryable }`: acks, the
// transcription_error event and telemetry's error codes all come from here.
import { ErrorCode, ProtocolError, type ClientEventName, type ErrorCode as Code, type ProtocolErrorBody } from '../protocol/index.js';
import { EngineError, SegmentRejectedError, SequenceGapError, ServerError } from './server-errors.js';

/** Each catalogued error's code, carried by the error itself: what the client is told and telemetry counts. */
export function wireCodeOf(error: unknown): Code {
  if (error instanceof ProtocolError || error instanceof ServerError) return error.code;
  return ErrorCode.INTERNAL_ERROR;
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
