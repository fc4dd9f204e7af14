// Refusals of a payload the client got wrong: INVALID_PAYLOAD naming the event, the field and what is wrong.
import type { z } from 'zod';
import { ErrorCode, ProtocolError, type ClientEventName } from '../protocol/index.js';

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
