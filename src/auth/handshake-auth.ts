// Socket.IO handshake middleware: who may connect (AUTH_TOKEN, or a client token redeemed once); refusals reach the
// client's connect_error with `data.code` and a message.
import type { Logger } from 'pino';
import type { Socket } from 'socket.io';
import { ConnectErrorCode, type ConnectErrorData, type HandshakeAuth } from '../protocol/index.js';
import { looksLikeClientToken, TokenError, type ClientTokens, type TokenGrant } from './client-tokens.js';
import { constantTimeEquals } from './constant-time.js';

/** What the handshake established about a connection; kept in `socket.data.grant` for the event handlers. */
export interface ConnectionGrant {
  /** open: the server requires nothing; server-token: AUTH_TOKEN; client-token: a token from POST /v1/tokens. */
  via: 'open' | 'server-token' | 'client-token';
  /** The client token's limits (client-token only). */
  token?: TokenGrant;
}

export type Middleware = (socket: Socket, next: (error?: Error) => void) => void;

/** An Error Socket.IO sends as connect_error: `message` for people, `data.code` for programs. */
export function connectError(code: ConnectErrorCode, message: string, retryAfterMs?: number): Error {
  const error = new Error(message) as Error & { data: ConnectErrorData };
  error.data = retryAfterMs === undefined ? { code } : { code, retry_after_ms: retryAfterMs };
  return error;
}

export interface HandshakeAuthOptions {
  authToken: string | undefined;
  /** Present when TOKEN_SECRET is set: client tokens are accepted. */
  clientTokens: ClientTokens | undefined;
  logger?: Logger;
}

/** Reads the grant the handshake left on a socket ("open" when the middleware did not run). */
export function grantOf(socket: { data: unknown }): ConnectionGrant {
  return ((socket.data as { grant?: ConnectionGrant } | undefined)?.grant) ?? { via: 'open' };
}

export function createHandshakeAuth({ authToken, clientTokens, logger }: HandshakeAuthOptions): Middleware {
  const required = authToken !== undefined || clientTokens !== undefined;
  const hint = clientTokens
    ? 'pass a client token from your backend (POST /v1/tokens) as auth.token in the Socket.IO handshake'
    : 'pass the server AUTH_TOKEN as auth.token in the Socket.IO handshake';
  return (socket, next) => {
    const grant = (value: ConnectionGrant) => {
      (socket.data as { grant?: ConnectionGrant }).grant = value;
      next();
    };
    if (!required) return grant({ via: 'open' });
    const token = ((socket.handshake.auth ?? {}) as HandshakeAuth).token;
    if (typeof token !== 'string' || token === '') return next(connectError(ConnectErrorCode.UNAUTHORIZED, `UNAUTHORIZED: ${hint} (none was sent)`));
    if (authToken !== undefined && constantTimeEquals(authToken, token)) return grant({ via: 'server-token' });
    if (!clientTokens || !looksLikeClientToken(token)) return next(connectError(ConnectErrorCode.UNAUTHORIZED, `UNAUTHORIZED: ${hint} (the one sent is not valid here)`));
    clientTokens.redeem(token).then(
      (tokenGrant) => grant({ via: 'client-token', token: tokenGrant }),
      (error: unknown) => {
        if (error instanceof TokenError) return next(connectError(error.code, error.message));
        // The replay store (Redis) did not answer: refuse rather than risk a replay; the client may retry.
        logger?.error({ err: error }, 'could not check a client token');
        next(connectError(ConnectErrorCode.UNAUTHORIZED, 'UNAUTHORIZED: the server could not check the token right now; reconnect with a fresh token shortly'));
      },
    );
  };
}
