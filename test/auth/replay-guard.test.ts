// The replay guard: one claim per token id until expiry, shared by every node through Redis.
import { randomUUID } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { createMemoryReplayGuard, createRedisReplayGuard } from '../../src/auth/replay-guard.js';

describe('replay guard', () => {
  it('memory: the first claim wins, later ones lose until the id expires', async () => {
    let clock = 1_000_000;
    const guard = createMemoryReplayGuard(() => clock);
    expect(await guard.claim('t1', clock + 60_000)).toBe(true);
    expect(await guard.claim('t1', clock + 60_000)).toBe(false);
    expect(await guard.claim('t2', clock + 60_000)).toBe(true);
    clock += 61_000;
    // Past its expiry the token itself is refused as expired; the guard may forget it.
    expect(await guard.claim('t1', clock + 60_000)).toBe(true);
  });

  it('redis: two nodes share the claims, and the key expires with the token', async () => {
    const keyPrefix = `test:${randomUUID()}:`;
    const nodeA = await createRedisReplayGuard({ url: inject('redisUrl'), keyPrefix });
    const nodeB = await createRedisReplayGuard({ url: inject('redisUrl'), keyPrefix });
    try {
      const results = await Promise.all([nodeA.claim('shared', Date.now() + 300), nodeB.claim('shared', Date.now() + 300)]);
      expect(results.sort()).toEqual([false, true]);
      expect(await nodeA.claim('shared', Date.now() + 300)).toBe(false);
      await new Promise((r) => setTimeout(r, 400));
      expect(await nodeB.claim('shared', Date.now() + 300)).toBe(true);
    } finally {
      await nodeA.close();
      await nodeB.close();
    }
  });

  it('redis: an unreachable REDIS_URL fails naming it', async () => {
    await expect(createRedisReplayGuard({ url: 'redis://127.0.0.1:1', keyPrefix: 'x:' })).rejects.toThrow(/REDIS_URL/);
  });
});
