// The ops server in-process with real parts: a memory or Redis store (one Redis this test starts and kills), the
// Whisper engine against a local OpenAI stub, and the bundled sample for the performance test.
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createOpenAIEngine } from '../../src/engines/openai.js';
import { decodeWavToPcm16 } from '../../src/audio/wav-decode.js';
import { createOpsServer, type OpsServer } from '../../src/ops/ops-server.js';
import { SAMPLE_PATH } from '../../src/ops/performance-test.js';
import type { BufferStore } from '../../src/store/buffer-store.js';
import { createMemoryStore } from '../../src/store/memory-store.js';
import { createRedisStore } from '../../src/store/redis-store.js';
import { startOpenAIStub, type OpenAIStub, type OpenAIStubOptions } from '../support/openai-stub.js';
import { freePort, startRedisServer, type RedisServer } from '../support/redis-server.js';

const OPERATIONS = ['Database Query', 'OpenAI API Call', 'Data Processing', 'Cache Write'];

let ops: OpsServer | undefined;
let stub: OpenAIStub | undefined;
let store: BufferStore | undefined;
let redisServer: RedisServer | undefined;
afterEach(async () => {
  await ops?.close();
  await stub?.close();
  await store?.close();
  await redisServer?.kill();
  ops = stub = store = redisServer = undefined;
});

async function start(options: { opsToken?: string; store?: BufferStore; stub?: OpenAIStubOptions; engineUrl?: string } = {}) {
  stub = await startOpenAIStub(options.stub);
  store = options.store ?? createMemoryStore({ ttlS: 60 });
  const engine = createOpenAIEngine({ apiKey: 'sk-test-ops', baseUrl: options.engineUrl ?? stub.url, model: 'whisper-1', maxRetries: 0, timeoutMs: 5000 });
  ops = createOpsServer({ config: { opsPort: 0, opsToken: options.opsToken, host: '127.0.0.1' }, store, engine });
  const port = await ops.listen();
  return { base: `http://127.0.0.1:${port}`, stub, store };
}

/** A redis-server of this test's own, so the test can take it down. */
async function startRedis(): Promise<string> {
  redisServer = await startRedisServer();
  return redisServer.url;
}

describe('GET /healthz', () => {
  it('answers 200 {status: "ok"}', async () => {
    const { base } = await start();
    const response = await fetch(`${base}/healthz`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/application\/json/);
    expect(await response.json()).toEqual({ status: 'ok' });
  });
});

describe('GET /readyz', () => {
  it('answers 200 when the store and the engine answer', async () => {
    const { base, stub } = await start();
    const response = await fetch(`${base}/readyz`);
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body).toMatchObject({ status: 'ready', failed: [], checks: { store: { ok: true }, engine: { ok: true } } });
    // The engine check is a real request to the provider.
    expect(stub.requests.some((r) => r.path === '/v1/models')).toBe(true);
  });

  it('answers 503 naming the store when Redis goes down', async () => {
    const url = await startRedis();
    const redisStore = await createRedisStore({ url, keyPrefix: `ops:${randomUUID()}:`, ttlS: 60, commandTimeoutMs: 500 });
    const { base } = await start({ store: redisStore });
    expect((await fetch(`${base}/readyz`)).status).toBe(200);

    await redisServer!.kill();
    const response = await fetch(`${base}/readyz`);
    expect(response.status).toBe(503);
    const body = await response.json();
    expect(body.status).toBe('not_ready');
    expect(body.failed).toEqual(['store']);
    expect(body.checks.store.ok).toBe(false);
    expect(body.checks.store.error).toMatch(/Redis/);
    expect(body.checks.engine.ok).toBe(true);
  });

  it('answers 200 with the engine under warnings when the provider is unreachable (an outage every node shares)', async () => {
    const { base } = await start({ engineUrl: `http://127.0.0.1:${await freePort()}/v1` });
    const response = await fetch(`${base}/readyz`);
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body).toMatchObject({ status: 'ready', failed: [], warnings: ['engine'], checks: { engine: { ok: false, outage: true } } });
    expect(body.checks.engine.error).toMatch(/cannot reach OpenAI/);
  });
});

describe('GET /ops/test-sentry-performance', () => {
  it('runs the four real operations and answers in the documented shape', async () => {
    const prefix = `ops:${randomUUID()}:`;
    const redisStore = await createRedisStore({ url: inject('redisUrl'), keyPrefix: prefix, ttlS: 60 });
    // The stub takes 150 ms: the engine call's measured duration must show it.
    const { base, stub } = await start({ store: redisStore, stub: { respond: () => ({ text: 'hello world', delayMs: 150 }) } });

    const response = await fetch(`${base}/ops/test-sentry-performance`);
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(Object.keys(body)).toEqual(['status', 'message', 'operations', 'total_duration_ms', 'check']);
    expect(body).toMatchObject({ status: 'success', message: 'Performance test completed', check: 'Visit Sentry Performance tab to view transaction details' });
    expect(body.operations.map((o: { name: string }) => o.name)).toEqual(OPERATIONS);
    for (const operation of body.operations) {
      expect(Object.keys(operation)).toEqual(['name', 'duration_ms']);
      expect(operation.duration_ms).toBeGreaterThanOrEqual(0);
    }
    const [, engineCall] = body.operations;
    expect(engineCall.duration_ms).toBeGreaterThanOrEqual(150);
    const sum = body.operations.reduce((total: number, o: { duration_ms: number }) => total + o.duration_ms, 0);
    expect(body.total_duration_ms).toBeGreaterThanOrEqual(sum - 0.1);

    // The engine transcribed the bundled sample itself.
    const sample = decodeWavToPcm16(readFileSync(SAMPLE_PATH), 16000).pcm;
    expect(stub.uploads).toHaveLength(1);
    expect(stub.uploads[0]!.pcm.equals(sample)).toBe(true);

    // The cache write really happened: a session written and ended under the store's prefix.
    const redis = new Redis(inject('redisUrl'));
    try {
      const metaKeys = await redis.keys(`${prefix}*:meta`);
      expect(metaKeys).toHaveLength(1);
      expect(await redis.hget(metaKeys[0]!, 'ended')).toBe('1');
      expect(Number(await redis.hget(metaKeys[0]!, 'received'))).toBe(sample.length);
    } finally {
      redis.disconnect();
    }
  });

  it('answers 500 naming the operation that failed, with the ones that completed', async () => {
    const { base } = await start({ stub: { respond: () => ({ status: 400, text: 'unsupported audio' }) } });
    const response = await fetch(`${base}/ops/test-sentry-performance`);
    expect(response.status).toBe(500);
    const body = await response.json();
    expect(body.status).toBe('error');
    expect(body.message).toMatch(/^Performance test failed during "OpenAI API Call": OpenAI rejected the request \(400\)/);
    expect(body.operations.map((o: { name: string }) => o.name)).toEqual(['Database Query']);
  });
});

describe('OPS_TOKEN', () => {
  it('guards /ops/* with a bearer token and leaves the probes open', async () => {
    const { base } = await start({ opsToken: 'ops-secret-token' });
    const missing = await fetch(`${base}/ops/test-sentry-performance`);
    expect(missing.status).toBe(401);
    expect((await missing.json()).message).toMatch(/Authorization: Bearer <OPS_TOKEN>/);
    const wrong = await fetch(`${base}/ops/test-sentry-performance`, { headers: { authorization: 'Bearer ops-secret-tokem' } });
    expect(wrong.status).toBe(401);
    const basic = await fetch(`${base}/ops/test-sentry-performance`, { headers: { authorization: 'ops-secret-token' } });
    expect(basic.status).toBe(401);
    const right = await fetch(`${base}/ops/test-sentry-performance`, { headers: { authorization: 'Bearer ops-secret-token' } });
    expect(right.status).toBe(200);

    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
  });

  it('leaves /ops/* open when no token is set', async () => {
    const { base } = await start();
    expect((await fetch(`${base}/ops/test-sentry-performance`)).status).toBe(200);
  });
});
