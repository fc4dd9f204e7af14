// The engine limit's memory on a Redis Cluster: its script touches one key, so it runs wherever the key's slot lives,
// through the same fail-fast connection the access checks use.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdaptiveLimit } from '../../src/scheduler/concurrency-limit.js';
import { openLimitMemory, providerKey } from '../../src/scheduler/limit-memory.js';
import { connectRedis, REDIS_CHECK_TIMEOUT_MS, type RedisClient } from '../../src/store/redis-connection.js';
import { startRedisCluster, type RedisClusterSet } from '../support/redis-topologies.js';

let cluster: RedisClusterSet;
let redis: RedisClient;

beforeAll(async () => {
  cluster = await startRedisCluster();
  const nodes = cluster.masters.map((m) => ({ host: '127.0.0.1', port: m.port }));
  redis = await connectRedis({ kind: 'cluster', nodes }, { failFast: { commandTimeoutMs: REDIS_CHECK_TIMEOUT_MS } });
});

afterAll(async () => {
  redis?.disconnect();
  await cluster?.stop();
});

describe('engine limit memory on a Redis Cluster', () => {
  it('a process saves the learnt quota and the next one starts from it', async () => {
    const key = providerKey('cluster-limit:', { baseUrl: 'http://stub.test/v1', apiKey: 'sk-cluster' });
    const first = await openLimitMemory({ redis, key, processId: 'node-a', heartbeatMs: 0 });
    const limit = new AdaptiveLimit({ initial: 16, min: 4, max: 256, now: () => 1 });
    first.attach(limit);
    limit.onOverload(0, { inFlight: 12 });
    await first.sync();
    await first.close();

    const next = await openLimitMemory({ redis, key, processId: 'node-b', heartbeatMs: 0 });
    expect(next.start).toMatchObject({ limit: 12, pushedBackAt: 12 });
    await next.close();
  });
});
