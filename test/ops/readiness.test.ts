// The readiness probe: the store on every probe, the engine (a request to the provider) at most once per TTL while
// it answers, and an engine failure never remembered.
import { afterEach, describe, expect, it } from 'vitest';
import { createOpenAIEngine } from '../../src/engines/openai.js';
import { createReadinessProbe } from '../../src/ops/readiness.js';
import { createMemoryStore } from '../../src/store/memory-store.js';
import { startOpenAIStub, type OpenAIStub } from '../support/openai-stub.js';

let stub: OpenAIStub | undefined;
afterEach(async () => {
  await stub?.close();
  stub = undefined;
});

describe('readiness probe', () => {
  it('asks the provider once per TTL while it answers, then again; a failure is reported at once and not remembered', async () => {
    stub = await startOpenAIStub();
    const engine = createOpenAIEngine({ apiKey: 'sk-test-ready', baseUrl: stub.url, model: 'whisper-1', maxRetries: 0, timeoutMs: 2000 });
    const store = createMemoryStore({ ttlS: 60 });
    let clock = 1_000_000;
    const probe = createReadinessProbe(store, engine, { engineSuccessTtlMs: 30_000, now: () => clock });
    const modelRequests = () => stub!.requests.filter((r) => r.path === '/v1/models').length;

    const first = await probe();
    expect(first.status).toBe('ready');
    expect(first.checks.engine.checked_ms_ago).toBeUndefined();
    expect(modelRequests()).toBe(1);

    clock += 10_000;
    const second = await probe();
    expect(second).toMatchObject({ status: 'ready', checks: { engine: { ok: true, checked_ms_ago: 10_000 } } });
    expect(modelRequests()).toBe(1);

    clock += 20_000;
    expect((await probe()).status).toBe('ready');
    expect(modelRequests()).toBe(2);

    await stub.close();
    clock += 30_000;
    const down = await probe();
    expect(down.status).toBe('not_ready');
    expect(down.failed).toEqual(['engine']);
    expect(down.checks.store.ok).toBe(true);

    clock += 1000;
    const stillDown = await probe();
    expect(stillDown.failed).toEqual(['engine']);
    expect(stillDown.checks.engine.checked_ms_ago).toBeUndefined();
    await store.close();
  });
});
