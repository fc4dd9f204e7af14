// MAX_CONNECTIONS_PER_IP counted in Redis, so the limit holds for the whole deployment (every worker of every node)
// instead of once per process. Each process keeps its own count per address (a hash field named after the process)
// and a heartbeat; an acquire sums the fields of live processes only, so the connections of a process that died
// without releasing them stop counting once its heartbeat is STALE_MS old.
import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../store/redis-connection.js';
import type { Logger } from 'pino';
import { once, type ConnectionCounter } from './connection-counter.js';

const HEARTBEAT_MS = 5_000;
const STALE_MS = 30_000;
/** Safety net for the per-address hashes: refreshed on every acquire and release. */
const ADDRESS_KEY_TTL_MS = 24 * 3600 * 1000;
/** Redis failures are logged at most this often (a failing Redis would otherwise log once per handshake). */
const LOG_EVERY_MS = 60_000;

// Redis's own clock (TIME) for every heartbeat and check, so the nodes' clocks need not agree.
const NOW = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** KEYS: live, address hash; ARGV: process id, max (0 = count only), stale ms, key ttl ms. Returns {counted 0/1, total before}. */
const ACQUIRE = `${NOW}
redis.call('ZADD', KEYS[1], now, ARGV[1])
local fields = redis.call('HGETALL', KEYS[2])
local total = 0
for i = 1, #fields, 2 do
  local seen = redis.call('ZSCORE', KEYS[1], fields[i])
  if seen and tonumber(seen) >= now - tonumber(ARGV[3]) then
    total = total + tonumber(fields[i + 1])
  else
    redis.call('HDEL', KEYS[2], fields[i])
  end
end
local max = tonumber(ARGV[2])
if max > 0 and total >= max then return {0, total} end
if max > 0 then
  redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
end
return {1, total}`;

/** KEYS: address hash; ARGV: process id, key ttl ms. */
const RELEASE = `local n = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if n <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return n`;

/** KEYS: live; ARGV: process id, stale ms. */
const HEARTBEAT = `${NOW}
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
return now`;

interface CounterCommands {
  connAcquire(live: string, key: string, processId: string, max: number, staleMs: number, ttlMs: number): Promise<[number, number]>;
  connRelease(key: string, processId: string, ttlMs: number): Promise<number>;
  connHeartbeat(live: string, processId: string, staleMs: number): Promise<number>;
}

export interface RedisConnectionCounterOptions {
  redis: RedisClient;
  keyPrefix: string;
  maxPerAddress: number;
  logger?: Logger;
  /** Tests shorten these. */
  heartbeatMs?: number;
  staleMs?: number;
}

export function createRedisConnectionCounter(options: RedisConnectionCounterOptions): ConnectionCounter {
  const { redis, keyPrefix, maxPerAddress, logger, heartbeatMs = HEARTBEAT_MS, staleMs = STALE_MS } = options;
  redis.defineCommand('connAcquire', { numberOfKeys: 2, lua: ACQUIRE });
  redis.defineCommand('connRelease', { numberOfKeys: 1, lua: RELEASE });
  redis.defineCommand('connHeartbeat', { numberOfKeys: 1, lua: HEARTBEAT });
  const commands = redis as unknown as CounterCommands;
  const processId = randomUUID();
  // One hash tag for the live set and every address: the acquire script reads both, so on a Redis Cluster they must
  // share a slot (a handshake-rate load, far below one node's capacity).
  const live = `${keyPrefix}{connections}:live`;
  const keyOf = (address: string) => `${keyPrefix}{connections}:${address}`;

  let lastLog = 0;
  const failed = (error: unknown, what: string) => {
    if (Date.now() - lastLog < LOG_EVERY_MS) return;
    lastLog = Date.now();
    logger?.warn({ err: error }, `MAX_CONNECTIONS_PER_IP: Redis did not answer (${what}); connections are let through uncounted meanwhile`);
  };

  const beat = () => void commands.connHeartbeat(live, processId, staleMs).catch((error: unknown) => failed(error, 'heartbeat'));
  beat();
  const timer = setInterval(beat, heartbeatMs);
  timer.unref();

  return {
    scope: 'cluster',
    async acquire(address) {
      let counted: number;
      try {
        [counted] = await commands.connAcquire(live, keyOf(address), processId, maxPerAddress, staleMs, ADDRESS_KEY_TTL_MS);
      } catch (error) {
        // A limit against abuse should not take the service down with Redis: let the connection through uncounted.
        failed(error, 'acquire');
        return () => {};
      }
      if (counted !== 1) return undefined;
      return once(() => void commands.connRelease(keyOf(address), processId, ADDRESS_KEY_TTL_MS).catch((error: unknown) => failed(error, 'release')));
    },
    async count(address) {
      const [, total] = await commands.connAcquire(live, keyOf(address), processId, 0, staleMs, ADDRESS_KEY_TTL_MS);
      return total;
    },
    async close() {
      clearInterval(timer);
      // This process's counts stop counting at once (its connections are closed by now, or about to be).
      await redis.zrem(live, processId).catch(() => {});
    },
  };
}
