// The Socket.IO handshake as the client sees it: the auth it sends (a fresh token per attempt when given a function)
// and what a refused handshake's connect_error says (ConnectErrorCode, retry_after_ms).
import type { ConnectErrorData, HandshakeAuth } from '../protocol/index.js';
import type { TranscriptionClientOptions } from './types.js';

/** socket.io-client's `auth`: an object, or a callback it calls before every connection attempt. */
export type SocketAuth = HandshakeAuth | ((send: (auth: object) => void) => void);

/**
 * Fixed auth, or (when `token` is a function) a callback fetching a fresh token for each attempt: short-lived tokens
 * would otherwise expire between reconnects. `attemptLive` says whether the attempt still wants the answer.
 */
export function handshakeAuth(
  options: Pick<TranscriptionClientOptions, 'token' | 'sentryTrace' | 'baggage'>,
  attemptLive: () => boolean,
  onTokenFailure: (error: unknown) => void,
): SocketAuth {
  const base: HandshakeAuth = definedOnly({ 'sentry-trace': options.sentryTrace, baggage: options.baggage });
  const token = options.token;
  if (typeof token !== 'function') return definedOnly({ ...base, token });
  return (send) => {
    Promise.resolve()
      .then(token)
      .then(
        (fresh) => {
          // The attempt may have been abandoned (close, a planned reconnect) while the token was on its way.
          if (attemptLive()) send({ ...base, token: fresh });
        },
        onTokenFailure,
      );
  };
}

/** The server's reason for refusing a handshake, when it gave one in `connect_error`'s `data`. */
export function refusalOf(error: Error): { code: string | undefined; retryAfterMs: number | undefined } {
  const data = (error as { data?: Partial<ConnectErrorData> }).data;
  return {
    code: typeof data?.code === 'string' ? data.code : undefined,
    retryAfterMs: typeof data?.retry_after_ms === 'number' ? data.retry_after_ms : undefined,
  };
}

/** socket.io's transport errors hide the useful part (e.g. ECONNREFUSED) in `description`. */
export function connectErrorText(error: Error): string {
  const description = (error as { description?: unknown }).description;
  return description instanceof Error ? `${error.message}: ${description.message}` : error.message;
}

/** The object without its undefined fields, so nothing sends `"field": undefined`. */
export function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
