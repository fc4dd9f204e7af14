// The audio of a segment committed as failed is not dropped before its session ends: Redis keeps it under the
// session's kept key (with the session's TTL) until endSession deletes it.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, expect, inject, it } from 'vitest';
import { createRedisStore } from '../../src/store/redis-store.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

it('Redis keeps a failed segment\'s audio, with a TTL, until the session ends', async () => {
  const prefix = `kept:${randomUUID()}:`;
  const store = await createRedisStore({ url: inject('redisUrl'), keyPrefix: prefix, ttlS: 600 });
  const admin = new Redis(inject('redisUrl'));
  cleanups.push(() => store.close(), () => admin.quit());
  const kept = `${prefix}{s}:kept`;

  await store.openSession('s', { format: 'pcm_s16le', sample_rate: 16000, channels: 1 });
  await store.append('s', 0, Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]), 100);
  await store.commitSegment('s', 0, 2, 'fine');
  await store.commitSegment('s', 2, 6, '', undefined, { code: 'ENGINE_REJECTED', reason: 'provider answered 400' });
  await store.commitSegment('s', 6, 8, '', undefined, { code: 'ENGINE_REJECTED', reason: 'provider answered 400' });

  expect(await admin.getBuffer(kept)).toEqual(Buffer.from([3, 4, 5, 6, 7, 8]));
  expect(await admin.pttl(kept)).toBeGreaterThan(0);
  await store.endSession('s');
  expect(await admin.exists(kept)).toBe(0);
});
