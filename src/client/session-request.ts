// The one retry loop of the session's requests (start_session, end_session): asked again across disconnects
// (uncounted), busy refusals (after the server's delay, for a time), drain moves, and timeouts or retryable refusals
// (counted, with backoff).
import type { Ack, ProtocolErrorBody } from '../protocol/index.js';
import { backoffDelay, type RetryPolicy } from './backoff.js';
import type { Connection, TranscriptionSocket } from './connection.js';
import { TranscriptionClientError } from './errors.js';
import { refusalAction, refusalError, stripOk } from './refusals.js';
import type { Pauses } from './waiters.js';

/** Returned by a request's own handlers: send it again (on whatever connection is up next). */
export const ASK_AGAIN = Symbol('ask again');
type AskAgain = typeof ASK_AGAIN;

export interface SessionRequest<T, R> {
  /** Throws when the session is no longer running (closed, failed). */
  check(): void;
  /** Resolves with the socket once the request may be sent. */
  ready(): Promise<TranscriptionSocket>;
  send(socket: TranscriptionSocket): Promise<Ack<T>>;
  /** An accepted answer; `current` is false when its connection has gone since. */
  accepted(answer: T, current: boolean): R | AskAgain;
  /** A refusal this request handles itself, before the shared rules (`{ result }` ends the loop); undefined leaves it to them. */
  refused?(error: ProtocolErrorBody, current: boolean): { result: R } | AskAgain | undefined;
  /** The error for an answer that did not come in time on a live connection; a retryable one is asked again. */
  unanswered(cause: unknown): TranscriptionClientError;
}

export interface SessionRequestContext {
  connection: Connection;
  pauses: Pauses;
  retry: RetryPolicy;
  sessionId(): string | undefined;
  /** A retryable failure the request rides out, for listeners. */
  report(error: TranscriptionClientError): void;
}

export async function askUntilAnswered<T, R>(request: SessionRequest<T, R>, context: SessionRequestContext): Promise<R> {
  const { connection, pauses, retry } = context;
  let retries = 0;
  let busyRefusals = 0;
  let busySince: number | undefined;
  for (;;) {
    request.check();
    const socket = await request.ready();
    request.check();
    const id = connection.id;
    let failure: TranscriptionClientError;
    try {
      const response = await request.send(socket);
      request.check();
      const current = connection.isCurrent(id);
      if (response.ok) {
        const outcome = request.accepted(stripOk(response) as T, current);
        if (outcome === ASK_AGAIN) continue;
        return outcome;
      }
      const own = request.refused?.(response.error, current);
      if (own === ASK_AGAIN) continue;
      if (own !== undefined) return own.result;
      failure = refusalError(response.error, context.sessionId());
      const action = refusalAction(response.error);
      if (action.kind === 'move') {
        connection.moveAway(action.delayMs);
        continue;
      }
      if (action.kind === 'busy') {
        // Backpressure, not a fault: wait as asked, and give up only when it lasts too long.
        busySince ??= performance.now();
        if (performance.now() - busySince > retry.busyLimitMs) {
          throw new TranscriptionClientError(failure.code, `${failure.message} Still refused after ${retry.busyLimitMs} ms.`, {
            retryable: false,
            sessionId: failure.sessionId,
            retryAfterMs: failure.retryAfterMs,
          });
        }
        busyRefusals += 1;
        await pauses.sleep(action.delayMs ?? backoffDelay(busyRefusals, retry.backoff));
        continue;
      }
      if (action.kind !== 'retry') throw failure;
    } catch (error) {
      if (error instanceof TranscriptionClientError) throw error;
      // Lost with the connection: asked again on the next one.
      if (!connection.isCurrent(id)) continue;
      failure = request.unanswered(error);
      if (!failure.retryable) throw failure;
    }
    retries += 1;
    if (retries > retry.attempts) throw failure;
    context.report(failure);
    await pauses.sleep(backoffDelay(retries, retry.backoff));
  }
}
