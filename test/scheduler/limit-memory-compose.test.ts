// The composition root builds the engine limit from what Redis remembers of the provider: a node started on a
// provider whose quota another node learnt starts at it, instead of at the initial window.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { providerKey } from '../../src/scheduler/limit-memory.js';
import { composeServer, type TranscriptionServer } from '../../src/server/compose.js';

const BASE_URL = 'http://127.0.0.1:9/v1';
const API_KEY = 'sk-test-limit-memory';

const nodes: TranscriptionServer[] = [];
afterEach(async () => {
  for (const node of nodes.splice(0)) await node.close();
});

async function startNode(prefix: string, env: Record<string, string> = {}): Promise<TranscriptionServer> {
  const config = loadConfig({ REDIS_URL: inject('redisUrl'), REDIS_KEY_PREFIX: prefix, TRANSCRIBER: 'openai', OPENAI_API_KEY: API_KEY, OPENAI_BASE_URL: BASE_URL, LOG_LEVEL: 'silent', ...env });
  const node = await composeServer(config, pino({ level: 'silent' }));
  nodes.push(node);
  return node;
}

describe('engine limit from Redis at start-up', () => {
  it('starts at the quota another node learnt; a fixed ENGINE_CONCURRENCY or another provider key does not read it', async () => {
    const prefix = `limit-compose:${randomUUID()}:`;
    const first = await startNode(prefix, { PORT: '3101' });
    expect(first.app.scheduler.state.limit).toBe(16);

    const redis = new Redis(inject('redisUrl'));
    try {
      const [seconds, micros] = await redis.time();
      const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
      await redis.hset(providerKey(prefix, { baseUrl: BASE_URL, apiKey: API_KEY }), 'quota', JSON.stringify({ level: 40 }), 't|quota', now);
    } finally {
      redis.disconnect();
    }
    // The first node is live but has nothing in flight: the new one may take the whole quota.
    expect((await startNode(prefix, { PORT: '3102' })).app.scheduler.state.limit).toBe(40);
    expect((await startNode(prefix, { PORT: '3103', ENGINE_CONCURRENCY: '8' })).app.scheduler.state.limit).toBe(8);
    expect((await startNode(prefix, { PORT: '3104', OPENAI_API_KEY: 'sk-another-account' })).app.scheduler.state.limit).toBe(16);
  });
});
