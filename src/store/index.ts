// Picks and builds the buffer store the configuration asks for: Redis (one server, Sentinel or Cluster), else this
// process's memory.
import type { Config } from '../config/config.js';
import type { BufferStore } from './buffer-store.js';
import { createMemoryStore } from './memory-store.js';
import { topologyOf } from './redis-connection.js';
import { createRedisStore, type RedisStoreEvents } from './redis-store.js';

export type { BufferStore } from './buffer-store.js';

type StoreConfig = Pick<Config, 'redisUrl' | 'redisKeyPrefix' | 'sessionTtlS'> & Partial<Pick<Config, 'redis' | 'redisWait'>>;

export async function createStore(config: StoreConfig, events?: RedisStoreEvents): Promise<BufferStore> {
  const topology = topologyOf(config);
  if (!topology) return createMemoryStore({ ttlS: config.sessionTtlS });
  return createRedisStore({
    topology,
    keyPrefix: config.redisKeyPrefix,
    ttlS: config.sessionTtlS,
    waitReplicas: config.redisWait?.replicas ?? 0,
    waitTimeoutMs: config.redisWait?.timeoutMs,
    ...(events ? { events } : {}),
  });
}
