// Builds the access parts from the settings: client tokens and their replay guard, the handshake middleware, the
// origin policy and the token endpoint; the composition root wires them into the HTTP and Socket.IO servers.
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { createClientTokens, type ClientTokens } from './client-tokens.js';
import { createConnectionCounter, type ConnectionCounter } from './connection-counter.js';
import { createConnectionLimit, createHandshakeAuth, type Middleware } from './handshake-auth.js';
import { createOriginPolicy, type OriginPolicy } from './origin-policy.js';
import { createMemoryReplayGuard, createRedisReplayGuard, type ReplayGuard } from './replay-guard.js';
import { createTokenEndpoint, type RequestHandler } from './token-endpoint.js';

export interface Access {
  /** Present when TOKEN_SECRET is set. */
  readonly clientTokens: ClientTokens | undefined;
  readonly originPolicy: OriginPolicy;
  readonly connections: ConnectionCounter;
  /** Namespace middleware, in order: who may connect, then how many per address. */
  readonly handshake: Middleware[];
  /** POST /v1/tokens (answers 404 with how to turn it on when API_KEYS is not set). */
  readonly tokenEndpoint: RequestHandler;
  close(): Promise<void>;
}

type AccessConfig = Pick<Config, 'authToken' | 'production' | 'auth'>;

/** Synchronous, with an in-memory replay guard unless one is given (main.ts passes the Redis one with REDIS_URL). */
export function createAccess(config: AccessConfig, options: { logger?: Logger; replayGuard?: ReplayGuard } = {}): Access {
  const { auth } = config;
  const replayGuard = options.replayGuard ?? createMemoryReplayGuard();
  const clientTokens = auth.tokenSecrets.length > 0 ? createClientTokens({ secrets: auth.tokenSecrets, replayGuard }) : undefined;
  const connections = createConnectionCounter(auth.maxConnectionsPerIp);
  const handshake: Middleware[] = [createHandshakeAuth({ authToken: config.authToken, clientTokens, logger: options.logger })];
  if (auth.maxConnectionsPerIp > 0) {
    handshake.push(createConnectionLimit(connections, { trustProxy: auth.trustProxy, maxPerAddress: auth.maxConnectionsPerIp }));
  }
  return {
    clientTokens,
    originPolicy: createOriginPolicy({ allowedOrigins: auth.allowedOrigins, production: config.production, trustProxy: auth.trustProxy }),
    connections,
    handshake,
    tokenEndpoint:
      clientTokens && auth.apiKeys.length > 0
        ? createTokenEndpoint({ apiKeys: auth.apiKeys, tokens: clientTokens, maxTtlS: auth.tokenMaxTtlS, logger: options.logger })
        : tokensOff,
    close: () => replayGuard.close(),
  };
}

/** With REDIS_URL, token claims live in Redis so every node refuses a token another node already accepted. */
export async function createReplayGuard(config: Pick<Config, 'redisUrl' | 'redisKeyPrefix'>): Promise<ReplayGuard> {
  if (!config.redisUrl) return createMemoryReplayGuard();
  return createRedisReplayGuard({ url: config.redisUrl, keyPrefix: config.redisKeyPrefix });
}

const tokensOff: RequestHandler = (request, response) => {
  request.resume();
  const text = JSON.stringify({ error: 'not_found', message: 'Client tokens are off on this server: set API_KEYS and TOKEN_SECRET to issue them at POST /v1/tokens' });
  response.writeHead(404, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  response.end(text);
};
