// The error catalogue is the one definition of each code: what the client is told, the span status and the
// client library's words all follow it, and an error raised in the server carries its code itself.
import { describe, expect, it } from 'vitest';
import { describeError } from '../../src/client/errors.js';
import * as serverErrors from '../../src/errors/server-errors.js';
import { toWireError, wireCodeOf } from '../../src/errors/wire-errors.js';
import { ERROR_CATALOGUE, ErrorCode, isClientFault, isRetryable, ProtocolError } from '../../src/protocol/errors.js';

const { EngineError, ServerError } = serverErrors;

/** One instance of every ServerError class the server defines, built with plausible arguments. */
function everyServerError(): InstanceType<typeof ServerError>[] {
  const made: InstanceType<typeof ServerError>[] = [];
  for (const value of Object.values(serverErrors)) {
    if (typeof value !== 'function' || !(value.prototype instanceof ServerError)) continue;
    const Class = value as unknown as new (...args: unknown[]) => InstanceType<typeof ServerError>;
    const args: Record<string, unknown[]> = {
      UnknownSessionError: ['s1', 'not-found'],
      SessionEndedError: ['s1', false],
      SequenceGapError: [7, 3],
      BufferFullError: ['s1', 5000, 4000],
      SegmentRejectedError: ['s1', 2, 1000, 3000, '400 bad model'],
    };
    made.push(new Class(...(args[value.name] ?? ['what went wrong'])));
  }
  return made;
}

describe('the error catalogue', () => {
  it('names each code by itself and gives every one a retry rule, a fault, a span status and words for people', () => {
    for (const [code, spec] of Object.entries(ERROR_CATALOGUE)) {
      expect(ErrorCode[code as ErrorCode]).toBe(code);
      expect(typeof spec.retryable).toBe('boolean');
      expect(['client', 'server']).toContain(spec.fault);
      expect(spec.spanStatus).toMatch(/^[a-z_]+$/);
      expect(describeError(code)).toBe(spec.forPeople);
    }
  });

  it('every server error carries a catalogued code, and the client is told that code with its retry rule', () => {
    const errors = everyServerError();
    expect(errors.length).toBeGreaterThanOrEqual(12);
    for (const error of errors) {
      expect(Object.keys(ERROR_CATALOGUE)).toContain(error.code);
      expect(wireCodeOf(error)).toBe(error.code);
      const body = toWireError(error, 'audio_chunk');
      expect(body.code).toBe(error.code);
      expect(body.retryable).toBe(error instanceof EngineError ? error.retryable : isRetryable(error.code));
    }
  });

  it('an engine failure keeps its own retry rule (a 4xx is final, a 503 is not), under one code', () => {
    expect(new EngineError('400', { status: 400, retryable: false }).retryable).toBe(false);
    expect(new EngineError('503', { status: 503 }).retryable).toBe(true);
    expect(wireCodeOf(new EngineError('400', { retryable: false }))).toBe('ENGINE_ERROR');
  });

  it('anything else is INTERNAL_ERROR with a fixed sentence, never its own message', () => {
    const body = toWireError(new Error('redis://user:secret@10.0.0.1 said no'));
    expect(body).toEqual({ code: 'INTERNAL_ERROR', message: expect.not.stringContaining('secret'), retryable: true });
    expect(new ProtocolError(ErrorCode.SEQ_GAP, 'x').retryable).toBe(false);
    expect(isClientFault('OVERLOADED')).toBe(true);
    expect(isClientFault('STORE_UNAVAILABLE')).toBe(false);
  });
});
