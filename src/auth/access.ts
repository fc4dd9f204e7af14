// Builds the access parts from the settings: client tokens and their replay guard, the handshake middleware, the
// origin policy, the per-address limits and the token endpoint; the composition root wires them into the HTTP and
// Socket.IO servers.
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { createAddressRateLimit } from './address-rate-limit.js';
import { createClientTokens, type ClientTokens } from './client-tokens.js';
import { createConnectionCounter, type ConnectionCounter } from './connection-counter.js';
import { createHandshakeAuth, type Middleware } from './handshake-auth.js';
import { createConnectionLimit, createHandshakeRateLimit } from './handshake-limits.js';
import { createOriginPolicy, type OriginPolicy } from './origin-policy.js';
import { createRedisConnectionCounter } from './redis-connection-counter.js';
import { createMemoryReplayGuard, redisReplayGuard, type ReplayGuard } from './replay-guard.js';
import { createTokenEndpoint, rateLimitedTokens } from './token-endpoint.js';
import { connectRedis, REDIS_CHECK_TIMEOUT_MS, topologyOf, type RedisClient } from '../store/redis-connection.js';
import { sendError } from '../web-server/json-response.js';
import type { RequestHandler } from '../web-server/request-router.js';

export interface Access {
  /** Present when TOKEN_SECRET is set. */
  readonly clientTokens: ClientTokens | undefined;
  readonly originPolicy: OriginPolicy;
  readonly connections: ConnectionCounter;
  /** Namespace middleware, in order: attempts per address, who may connect, then how many per address. */
  readonly handshake: Middleware[];
  /** POST /v1/tokens (answers 404 with how to turn it on when API_KEYS is not set). */
  readonly tokenEndpoint: RequestHandler;
  close(): Promise<void>;
}

type AccessConfig = Pick<Config, 'authToken' | 'production' | 'auth' | 'redisKeyPrefix'>;

export interface AccessOptions {
  logger?: Logger;
  /** Default: in memory (the composition root passes the Redis one with REDIS_URL). */
  replayGuard?: ReplayGuard;
  /** With Redis configured: the per-address limits count here, across every worker and node, instead of per process. */
  redis?: RedisClient;
  /** The clock client tokens are issued, verified and claimed by (default Date.now); tests pass their own. */
  now?: () => number;
}

/** Synchronous; what it is given (replay guard, Redis) it closes with itself. */
export function createAccess(config: AccessConfig, options: AccessOptions = {}): Access {
  const { auth } = config;
  const { logger, redis, now = Date.now } = options;
  // With Redis, token claims live there (every node refuses a token another node already accepted), on the same
  // connection as the per-address limits.
  const replayGuard = options.replayGuard ?? (redis ? redisReplayGuard(redis, { keyPrefix: config.redisKeyPrefix, now }) : createMemoryReplayGuard(now));
  const clientTokens = auth.tokenSecrets.length > 0 ? createClientTokens({ secrets: auth.tokenSecrets, replayGuard, now }) : undefined;
  const connections = redis
    ? createRedisConnectionCounter({ redis, keyPrefix: config.redisKeyPrefix, maxPerAddress: auth.maxConnectionsPerIp, logger })
    : createConnectionCounter(auth.maxConnectionsPerIp);
  const handshake: Middleware[] = [];
  if (auth.handshakesPerMinute > 0) {
    const limit = createAddressRateLimit({ name: 'handshakes', setting: 'HANDSHAKES_PER_MINUTE', perMinute: auth.handshakesPerMinute, redis, keyPrefix: config.redisKeyPrefix });
    handshake.push(createHandshakeRateLimit(limit, { trustProxy: auth.trustProxy, logger }));
  }
  handshake.push(createHandshakeAuth({ authToken: config.authToken, clientTokens, logger }));
  if (auth.maxConnectionsPerIp > 0) {
    handshake.push(createConnectionLimit(connections, { trustProxy: auth.trustProxy, maxPerAddress: auth.maxConnectionsPerIp }));
  }
  let tokenEndpoint =
    clientTokens && auth.apiKeys.length > 0
      ? createTokenEndpoint({ apiKeys: auth.apiKeys, tokens: clientTokens, maxTtlS: auth.tokenMaxTtlS, logger })
      : tokensOff;
  if (auth.tokenRequestsPerMinute > 0) {
    const limit = createAddressRateLimit({ name: 'token-requests', setting: 'TOKEN_REQUESTS_PER_MINUTE', perMinute: auth.tokenRequestsPerMinute, redis, keyPrefix: config.redisKeyPrefix });
    tokenEndpoint = rateLimitedTokens(tokenEndpoint, limit, { trustProxy: auth.trustProxy, logger });
  }
  return {
    clientTokens,
    originPolicy: createOriginPolicy({ allowedOrigins: auth.allowedOrigins, production: config.production, trustProxy: auth.trustProxy }),
    connections,
    handshake,
    tokenEndpoint,
    async close() {
      await connections.close();
      await replayGuard.close();
      await redis?.quit().catch(() => redis.disconnect());
    },
  };
}

type RedisConfig = Pick<Config, 'redisUrl'> & Partial<Pick<Config, 'redis'>>;

/**
 * With Redis configured, the one connection for the handshake checks: client-token claims and the per-address limits
 * (connections open, handshakes and token requests per minute).
 */
export async function connectAccessRedis(config: RedisConfig): Promise<RedisClient | undefined> {
  const topology = topologyOf(config);
  if (!topology) return undefined;
  // Reconnects are ioredis's; a failed command is logged where it fails (at most once a minute), not per event.
  // Fail fast: a handshake must not wait on a Redis that does not answer (the limits then let it through, logged).
  return connectRedis(topology, { purpose: 'client-token replay protection and the per-address limits', failFast: { commandTimeoutMs: REDIS_CHECK_TIMEOUT_MS } });
}

/** NODE_ENV=production with ALLOW_ANONYMOUS=true: said once at start, so an open server is never a silent default. */
export function warnIfAnonymous(config: Pick<Config, 'production' | 'authToken' | 'auth'>, logger: Logger): void {
  const open = config.authToken === undefined && config.auth.tokenSecrets.length === 0;
  if (config.production && open) {
    logger.warn('ALLOW_ANONYMOUS=true: anyone who reaches PORT may connect and transcribe on this server\'s engine; set AUTH_TOKEN or TOKEN_SECRET + API_KEYS to require credentials (docs/security.md)');
  }
}

const tokensOff: RequestHandler = (request, response) => {
  request.resume();
  sendError(response, 404, 'not_found', 'Client tokens are off on this server: set API_KEYS and TOKEN_SECRET to issue them at POST /v1/tokens');
};
