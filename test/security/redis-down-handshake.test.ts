// With Redis gone, a client holding a valid one-time token is refused at once with a reason (reconnect with a fresh
// token shortly), not left waiting on a connection to Redis that queues its check forever.
import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnServer, type SpawnedServer } from '../support/spawn-server.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

const API_KEY = 'backend-key-0123456789';
let redis: RedisServer;
let server: SpawnedServer;
beforeAll(async () => {
  redis = await startRedisServer();
  server = await spawnServer({
    REDIS_URL: redis.url,
    API_KEYS: API_KEY,
    TOKEN_SECRET: 'token-secret-0123456789-0123456789-abcdef',
    TRANSCRIBER: 'openai',
    OPENAI_API_KEY: 'sk-test',
    OPENAI_BASE_URL: 'http://127.0.0.1:9/v1',
  });
}, 30_000);
afterAll(async () => {
  await server?.stop();
  await redis?.kill();
});

describe('a valid client token while Redis is down', () => {
  it('is refused within the check time-out, saying to come back with a fresh token', async () => {
    const minted = await fetch(`${server.url}/v1/tokens`, { method: 'POST', headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' }, body: '{}' });
    expect(minted.status).toBe(200);
    const { token } = (await minted.json()) as { token: string };
    await redis.kill();

    const startedAt = Date.now();
    const socket = io(`${server.url}/transcription`, { auth: { token }, transports: ['websocket'], forceNew: true, reconnection: false });
    const outcome = await new Promise<{ code?: string; message: string } | 'connected' | 'no answer'>((resolve) => {
      socket.once('connect', () => resolve('connected'));
      socket.once('connect_error', (error: Error & { data?: { code?: string } }) => resolve({ code: error.data?.code, message: error.message }));
      setTimeout(() => resolve('no answer'), 10_000).unref();
    });
    socket.close();
    expect(outcome).toMatchObject({ code: 'UNAUTHORIZED', message: expect.stringMatching(/could not check the token/) });
    expect(Date.now() - startedAt).toBeLessThan(8000);
  }, 30_000);
});
