// Socket.IO handshake middleware limiting one client address: connection attempts per minute (HANDSHAKES_PER_MINUTE)
// and connections open at once (MAX_CONNECTIONS_PER_IP). Both answer connect_error with `data.retry_after_ms`.
import type { Logger } from 'pino';
import { ConnectErrorCode } from '../protocol/index.js';
import type { AddressRateLimit } from './address-rate-limit.js';
import { clientAddress } from './client-address.js';
import type { ConnectionCounter } from './connection-counter.js';
import { connectError, type Middleware } from './handshake-auth.js';

/** How long a client refused for TOO_MANY_CONNECTIONS is asked to wait: a connection of the same address may close by then. */
const TOO_MANY_CONNECTIONS_RETRY_MS = 5000;

/** Refuses a handshake past the address's attempts per minute; runs before the credentials are checked, so guessing them is limited too. */
export function createHandshakeRateLimit(limit: AddressRateLimit, options: { trustProxy: boolean; logger?: Logger }): Middleware {
  return (socket, next) => {
    const address = clientAddress(socket.handshake.address, socket.handshake.headers, options.trustProxy);
    limit.take(address).then(
      (waitMs) => {
        if (waitMs === undefined) return next();
        next(
          connectError(
            ConnectErrorCode.RATE_LIMITED,
            `RATE_LIMITED: this address opened more than ${limit.perMinute} connections in a minute (${limit.setting}); connect again after retry_after_ms`,
            waitMs,
          ),
        );
      },
      (error: unknown) => {
        // Not a refusal: the limiter itself failed. Let the client in rather than lock everyone out.
        options.logger?.warn({ err: error }, `${limit.setting}: the rate limiter failed; handshake let through`);
        next();
      },
    );
  };
}

/** Refuses a connection when its address already holds MAX_CONNECTIONS_PER_IP; the count is released when it closes. */
export function createConnectionLimit(counter: ConnectionCounter, options: { trustProxy: boolean; maxPerAddress: number }): Middleware {
  return (socket, next) => {
    const address = clientAddress(socket.handshake.address, socket.handshake.headers, options.trustProxy);
    void counter.acquire(address).then((release) => {
      if (!release) {
        return next(
          connectError(
            ConnectErrorCode.TOO_MANY_CONNECTIONS,
            `TOO_MANY_CONNECTIONS: this address already holds ${options.maxPerAddress} connections (MAX_CONNECTIONS_PER_IP); close one, or share one connection between sessions`,
            TOO_MANY_CONNECTIONS_RETRY_MS,
          ),
        );
      }
      // The transport may have closed while the count was taken (the count lives in Redis): release at once.
      if (socket.conn.readyState !== 'open') {
        release();
        return next(new Error('the transport closed during the handshake'));
      }
      // Whichever comes first: the namespace socket leaves, or the whole transport closes.
      socket.once('disconnect', release);
      socket.conn.once('close', release);
      next();
    });
  };
}
