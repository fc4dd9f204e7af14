// POST /v1/tokens over real HTTP, routed beside a stand-in page handler: API-key checks, options, refusals.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createAccess } from '../../src/auth/access.js';
import { loadConfig } from '../../src/config/config.js';
import { createRequestRouter } from '../../src/web-server/request-router.js';

const SECRET = 's'.repeat(40);
let server: Server | undefined;
afterEach(async () => {
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

async function start(env: Record<string, string>) {
  const config = loadConfig({ TRANSCRIBER: 'pocketsphinx', ...env });
  const access = createAccess(config);
  const page = (_req: unknown, res: import('node:http').ServerResponse) => res.end('page');
  server = createServer(createRequestRouter({ '/v1/tokens': access.tokenEndpoint }, page));
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, access };
}

const post = (base: string, body: unknown, key?: string) =>
  fetch(`${base}/v1/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

describe('POST /v1/tokens', () => {
  it('issues a token for any of API_KEYS, with defaults, and nothing caches it', async () => {
    const { base, access } = await start({ API_KEYS: 'key-one, key-two', TOKEN_SECRET: SECRET });
    for (const key of ['key-one', 'key-two']) {
      const response = await post(base, {}, key);
      expect(response.status).toBe(200);
      expect(response.headers.get('cache-control')).toBe('no-store');
      const body = await response.json();
      expect(Object.keys(body).sort()).toEqual(['expires_at', 'token']);
      const ttl = Date.parse(body.expires_at) - Date.now();
      expect(ttl).toBeGreaterThan(55_000);
      expect(ttl).toBeLessThanOrEqual(60_000);
      await expect(access.clientTokens!.redeem(body.token)).resolves.toBeTruthy();
    }
    // The page still answers everything else.
    expect(await (await fetch(`${base}/`)).text()).toBe('page');
    expect(await (await fetch(`${base}/v1/tokens-not`)).text()).toBe('page');
  });

  it('carries the requested limits into the token', async () => {
    const { base, access } = await start({ API_KEYS: 'k', TOKEN_SECRET: SECRET });
    const response = await post(base, { expires_in_s: 300, max_session_ms: 60_000, max_sessions: 1, language: 'pt-BR', model: 'whisper-1' }, 'k');
    const body = await response.json();
    expect(Date.parse(body.expires_at) - Date.now()).toBeGreaterThan(295_000);
    await expect(access.clientTokens!.redeem(body.token)).resolves.toMatchObject({ maxSessionMs: 60_000, maxSessions: 1, language: 'pt-BR', model: 'whisper-1' });
  });

  it('refuses a missing or wrong key with 401, other methods with 405, bad bodies with 400 naming the field', async () => {
    const { base } = await start({ API_KEYS: 'right', TOKEN_SECRET: SECRET, TOKEN_MAX_TTL_S: '120' });
    expect((await post(base, {})).status).toBe(401);
    const wrong = await post(base, {}, 'wrong');
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toBe('Bearer');
    expect((await wrong.json()).message).toMatch(/API_KEYS/);
    expect((await fetch(`${base}/v1/tokens`, { headers: { authorization: 'Bearer right' } })).status).toBe(405);
    const tooLong = await post(base, { expires_in_s: 121 }, 'right');
    expect(tooLong.status).toBe(400);
    expect((await tooLong.json()).message).toMatch(/expires_in_s.*TOKEN_MAX_TTL_S=120/);
    const unknown = await post(base, { admin: true }, 'right');
    expect(unknown.status).toBe(400);
    expect((await unknown.json()).message).toMatch(/admin/);
    expect((await post(base, '{not json', 'right')).status).toBe(400);
    expect((await post(base, JSON.stringify({ model: 'x'.repeat(5000) }), 'right')).status).toBe(413);
  });

  it('answers 404 saying how to turn tokens on when API_KEYS is not set', async () => {
    const { base } = await start({});
    const response = await post(base, {}, 'anything');
    expect(response.status).toBe(404);
    expect((await response.json()).message).toMatch(/API_KEYS and TOKEN_SECRET/);
  });
});

describe('settings', () => {
  it('API_KEYS without TOKEN_SECRET stops start-up naming TOKEN_SECRET; a short secret is refused', () => {
    expect(() => loadConfig({ TRANSCRIBER: 'pocketsphinx', API_KEYS: 'k' })).toThrow(/TOKEN_SECRET/);
    expect(() => loadConfig({ TRANSCRIBER: 'pocketsphinx', API_KEYS: 'k', TOKEN_SECRET: 'short' })).toThrow(/TOKEN_SECRET.*32/);
  });
});
