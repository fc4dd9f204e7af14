// Production must decide who may connect: the built server (`node dist/main.js`) with NODE_ENV=production and no
// credentials settings exits naming them and ALLOW_ANONYMOUS; with ALLOW_ANONYMOUS=true it starts and warns; short
// AUTH_TOKEN / OPS_TOKEN stop start-up anywhere. Outside production nothing changes.
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { runServerToExit, spawnServer, type SpawnedServer } from '../support/spawn-server.js';

const BASE = { TRANSCRIBER: 'openai', OPENAI_API_KEY: 'sk-test-production', OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' };
const SECRET = 'x'.repeat(48);

function configError(env: Record<string, string>): string {
  try {
    loadConfig({ ...BASE, ...env });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('loadConfig accepted it');
}

describe('loadConfig: production and credentials', () => {
  it('refuses NODE_ENV=production without AUTH_TOKEN, TOKEN_SECRET or API_KEYS, naming each and ALLOW_ANONYMOUS', () => {
    const message = configError({ NODE_ENV: 'production' });
    for (const name of ['AUTH_TOKEN', 'TOKEN_SECRET', 'API_KEYS', 'ALLOW_ANONYMOUS=true']) expect(message).toContain(name);
  });

  it('accepts production with any one decision', () => {
    expect(loadConfig({ ...BASE, NODE_ENV: 'production', AUTH_TOKEN: 'a'.repeat(16) }).production).toBe(true);
    expect(loadConfig({ ...BASE, NODE_ENV: 'production', TOKEN_SECRET: SECRET, API_KEYS: 'backend-key' }).auth.apiKeys).toEqual(['backend-key']);
    expect(loadConfig({ ...BASE, NODE_ENV: 'production', TOKEN_SECRET: SECRET }).auth.tokenSecrets).toEqual([SECRET]);
    expect(loadConfig({ ...BASE, NODE_ENV: 'production', ALLOW_ANONYMOUS: 'true' }).auth.allowAnonymous).toBe(true);
  });

  it('ALLOW_ANONYMOUS=false or empty is no decision', () => {
    expect(configError({ NODE_ENV: 'production', ALLOW_ANONYMOUS: 'false' })).toMatch(/ALLOW_ANONYMOUS/);
    expect(configError({ NODE_ENV: 'production', ALLOW_ANONYMOUS: '' })).toMatch(/ALLOW_ANONYMOUS/);
    expect(configError({ NODE_ENV: 'production', AUTH_TOKEN: '   ' })).toMatch(/ALLOW_ANONYMOUS/);
  });

  it('outside production nothing is required (a newcomer\'s npm start)', () => {
    for (const NODE_ENV of ['', 'development', 'test']) expect(loadConfig({ ...BASE, NODE_ENV }).authToken).toBeUndefined();
  });

  it('takes any spelling of production for production: NODE_ENV=Production does not start an open server', () => {
    for (const NODE_ENV of ['Production', 'PRODUCTION', ' production ']) {
      expect(configError({ NODE_ENV })).toMatch(/ALLOW_ANONYMOUS/);
      expect(loadConfig({ ...BASE, NODE_ENV, ALLOW_ANONYMOUS: 'true' }).production).toBe(true);
    }
  });

  it('AUTH_TOKEN and OPS_TOKEN shorter than 16 characters stop start-up, in any environment, saying how to make one', () => {
    for (const name of ['AUTH_TOKEN', 'OPS_TOKEN']) {
      const message = configError({ [name]: 'fifteen-chars15' });
      expect(message).toContain(name);
      expect(message).toContain('16');
      expect(message).toContain('openssl rand -base64 24');
      expect(configError({ NODE_ENV: 'production', ALLOW_ANONYMOUS: 'true', [name]: 'short' })).toContain(name);
    }
    expect(loadConfig({ ...BASE, AUTH_TOKEN: 'sixteen-chars-16', OPS_TOKEN: 'sixteen-chars-16' }).authToken).toBe('sixteen-chars-16');
  });

  it('rate limits per address: defaults, 0 turns them off', () => {
    expect(loadConfig(BASE).auth).toMatchObject({ tokenRequestsPerMinute: 600, handshakesPerMinute: 600 });
    expect(loadConfig({ ...BASE, TOKEN_REQUESTS_PER_MINUTE: '0', HANDSHAKES_PER_MINUTE: '0' }).auth).toMatchObject({ tokenRequestsPerMinute: 0, handshakesPerMinute: 0 });
    expect(configError({ HANDSHAKES_PER_MINUTE: 'lots' })).toContain('HANDSHAKES_PER_MINUTE');
  });
});

describe('the built server in production', () => {
  let server: SpawnedServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('exits non-zero without credentials, naming AUTH_TOKEN, TOKEN_SECRET, API_KEYS and ALLOW_ANONYMOUS', async () => {
    const run = await runServerToExit({ ...BASE, NODE_ENV: 'production' });
    expect(run.code).not.toBe(0);
    const stderr = run.stderr.join('\n');
    for (const name of ['AUTH_TOKEN', 'TOKEN_SECRET', 'API_KEYS', 'ALLOW_ANONYMOUS']) expect(stderr).toContain(name);
    expect(run.stdout.join('\n')).not.toMatch(/listening/);
  }, 30_000);

  it('starts with ALLOW_ANONYMOUS=true and warns that anyone may connect', async () => {
    server = await spawnServer({ ...BASE, NODE_ENV: 'production', ALLOW_ANONYMOUS: 'true' }, 30_000);
    const warning = server.stdout.find((line) => line.includes('ALLOW_ANONYMOUS=true'));
    expect(warning).toBeDefined();
    expect(JSON.parse(warning!)).toMatchObject({ level: 40 });
  }, 40_000);

  it('refuses a short AUTH_TOKEN or OPS_TOKEN at start', async () => {
    for (const name of ['AUTH_TOKEN', 'OPS_TOKEN']) {
      const run = await runServerToExit({ ...BASE, [name]: 'too-short' });
      expect(run.code).not.toBe(0);
      expect(run.stderr.join('\n')).toMatch(new RegExp(`${name} must be at least 16 characters.*openssl rand -base64 24`));
    }
  }, 30_000);
});
