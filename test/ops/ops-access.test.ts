// Ops access with the real ops server: off in production without OPS_TOKEN (probes stay open), the performance
// test limited per minute whatever the token.
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createOpenAIEngine } from '../../src/engines/openai.js';
import { createOpsServer, type OpsServer } from '../../src/ops/ops-server.js';
import { createMemoryStore } from '../../src/store/memory-store.js';
import { startOpenAIStub, type OpenAIStub } from '../support/openai-stub.js';

let ops: OpsServer | undefined;
let stub: OpenAIStub | undefined;
afterEach(async () => {
  await ops?.close();
  await stub?.close();
  ops = stub = undefined;
});

async function start(config: { opsToken?: string; production?: boolean; perfTestPerMinute?: number }) {
  stub = await startOpenAIStub();
  const engine = createOpenAIEngine({ apiKey: 'sk-test-ops', baseUrl: stub.url, model: 'whisper-1', maxRetries: 0, timeoutMs: 5000 });
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
  ops = createOpsServer({
    config: { opsPort: 0, host: '127.0.0.1', opsToken: config.opsToken, production: config.production, limits: { perfTestPerMinute: config.perfTestPerMinute ?? 3 } as never },
    store: createMemoryStore({ ttlS: 60 }),
    engine,
    logger,
  });
  const port = await ops.listen();
  return { base: `http://127.0.0.1:${port}`, lines };
}

describe('ops access', () => {
  it('production without OPS_TOKEN: /ops/* is off with a message saying how to turn it on; /healthz and /readyz answer', async () => {
    const { base, lines } = await start({ production: true });
    const response = await fetch(`${base}/ops/test-sentry-performance`);
    expect(response.status).toBe(404);
    expect((await response.json()).message).toMatch(/set OPS_TOKEN/);
    expect((await fetch(`${base}/ops/test-sentry-performance`, { headers: { authorization: 'Bearer anything' } })).status).toBe(404);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect(lines.join('')).toMatch(/\/ops\/\* is off.*set OPS_TOKEN to turn it on/);
  });

  it('production with OPS_TOKEN: /ops/* works with the token', async () => {
    const { base } = await start({ production: true, opsToken: 'ops-token' });
    expect((await fetch(`${base}/ops/test-sentry-performance`)).status).toBe(401);
    expect((await fetch(`${base}/ops/test-sentry-performance`, { headers: { authorization: 'Bearer ops-token' } })).status).toBe(200);
  });

  it('the performance test runs PERF_TEST_PER_MINUTE times a minute, then 429 with Retry-After, token or not', async () => {
    const { base, } = await start({ opsToken: 'ops-token', perfTestPerMinute: 2 });
    const run = () => fetch(`${base}/ops/test-sentry-performance`, { headers: { authorization: 'Bearer ops-token' } });
    expect((await run()).status).toBe(200);
    expect((await run()).status).toBe(200);
    const third = await run();
    expect(third.status).toBe(429);
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await third.json()).message).toMatch(/PERF_TEST_PER_MINUTE/);
    // Refused callers do not spend the budget either way, and a wrong token still gets 401 first.
    expect((await fetch(`${base}/ops/test-sentry-performance`)).status).toBe(401);
  });
});
