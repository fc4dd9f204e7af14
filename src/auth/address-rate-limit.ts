// Requests per minute from one client address (POST /v1/tokens, Socket.IO handshakes), in a fixed one-minute window:
// in Redis when configured, so every worker and node counts together, else in this process's memory. One key per
// address and window (rate-limiter-flexible's script touches that key alone), so it works on a Redis Cluster too.
import type { RedisClient } from '../store/redis-connection.js';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

export interface AddressRateLimit {
  /** The setting that sets it, for refusal messages. */
  readonly setting: string;
  readonly perMinute: number;
  readonly scope: 'process' | 'cluster';
  /** Counts one request from `address`: undefined when allowed, else the ms until the next one is. */
  take(address: string): Promise<number | undefined>;
}

export function createAddressRateLimit(options: { name: string; setting: string; perMinute: number; redis?: RedisClient; keyPrefix: string }): AddressRateLimit {
  const { name, setting, perMinute, redis } = options;
  const limits = { points: perMinute, duration: 60 };
  const memory = new RateLimiterMemory({ ...limits, keyPrefix: name });
  // Without Redis (or while it does not answer) each process counts alone: a limit against abuse should not refuse
  // everyone because its store is down.
  const limiter: RateLimiterAbstract = redis
    ? new RateLimiterRedis({ ...limits, storeClient: redis, keyPrefix: `${options.keyPrefix}rate:${name}`, insuranceLimiter: memory })
    : memory;
  return {
    setting,
    perMinute,
    scope: redis ? 'cluster' : 'process',
    async take(address) {
      try {
        await limiter.consume(address);
        return undefined;
      } catch (refusal) {
        if (refusal instanceof RateLimiterRes) return Math.max(1, Math.ceil(refusal.msBeforeNext));
        throw refusal;
      }
    },
  };
}
