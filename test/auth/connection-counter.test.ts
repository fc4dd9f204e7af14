// MAX_CONNECTIONS_PER_IP counted in a real Redis: processes sharing it count one address together, a release frees
// a slot for any of them, and the counts of a process that dies without releasing stop counting once its heartbeat
// is stale (a worker killed mid-connection does not lock its clients' address out).
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createConnectionCounter } from '../../src/auth/connection-counter.js';
import { createRedisConnectionCounter } from '../../src/auth/redis-connection-counter.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function processCounter(keyPrefix: string, maxPerAddress: number, timing: { heartbeatMs?: number; staleMs?: number } = {}) {
  const redis = new Redis(inject('redisUrl'));
  const counter = createRedisConnectionCounter({ redis, keyPrefix, maxPerAddress, ...timing });
  cleanups.push(async () => {
    await counter.close();
    redis.disconnect();
  });
  return { redis, counter };
}

describe('connection counter in Redis', () => {
  it('two processes share one limit per address; a release anywhere frees a slot', async () => {
    const prefix = `conn:${randomUUID()}:`;
    const a = processCounter(prefix, 3).counter;
    const b = processCounter(prefix, 3).counter;
    const releases = [await a.acquire('203.0.113.1'), await b.acquire('203.0.113.1'), await a.acquire('203.0.113.1')];
    expect(releases.every((r) => typeof r === 'function')).toBe(true);
    expect(await b.acquire('203.0.113.1')).toBeUndefined();
    expect(await a.acquire('203.0.113.1')).toBeUndefined();
    expect(await b.count('203.0.113.1')).toBe(3);
    // Another address has its own count.
    expect(await b.acquire('203.0.113.2')).toBeTypeOf('function');

    releases[0]!();
    releases[0]!(); // twice is once
    await expect.poll(() => a.count('203.0.113.1')).toBe(2);
    expect(await b.acquire('203.0.113.1')).toBeTypeOf('function');
    expect(await a.acquire('203.0.113.1')).toBeUndefined();
  });

  it('a process that dies holding connections stops counting once its heartbeat is stale', async () => {
    const prefix = `conn:${randomUUID()}:`;
    const timing = { heartbeatMs: 100, staleMs: 600 };
    const dying = processCounter(prefix, 2, timing);
    const survivor = processCounter(prefix, 2, timing).counter;
    expect(await dying.counter.acquire('203.0.113.3')).toBeTypeOf('function');
    expect(await dying.counter.acquire('203.0.113.3')).toBeTypeOf('function');
    expect(await survivor.acquire('203.0.113.3')).toBeUndefined();
    // A crash: no release, no goodbye, the heartbeat stops.
    dying.redis.disconnect();
    await expect.poll(() => survivor.acquire('203.0.113.3'), { timeout: 5000, interval: 200 }).toBeTypeOf('function');
  });

  it('a graceful close stops the closing process counting at once', async () => {
    const prefix = `conn:${randomUUID()}:`;
    const closing = processCounter(prefix, 1).counter;
    const other = processCounter(prefix, 1).counter;
    expect(await closing.acquire('203.0.113.4')).toBeTypeOf('function');
    expect(await other.acquire('203.0.113.4')).toBeUndefined();
    await closing.close();
    expect(await other.acquire('203.0.113.4')).toBeTypeOf('function');
  });

  it('when Redis does not answer, connections are let through uncounted rather than refused', async () => {
    const redis = new Redis('redis://127.0.0.1:9', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    redis.on('error', () => {});
    const counter = createRedisConnectionCounter({ redis, keyPrefix: 'unreachable:', maxPerAddress: 1 });
    cleanups.push(() => counter.close());
    expect(await counter.acquire('203.0.113.5')).toBeTypeOf('function');
    expect(await counter.acquire('203.0.113.5')).toBeTypeOf('function');
  });
});

describe('connection counter in memory', () => {
  it('counts per address and releases once', async () => {
    const counter = createConnectionCounter(1);
    const release = await counter.acquire('a');
    expect(await counter.acquire('a')).toBeUndefined();
    expect(await counter.acquire('b')).toBeTypeOf('function');
    release!();
    release!();
    expect(await counter.count('a')).toBe(0);
    expect(await counter.acquire('a')).toBeTypeOf('function');
  });
});
