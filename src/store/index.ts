// Picks and builds the buffer store the configuration asks for: Redis with REDIS_URL, else this process's memory.
import type { Config } from '../config/config.js';
import type { BufferStore } from './buffer-store.js';
import { createMemoryStore } from './memory-store.js';
import { createRedisStore } from './redis-store.js';

export type { BufferStore } from './buffer-store.js';

export async function createStore(config: Pick<Config, 'redisUrl' | 'redisKeyPrefix' | 'sessionTtlS'>): Promise<BufferStore> {
  if (!config.redisUrl) return createMemoryStore({ ttlS: config.sessionTtlS });
  return createRedisStore({ url: config.redisUrl, keyPrefix: config.redisKeyPrefix, ttlS: config.sessionTtlS });
}
