// Turns whatever a handler threw into a refused ack, and says whether it was the client's input or our fault.
import type { z } from 'zod';
import { ErrorCode, ProtocolError, type ClientEventName, type Refused } from '../protocol/index.js';

/** Codes caused by the client's input: a non-ok span status, never a captured exception. */
const CLIENT_FAULTS: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  ErrorCode.INVALID_PAYLOAD,
  ErrorCode.UNSUPPORTED_FORMAT,
  ErrorCode.CHUNK_TOO_LARGE,
  ErrorCode.INVALID_AUDIO,
  ErrorCode.UNKNOWN_SESSION,
  ErrorCode.SESSION_ENDED,
  ErrorCode.SEQ_GAP,
  ErrorCode.BUFFER_FULL,
]);

export function isClientFault(code: ErrorCode): boolean {
  return CLIENT_FAULTS.has(code);
}

export function toProtocolError(error: unknown): ProtocolError {
  if (error instanceof ProtocolError) return error;
  return new ProtocolError(ErrorCode.INTERNAL_ERROR, 'The server failed to handle this event; it was logged. Retry it.');
}

export function refused(error: ProtocolError): Refused {
  return { ok: false, error: error.toBody() };
}

/** INVALID_PAYLOAD naming the event, the field and what is wrong with it. */
export function invalidPayload(event: ClientEventName, error: z.ZodError): ProtocolError {
  const issue = error.issues[0];
  const field = issue && issue.path.length > 0 ? issue.path.join('.') : 'payload';
  const message =
    issue?.code === 'unrecognized_keys'
      ? `unknown field(s) ${issue.keys.join(', ')}`
      : issue?.code === 'invalid_type' && issue.path.length === 0
        ? 'must be an object'
        : (issue?.message ?? 'is invalid');
  return new ProtocolError(ErrorCode.INVALID_PAYLOAD, `${event}: ${field} ${message}`.replace(/ +/g, ' '));
}
