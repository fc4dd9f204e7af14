// The readiness probe against real HTTP servers: the store on every probe, the engine at most once per TTL while it
// answers; any HTTP answer counts as reachable, a rejected key takes the node out naming OPENAI_API_KEY, no answer is
// an outage (reported, or failing with ENGINE_OUTAGE_READINESS=fail), and a draining node is out at once.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createOpenAIEngine } from '../../src/engines/openai.js';
import { createReadinessProbe, type ReadinessOptions } from '../../src/ops/readiness.js';
import { createMemoryStore } from '../../src/store/memory-store.js';
import { startOpenAIStub, type OpenAIStub } from '../support/openai-stub.js';
import { freePort } from '../support/redis-server.js';

let stub: OpenAIStub | undefined;
let provider: http.Server | undefined;
afterEach(async () => {
  await stub?.close();
  provider?.closeAllConnections();
  await new Promise((resolve) => (provider ? provider.close(resolve) : resolve(undefined)));
  stub = provider = undefined;
});

/** A provider whose GET /v1/models answers `status` (or never, for `'silent'`). */
async function providerAnswering(status: number | 'silent'): Promise<string> {
  provider = http.createServer((_request, response) => {
    if (status === 'silent') return;
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ error: { message: `answered ${status}`, type: 'x', param: null, code: null } }));
  });
  await new Promise<void>((resolve) => provider!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(provider.address() as AddressInfo).port}/v1`;
}

/** `timeoutMs`: the engine's own, which bounds its check; short only where a time-out is the point. */
function probeFor(baseUrl: string, options: ReadinessOptions = {}, timeoutMs = 5000) {
  const engine = createOpenAIEngine({ apiKey: 'sk-test-ready', baseUrl, model: 'whisper-1', maxRetries: 0, timeoutMs });
  return createReadinessProbe(createMemoryStore({ ttlS: 60 }), engine, options);
}

describe('readiness probe', () => {
  it('asks the provider once per TTL while it answers, then again; a failure is reported at once and not remembered', async () => {
    stub = await startOpenAIStub();
    let clock = 1_000_000;
    const probe = probeFor(stub.url, { engineSuccessTtlMs: 30_000, now: () => clock, engineOutage: 'fail' });
    const modelRequests = () => stub!.requests.filter((r) => r.path === '/v1/models').length;

    const first = await probe();
    expect(first.status).toBe('ready');
    expect(first.checks.engine?.checked_ms_ago).toBeUndefined();
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
    expect(down.checks.store?.ok).toBe(true);

    clock += 1000;
    const stillDown = await probe();
    expect(stillDown.failed).toEqual(['engine']);
    expect(stillDown.checks.engine?.checked_ms_ago).toBeUndefined();
  });

  it.each([404, 500, 429])('a provider that answers %i is reachable: ready', async (status) => {
    const result = await probeFor(await providerAnswering(status))();
    expect(result).toMatchObject({ status: 'ready', failed: [], warnings: [], checks: { engine: { ok: true } } });
  });

  it.each([401, 403])('a provider that answers %i takes the node out, naming OPENAI_API_KEY, under either policy', async (status) => {
    for (const engineOutage of ['report', 'fail'] as const) {
      const result = await probeFor(await providerAnswering(status), { engineOutage })();
      expect(result.status).toBe('not_ready');
      expect(result.failed).toEqual(['engine']);
      expect(result.checks.engine?.error).toContain('OPENAI_API_KEY');
      expect(result.checks.engine?.error).not.toContain('sk-test-ready');
      expect(result.checks.engine?.outage).toBeUndefined();
      provider!.closeAllConnections();
      await new Promise((resolve) => provider!.close(resolve));
      provider = undefined;
    }
  });

  it('no answer (time-out, refused connection) is an outage: reported while staying ready by default, not ready with "fail"', async () => {
    const silent = await providerAnswering('silent');
    const refused = `http://127.0.0.1:${await freePort()}/v1`;
    for (const url of [silent, refused]) {
      const reported = await probeFor(url, {}, 400)();
      expect(reported).toMatchObject({ status: 'ready', failed: [], warnings: ['engine'], checks: { engine: { ok: false, outage: true } } });
      const failing = await probeFor(url, { engineOutage: 'fail' }, 400)();
      expect(failing).toMatchObject({ status: 'not_ready', failed: ['engine'], warnings: [] });
    }
    const timedOut = await probeFor(silent, {}, 400)();
    expect(timedOut.checks.engine?.error).toMatch(/did not answer within 400 ms/);
    const refusedResult = await probeFor(refused, {}, 400)();
    expect(refusedResult.checks.engine?.error).toMatch(/ECONNREFUSED/);
  });

  it('a draining node is not ready at once, without asking the store or the provider', async () => {
    stub = await startOpenAIStub();
    let draining = false;
    const probe = probeFor(stub.url, { draining: () => draining });
    expect((await probe()).status).toBe('ready');
    const asked = stub.requests.length;
    draining = true;
    const result = await probe();
    expect(result).toMatchObject({ status: 'not_ready', failed: ['draining'] });
    expect(stub.requests.length).toBe(asked);
  });

  it('an extra check (a cluster primary\'s workers) must pass too', async () => {
    stub = await startOpenAIStub();
    let workers = 0;
    const probe = probeFor(stub.url, {
      extraChecks: {
        workers: async () => {
          if (workers === 0) throw new Error('no worker process is serving');
        },
      },
    });
    expect(await probe()).toMatchObject({ status: 'not_ready', failed: ['workers'], checks: { workers: { error: 'no worker process is serving' } } });
    workers = 1;
    expect((await probe()).status).toBe('ready');
  });
});
