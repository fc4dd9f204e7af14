// What the adaptive engine limit learnt, kept in a real Redis: a fresh process starts from it, a stale one is
// ignored, live processes share the provider's quota, a failing Redis never blocks the limit, and whatever is found
// under the key that is not ours is ignored.
import { randomUUID } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { AdaptiveLimit } from '../../src/scheduler/concurrency-limit.js';
import { LEARNT_FRESH_MS, openLimitMemory, providerKey, type LimitMemory } from '../../src/scheduler/limit-memory.js';
import { createRedisClient } from '../../src/store/redis-connection.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function connect(): Redis {
  const redis = new Redis(inject('redisUrl'));
  cleanups.push(() => redis.disconnect());
  return redis;
}

const newKey = () => providerKey(`limit:${randomUUID()}:`, { baseUrl: 'http://stub.test/v1', apiKey: 'sk-test' });

/** A process: its limit, built as the composition root builds it, from what its memory found. */
async function startProcess(key: string, processId: string, redis: Redis = connect()) {
  const memory = await openLimitMemory({ redis, key, processId, heartbeatMs: 0, liveMs: 60_000 });
  const limit = new AdaptiveLimit({ initial: 16, min: 4, max: 256, ...(memory.start ? { learnt: memory.start } : {}), now: () => performance.now() });
  memory.attach(limit);
  cleanups.push(() => memory.close());
  return { memory, limit };
}

/** Requests at the limit: `rounds` successes, each with the limit's others in flight (the use a peer sees). */
function busy(limit: AdaptiveLimit, rounds = 1) {
  for (let i = 0; i < rounds; i++) limit.onSuccess(700, limit.current - 1);
}

/** One heartbeat of each process in turn, each with its limit full (its in-use is its limit). */
async function heartbeat(...processes: { memory: LimitMemory; limit: AdaptiveLimit }[]) {
  for (const { memory, limit } of processes) {
    busy(limit, 1);
    await memory.sync();
  }
}

describe('engine limit memory in Redis', () => {
  it('keys the state by provider: base URL and a digest of the key, never the key or credentials in the URL', () => {
    const key = providerKey('transcription:', { baseUrl: 'https://user:pw@api.example.com/v1/?token=x', apiKey: 'sk-secret-123' });
    expect(key).toMatch(/^transcription:\{engine-limit\}:api\.example\.com\/v1:[0-9a-f]{16}$/);
    expect(key).not.toContain('sk-secret');
    expect(key).not.toContain('pw');
    expect(providerKey('transcription:', { baseUrl: 'https://api.example.com/v1', apiKey: 'sk-other' })).not.toBe(key);
  });

  it('a process that learnt the quota saves it; a new process starts from it, a restarted one from its own limit', async () => {
    const key = newKey();
    const a = await startProcess(key, 'node-a');
    expect(a.memory.start).toBeUndefined();
    expect(a.limit.current).toBe(16);
    // A climbs and the provider pushes back at 48 in flight.
    busy(a.limit, 40);
    a.limit.onOverload(0, { inFlight: 48 });
    busy(a.limit, 10);
    await a.memory.sync();
    expect(a.limit.current).toBe(47);
    await a.memory.close();

    const b = await startProcess(key, 'node-b');
    expect(b.memory.start).toMatchObject({ limit: 48, pushedBackAt: 48 });
    expect(b.limit.current).toBe(48);
    expect(b.limit.ceiling).toBe(48);
    expect(b.memory.start?.baselineMs).toBeCloseTo(700);

    const restarted = await startProcess(key, 'node-a');
    expect(restarted.limit.current).toBe(47);
  });

  it('ignores state older than the freshness bound, and deletes it', async () => {
    const key = newKey();
    const redis = connect();
    const [seconds] = await redis.time();
    const old = Number(seconds) * 1000 - LEARNT_FRESH_MS - 1000;
    await redis.hset(key, 'quota', JSON.stringify({ level: 48 }), 't|quota', old, 'p:node-a', JSON.stringify({ limit: 47, inUse: 47, pushedBackAt: 48 }), 't|p:node-a', old);
    const b = await startProcess(key, 'node-b', redis);
    expect(b.memory.start).toBeUndefined();
    expect(b.limit.current).toBe(16);
    expect(await redis.hexists(key, 'quota')).toBe(0);
    expect(await redis.hexists(key, 'p:node-a')).toBe(0);
  });

  it('keeps a TTL on the key', async () => {
    const key = newKey();
    const redis = connect();
    const a = await startProcess(key, 'node-a', redis);
    await a.memory.sync();
    const ttl = await redis.pttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(LEARNT_FRESH_MS);
  });

  it('live processes share one quota: a newcomer takes its share, the others give it up, a push-back anywhere lowers it', async () => {
    const key = newKey();
    const a = await startProcess(key, 'node-a');
    busy(a.limit, 40);
    a.limit.onOverload(0, { inFlight: 48 });
    busy(a.limit, 10);
    await heartbeat(a);
    expect(a.limit.current).toBe(47);

    // B arrives while A uses the whole quota: it starts at an equal part, not at the initial window or the quota.
    const b = await startProcess(key, 'node-b');
    expect(b.limit.current).toBe(24);
    await heartbeat(a, b);
    // A hears of B and keeps what B leaves it.
    await heartbeat(a);
    expect(a.limit.current).toBe(24);
    expect(a.limit.ceiling).toBe(24);

    // The quota falls (another tenant): the provider pushes back on B at 12 of its own in flight. The shared estimate
    // falls with it (12 × 0.95 + A's 24), and a process that starts now takes its share of the lower estimate.
    b.limit.onOverload(performance.now(), { inFlight: 12 });
    await heartbeat(b, a);
    const c = await startProcess(key, 'node-c');
    expect(c.memory.start?.pushedBackAt).toBe(Math.ceil((12 * 0.95 + 24) / 3));
    expect(a.limit.ceiling).toBeLessThanOrEqual(24);

    // B and C close: A's share is the whole estimate again.
    await c.memory.close();
    await b.memory.close();
    await heartbeat(a);
    expect(a.limit.ceiling).toBe(Math.floor(12 * 0.95 + 24));
  });

  it('with Redis down, starting, heartbeats and closing neither throw nor wait, and the limit works from memory', async () => {
    // Nothing listens on this port: commands fail at once (no offline queue).
    const down = createRedisClient({ kind: 'single', url: 'redis://127.0.0.1:1' }, { failFast: { commandTimeoutMs: 200 } });
    down.on('error', () => {});
    cleanups.push(() => down.disconnect());
    const warnings: string[] = [];
    const logger = { warn: (_: unknown, message: string) => warnings.push(message), info: () => {} } as never;
    const started = performance.now();
    const memory = await openLimitMemory({ redis: down, key: newKey(), processId: 'node-a', heartbeatMs: 0, logger });
    const limit = new AdaptiveLimit({ initial: 16, min: 4, max: 256 });
    memory.attach(limit);
    limit.onOverload(0, { inFlight: 20 });
    await memory.sync();
    await memory.sync();
    await memory.close();
    expect(performance.now() - started).toBeLessThan(2000);
    expect(memory.start).toBeUndefined();
    expect(limit.current).toBe(14); // 16 × 0.9: the refusal counted as ever
    expect(warnings).toHaveLength(1); // logged once, not per heartbeat
  });

  it('a Redis that accepts but never answers holds start-up back at most half a second', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => silent.close(resolve));
    });
    const port = (silent.address() as { port: number }).port;
    // Default options: commands wait in the offline queue until the server answers (it never does).
    const hung = createRedisClient({ kind: 'single', url: `redis://127.0.0.1:${port}` });
    hung.on('error', () => {});
    void hung.connect().catch(() => {});
    cleanups.push(() => hung.disconnect());
    const started = performance.now();
    const memory = await openLimitMemory({ redis: hung, key: newKey(), processId: 'node-a', heartbeatMs: 0 });
    expect(performance.now() - started).toBeLessThan(1500);
    expect(memory.start).toBeUndefined();
  });

  it('deletes values too long to be ours, and a hash with more fields than any deployment writes', async () => {
    const key = newKey();
    const redis = connect();
    const [seconds] = await redis.time();
    const now = Number(seconds) * 1000;
    await redis.hset(key, 'p:big', JSON.stringify({ limit: 40, inUse: 1, pad: 'x'.repeat(2000) }), 't|p:big', now);
    const a = await startProcess(key, 'node-a', redis);
    expect(a.memory.start).toBeUndefined();
    await a.memory.sync();
    expect(await redis.hexists(key, 'p:big')).toBe(0);
    expect(await redis.hexists(key, 't|p:big')).toBe(0);

    const flood: string[] = [];
    for (let i = 0; i < 2100; i++) flood.push(`p:flood-${i}`, '{}', `t|p:flood-${i}`, String(now));
    await redis.hset(key, ...flood);
    await a.memory.sync();
    expect(await redis.hlen(key)).toBe(2); // this process's record and its time, nothing else
  });

  it('ignores garbage, oversized and wrong-typed values under the key', async () => {
    const key = newKey();
    const redis = connect();
    const value = fc.oneof(
      fc.string(),
      fc.json(),
      fc.anything().map((thing) => JSON.stringify(thing) ?? 'undefined'),
      fc.record({ limit: fc.anything(), inUse: fc.anything(), pushedBackAt: fc.anything(), baselineMs: fc.anything() }).map((r) => JSON.stringify(r)),
      fc.record({ level: fc.oneof(fc.double(), fc.string(), fc.constant(1e308)) }).map((r) => JSON.stringify(r)),
      fc.constant(`{"level":48,"pad":"${'x'.repeat(5000)}"}`),
    );
    const time = fc.oneof(fc.constant('now'), fc.string(), fc.constant('1e400'), fc.constant('-1'), fc.constant('future'));
    await fc.assert(
      fc.asyncProperty(value, value, time, async (quota, record, at) => {
        const [seconds, micros] = await redis.time();
        const now = String(Number(seconds) * 1000 + Math.floor(Number(micros) / 1000));
        const stamp = at === 'now' ? now : at === 'future' ? String(Number(now) + 86_400_000) : at;
        await redis.del(key);
        await redis.hset(key, 'quota', quota, 't|quota', stamp, 'p:other', record, 't|p:other', stamp, 'p:no-time', record);
        const memory = await openLimitMemory({ redis, key, processId: 'node-a', heartbeatMs: 0 });
        const start = memory.start;
        if (start) {
          // Anything believed is a sane number; the limit built from it stays within its bounds.
          for (const n of [start.limit, start.pushedBackAt, start.baselineMs]) if (n !== undefined) expect(Number.isFinite(n) && n > 0).toBe(true);
          const limit = new AdaptiveLimit({ initial: 16, min: 4, max: 256, learnt: start });
          expect(limit.current).toBeGreaterThanOrEqual(4);
          expect(limit.current).toBeLessThanOrEqual(256);
        }
        // A time ahead of Redis's clock would keep a record fresh for ever: it is not believed.
        if (at === 'future') expect(start).toBeUndefined();
        // The record with no time of its own is cleaned away by the next write.
        memory.attach(new AdaptiveLimit({ initial: 16, min: 4, max: 256 }));
        await memory.sync();
        expect(await redis.hexists(key, 'p:no-time')).toBe(0);
      }),
      { numRuns: 60 },
    );
  });
});
