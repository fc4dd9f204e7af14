// Per-address rate limits on a real server: raw HTTP to POST /v1/tokens past TOKEN_REQUESTS_PER_MINUTE gets 429 with
// retry-after and a body naming the limit; a loop of real Socket.IO handshakes past HANDSHAKES_PER_MINUTE gets
// connect_error RATE_LIMITED with retry_after_ms; other addresses (TRUST_PROXY + X-Forwarded-For) are unaffected;
// with REDIS_URL two nodes count one address together.
import { request } from 'node:http';
import { randomUUID } from 'node:crypto';
import { io } from 'socket.io-client';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createApp } from '../../src/server/compose.js';
import { connectAccessRedis, createAccess } from '../../src/auth/access.js';
import { TOKEN_PATH } from '../../src/auth/token-endpoint.js';
import { loadConfig } from '../../src/config/config.js';
import { createOpenAIEngine } from '../../src/engines/openai.js';
import { createMemoryStore } from '../../src/store/memory-store.js';
import { createRequestRouter } from '../../src/web-server/request-router.js';

const API_KEY = 'backend-key-rate-limits';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startNode(env: Record<string, string>, shared = false): Promise<string> {
  const config = loadConfig({
    TRANSCRIBER: 'pocketsphinx',
    LOG_LEVEL: 'silent',
    API_KEYS: API_KEY,
    TOKEN_SECRET: 's'.repeat(48),
    TRUST_PROXY: 'true',
    ...(shared ? { REDIS_URL: inject('redisUrl') } : {}),
    ...env,
  });
  const access = createAccess(config, { redis: await connectAccessRedis(config) });
  const store = createMemoryStore({ ttlS: 60 });
  const engine = createOpenAIEngine({ apiKey: 'sk-test', baseUrl: 'http://127.0.0.1:9/v1', model: 'whisper-1', maxRetries: 0, timeoutMs: 1000 });
  const app = createApp(config, { store, engine, access, httpHandler: createRequestRouter({ [TOKEN_PATH]: access.tokenEndpoint }, (_q, r) => r.end()) });
  const port = await app.listen(0, '127.0.0.1');
  cleanups.push(async () => {
    await app.close();
    await access.close();
    await store.close();
  });
  return `http://127.0.0.1:${port}`;
}

/** A raw HTTP/1.1 POST, as a script or a backend would send it. */
function post(url: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, unknown>; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${TOKEN_PATH}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, agent: false }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(text) }));
    });
    req.once('error', reject);
    req.end('{}');
  });
}

/** One real handshake from `address` (through X-Forwarded-For): "connected" or the refusal's data. */
function attempt(url: string, address: string): Promise<'connected' | { code: string; retry_after_ms?: number; message: string }> {
  const socket = io(`${url}/transcription`, {
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    auth: { token: 'not-the-token-but-long-enough' },
    extraHeaders: { 'x-forwarded-for': address },
  });
  return new Promise((resolve) => {
    socket.once('connect_error', (error: Error & { data?: { code: string; retry_after_ms?: number } }) => {
      socket.disconnect();
      resolve({ ...error.data!, message: error.message });
    });
    socket.once('connect', () => {
      socket.disconnect();
      resolve('connected');
    });
  });
}

describe('TOKEN_REQUESTS_PER_MINUTE', () => {
  it('answers 429 with retry-after and the limit past it, before the API key is looked at; another address is not affected', async () => {
    const url = await startNode({ TOKEN_REQUESTS_PER_MINUTE: '3' });
    const from = (address: string, key = API_KEY) => post(url, { authorization: `Bearer ${key}`, 'x-forwarded-for': address });
    for (let i = 0; i < 3; i++) expect((await from('203.0.113.7')).status).toBe(200);
    const refused = await from('203.0.113.7');
    expect(refused.status).toBe(429);
    const retryAfterS = Number(refused.headers['retry-after']);
    expect(retryAfterS).toBeGreaterThanOrEqual(1);
    expect(retryAfterS).toBeLessThanOrEqual(60);
    expect(refused.body).toMatchObject({ error: 'rate_limited', limit: 'TOKEN_REQUESTS_PER_MINUTE', per_minute: 3, retry_after_ms: expect.any(Number) });
    expect(refused.body.message).toMatch(/TOKEN_REQUESTS_PER_MINUTE/);
    expect(refused.headers['cache-control']).toBe('no-store');
    // A guesser gets the same 429, not a 401 that would say the key was looked at.
    expect((await from('203.0.113.7', 'a-guessed-key')).status).toBe(429);

    // Another client address, and the same address spoofed earlier in the header (only the last entry counts).
    expect((await from('198.51.100.2')).status).toBe(200);
    expect((await from('203.0.113.7, 198.51.100.9')).status).toBe(200);
    expect((await from('198.51.100.9, 203.0.113.7')).status).toBe(429);
  });
});

describe('HANDSHAKES_PER_MINUTE', () => {
  it('refuses a loop of connection attempts with RATE_LIMITED and retry_after_ms; a well-behaved address still connects', async () => {
    const url = await startNode({ HANDSHAKES_PER_MINUTE: '5', AUTH_TOKEN: 'not-the-token-but-long-enough' });
    const outcomes = [];
    for (let i = 0; i < 12; i++) outcomes.push(await attempt(url, '203.0.113.7'));
    expect(outcomes.slice(0, 5)).toEqual(Array(5).fill('connected'));
    for (const refusal of outcomes.slice(5)) {
      expect(refusal).toMatchObject({ code: 'RATE_LIMITED', retry_after_ms: expect.any(Number) });
      const { retry_after_ms: wait, message } = refusal as { retry_after_ms: number; message: string };
      expect(wait).toBeGreaterThan(0);
      expect(wait).toBeLessThanOrEqual(60_000);
      expect(message).toMatch(/HANDSHAKES_PER_MINUTE/);
    }
    // The flood did not touch anyone else.
    for (let i = 0; i < 3; i++) expect(await attempt(url, `198.51.100.${i + 1}`)).toBe('connected');
  });

  it('counts before credentials: wrong tokens use up the attempts too', async () => {
    const url = await startNode({ HANDSHAKES_PER_MINUTE: '3', AUTH_TOKEN: 'the-real-token-is-other' });
    const outcomes: Awaited<ReturnType<typeof attempt>>[] = [];
    for (let i = 0; i < 4; i++) outcomes.push(await attempt(url, '203.0.113.8'));
    expect(outcomes.map((o) => (typeof o === 'string' ? o : o.code))).toEqual(['UNAUTHORIZED', 'UNAUTHORIZED', 'UNAUTHORIZED', 'RATE_LIMITED']);
  });

  it('with REDIS_URL two nodes count one address together', async () => {
    const env = { HANDSHAKES_PER_MINUTE: '4', AUTH_TOKEN: 'not-the-token-but-long-enough', REDIS_KEY_PREFIX: `rate:${randomUUID()}:` };
    const [a, b] = [await startNode(env, true), await startNode(env, true)];
    const outcomes = [await attempt(a, '203.0.113.9'), await attempt(b, '203.0.113.9'), await attempt(a, '203.0.113.9'), await attempt(b, '203.0.113.9')];
    expect(outcomes).toEqual(Array(4).fill('connected'));
    expect(await attempt(a, '203.0.113.9')).toMatchObject({ code: 'RATE_LIMITED' });
    expect(await attempt(b, '203.0.113.9')).toMatchObject({ code: 'RATE_LIMITED' });
    expect(await attempt(b, '203.0.113.10')).toBe('connected');
  });
});
