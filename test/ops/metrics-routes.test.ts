// GET /metrics and the dashboard routes on the real ops server: the Prometheus text format, OPS_TOKEN on the data
// (never on the page's own files), and /dashboard/data computed from the registry the server was given.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPrometheusMetrics } from '../../src/metrics/prometheus-metrics.js';
import { createOpsServer, type OpsServer } from '../../src/ops/ops-server.js';
import { createMemoryStore } from '../../src/store/memory-store.js';
import { buildDashboard } from '../metrics/dashboard-build.js';

let built: ReturnType<typeof buildDashboard>;
beforeAll(() => {
  built = buildDashboard();
});
afterAll(() => built.remove());

let ops: OpsServer | undefined;
afterEach(async () => {
  await ops?.close();
  ops = undefined;
});

async function start(opsToken?: string) {
  const prometheus = createPrometheusMetrics();
  ops = createOpsServer({
    config: { opsPort: 0, opsToken, host: '127.0.0.1' },
    store: createMemoryStore({ ttlS: 60 }),
    // The routes under test never call the engine.
    engine: { name: 'stub', model: 'stub-1', transcribe: async () => ({ text: '' }), check: async () => {} },
    metrics: prometheus.registry,
    dashboard: { dir: built.dashboardDir, stepMs: 100 },
  });
  const port = await ops.listen();
  return { base: `http://127.0.0.1:${port}`, metrics: prometheus.metrics };
}

describe('GET /metrics', () => {
  it('serves the registry in the Prometheus text format', async () => {
    const { base, metrics } = await start();
    metrics.chunkAccepted(0.1);
    metrics.chunkAccepted(0.1);
    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    expect(text).toMatch(/^# TYPE transcription_chunks_total counter$/m);
    expect(text).toMatch(/^transcription_chunks_total 2$/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_p99_seconds /m);
  });

  it('needs the OPS_TOKEN bearer token when one is set: 401 without, 200 with', async () => {
    const { base } = await start('ops-secret');
    const without = await fetch(`${base}/metrics`);
    expect(without.status).toBe(401);
    expect((await without.json()).message).toMatch(/Authorization: Bearer/);
    expect((await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer wrong-token' } })).status).toBe(401);
    const withToken = await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer ops-secret' } });
    expect(withToken.status).toBe(200);
    expect(await withToken.text()).toMatch(/transcription_chunks_total 0/);
    // The token never shows up in what is served.
    expect(await (await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer ops-secret' } })).text()).not.toContain('ops-secret');
    expect((await fetch(`${base}/dashboard/data`)).status).toBe(401);
    expect((await fetch(`${base}/dashboard/data`, { headers: { authorization: 'Bearer ops-secret' } })).status).toBe(200);
    // The page and its script carry no data: a browser loads them, then sends the token from the URL fragment.
    expect((await fetch(`${base}/dashboard`)).status).toBe(200);
    expect((await fetch(`${base}/dashboard/app.js`)).status).toBe(200);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });
});

describe('GET /dashboard', () => {
  it('serves the built page with a self-only content policy, and its script and styles', async () => {
    const { base } = await start();
    const page = await fetch(`${base}/dashboard`);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    expect(await page.text()).toContain('/dashboard/app.js');
    expect((await fetch(`${base}/dashboard/app.js`)).headers.get('content-type')).toMatch(/javascript/);
    expect(await (await fetch(`${base}/dashboard/app.css`)).text()).toMatch(/\.uplot/);
    expect((await fetch(`${base}/dashboard/../package.json`)).status).toBe(404);
  });

  it('/dashboard/data holds points sampled from the registry', async () => {
    const { base, metrics } = await start();
    metrics.sessionsActive(3);
    for (let i = 0; i < 50; i++) {
      metrics.chunkAccepted(0.1);
      metrics.eventHandled('audio_chunk', 0.004);
    }
    let data;
    const deadline = Date.now() + 5000;
    do {
      await new Promise((resolve) => setTimeout(resolve, 150));
      data = await (await fetch(`${base}/dashboard/data`)).json();
    } while (data.t.length < 2 && Date.now() < deadline);
    expect(data.stepS).toBe(0.1);
    expect(data.sessionsActive.at(-1)).toBe(3);
    expect(data.ackLatency.p95.some((v: number | null) => v !== null && v > 0.0025 && v <= 0.005)).toBe(true);
    expect(data.throughput.chunksPerS.some((v: number | null) => v !== null && v > 0)).toBe(true);
    // No result yet: gaps (null), not zeros, survive the response schema.
    expect(data.resultLatency.p95.length).toBeGreaterThan(0);
    expect(data.resultLatency.p95.every((v: number | null) => v === null)).toBe(true);
  });
});
