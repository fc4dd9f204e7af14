// Remembers which client tokens have been used until they expire, so a token opens one connection only: in Redis
// when Redis is configured (every node of a deployment sees the same claims), else in this process's memory.
import { connectRedis, REDIS_CHECK_TIMEOUT_MS, type RedisClient, type RedisTopology } from '../store/redis-connection.js';

export interface ReplayGuard {
  /** True the first time `tokenId` is claimed before `expiresAtMs`; false for every later claim. */
  claim(tokenId: string, expiresAtMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/** Sweeps expired ids at most this often: claims are rare (one per connection), so a scan is cheap enough. */
const SWEEP_EVERY_MS = 10_000;

export function createMemoryReplayGuard(now: () => number = Date.now): ReplayGuard {
  const claimed = new Map<string, number>();
  let lastSweep = now();
  return {
    async claim(tokenId, expiresAtMs) {
      const at = now();
      if (at - lastSweep > SWEEP_EVERY_MS) {
        lastSweep = at;
        for (const [id, expiry] of claimed) if (expiry <= at) claimed.delete(id);
      }
      const expiry = claimed.get(tokenId);
      if (expiry !== undefined && expiry > at) return false;
      claimed.set(tokenId, expiresAtMs);
      return true;
    },
    async close() {
      claimed.clear();
    },
  };
}

/** Claims in Redis on a connection the caller owns (and closes): the one the other handshake checks use. */
export function redisReplayGuard(redis: RedisClient, options: { keyPrefix: string; now?: () => number }): ReplayGuard {
  const now = options.now ?? Date.now;
  return {
    async claim(tokenId, expiresAtMs) {
      // SET NX: exactly one connection wins, whichever node it reaches; the key expires with the token. One key per
      // command, so on a Redis Cluster each token lives in its own slot.
      const ttlMs = Math.max(1, expiresAtMs - now());
      return (await redis.set(`${options.keyPrefix}token:${tokenId}`, '1', 'PX', ttlMs, 'NX')) === 'OK';
    },
    async close() {},
  };
}

/** A Redis replay guard with a connection of its own, closed with it. */
export async function createRedisReplayGuard(options: { url?: string; topology?: RedisTopology; keyPrefix: string; now?: () => number }): Promise<ReplayGuard> {
  const topology: RedisTopology = options.topology ?? { kind: 'single', url: options.url ?? '' };
  // Fail fast: with Redis gone a valid token is refused at once (retry with a fresh one), not left hanging.
  const redis = await connectRedis(topology, { purpose: 'client-token replay protection', failFast: { commandTimeoutMs: REDIS_CHECK_TIMEOUT_MS } });
  return {
    claim: redisReplayGuard(redis, options).claim,
    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
