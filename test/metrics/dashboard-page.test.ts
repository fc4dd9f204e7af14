// The live dashboard in Debian's Chromium under real load: the real server reports to Prometheus metrics while the
// load-test tool streams sessions into it; the real ops server (behind OPS_TOKEN, passed in the URL fragment) serves
// the bundled page. Every chart must draw and keep drawing, and /metrics must count what the load test sent.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/server/compose.js';
import { loadConfig } from '../../src/config/config.js';
import type { TranscriptionEngine } from '../../src/engines/engine.js';
import { loadTestOptions, runLoadTest, type LoadTestSummary } from '../../src/loadtest/index.js';
import { createPrometheusMetrics } from '../../src/metrics/prometheus-metrics.js';
import { createOpsServer, type OpsServer } from '../../src/ops/ops-server.js';
import { createMemoryStore } from '../../src/store/memory-store.js';
import { browserSkipReason, launchChromium, watchProblems } from '../web/page-harness.js';
import { connect, type TestClient } from '../support/harness.js';
import { buildDashboard } from './dashboard-build.js';

const ARTIFACTS = 'test-artifacts';
const CHARTS = ['ack', 'result', 'throughput', 'errors', 'sessions', 'engine'];
const skip = browserSkipReason();
if (skip) console.warn(skip);

/** An engine that takes 0.3–0.9 s per segment (seeded), so results wait and the engine's slots fill. */
function slowEngine(): TranscriptionEngine {
  let state = 14;
  const next = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  return {
    name: 'slow',
    model: 'slow',
    capacity: 2,
    async transcribe() {
      await new Promise((resolve) => setTimeout(resolve, 300 + next() * 600));
      return { text: 'hello world' };
    },
    async check() {},
  };
}

describe.skipIf(skip)('GET /dashboard in Chromium', () => {
  let built: ReturnType<typeof buildDashboard>;
  let app: App;
  let ops: OpsServer;
  let browser: Browser;
  let base: string;
  let load: Promise<LoadTestSummary>;
  let misbehaving: TestClient;
  let refusals: NodeJS.Timeout;

  beforeAll(async () => {
    built = buildDashboard();
    const prometheus = createPrometheusMetrics();
    const store = createMemoryStore({ ttlS: 60 });
    const engine = slowEngine();
    const config = loadConfig({ TRANSCRIBER: 'pocketsphinx', LOG_LEVEL: 'silent', ENGINE_CONCURRENCY: '2', MAX_EVENT_LOOP_UTILIZATION: '1' });
    app = createApp(config, { store, engine, metrics: prometheus.metrics });
    const url = `http://127.0.0.1:${await app.listen(0, '127.0.0.1')}`;
    ops = createOpsServer({
      config: { opsPort: 0, opsToken: 'dashboard-token', host: '127.0.0.1' },
      store,
      engine,
      metrics: prometheus.registry,
      dashboard: { dir: built.dashboardDir, stepMs: 500 },
    });
    base = `http://127.0.0.1:${await ops.listen()}`;
    // The real load-test tool: 12 real-time sessions started over 4 s, streaming for 14 s.
    load = runLoadTest(loadTestOptions({ url, sessions: 12, rampUpMs: 4000, stop: { kind: 'duration', ms: 14_000 } }));
    // A client that gets refused now and then, so the errors chart has codes to show.
    misbehaving = await connect(url);
    let n = 0;
    refusals = setInterval(() => {
      n += 1;
      // A session that never started, and a payload the protocol refuses (not what the typed client would send).
      if (n % 2) misbehaving.socket.emit('end_session', { session_id: `no-such-session-${n}` }, () => {});
      else (misbehaving.socket.emit as (...args: unknown[]) => void).call(misbehaving.socket, 'audio_chunk', { nonsense: true }, () => {});
    }, 400);
    browser = await launchChromium({});
  });

  afterAll(async () => {
    clearInterval(refusals);
    misbehaving?.socket.close();
    await load?.catch(() => undefined);
    await browser?.close();
    await ops?.close();
    await app?.close();
    built?.remove();
  });

  it('draws every chart from live data and keeps refreshing', async () => {
    const page = await browser.newPage({ viewport: { width: 1320, height: 1000 } });
    const problems = watchProblems(page);
    const external: string[] = [];
    page.on('request', (request) => {
      if (!request.url().startsWith(base) && !request.url().startsWith('data:')) external.push(request.url());
    });
    await page.goto(`${base}/dashboard#token=dashboard-token`);

    // Enough points for lines, in every chart.
    for (const chart of CHARTS) {
      await page.waitForFunction((id) => Number(document.getElementById(`chart-${id}`)?.dataset.points ?? 0) >= 8, chart, { timeout: 20_000 });
    }
    const first = await page.evaluate(() => Number(document.getElementById('chart-throughput')!.dataset.points));
    // A chart is non-empty when its canvas holds many coloured (series) pixels, not just axes.
    const coloured = await page.evaluate((ids) =>
      ids.map((id) => {
        const canvas = document.querySelector<HTMLCanvasElement>(`#chart-${id} canvas`);
        if (!canvas) return 0;
        const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
        let count = 0;
        for (let i = 0; i < data.length; i += 4) {
          const [r, g, b, a] = [data[i]!, data[i + 1]!, data[i + 2]!, data[i + 3]!];
          if (a > 0 && Math.max(r, g, b) - Math.min(r, g, b) > 60) count += 1;
        }
        return count;
      }),
    CHARTS);
    for (const [i, count] of coloured.entries()) expect(count, `coloured pixels in chart ${CHARTS[i]}`).toBeGreaterThan(100);

    // The page polls by itself: more points later, without a reload.
    await page.waitForFunction((before) => Number(document.getElementById('chart-throughput')!.dataset.points) > before, first, { timeout: 10_000 });
    expect(await page.locator('#chart-errors .u-legend').innerText()).toMatch(/INVALID_PAYLOAD[\s\S]*UNKNOWN_SESSION/);
    expect(await page.locator('#status').getAttribute('data-state')).toBe('ok');
    expect(await page.locator('#tiles').innerText()).toMatch(/active sessions\s+\d+/i);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png'), fullPage: true });
    expect(problems).toEqual([]);
    expect(external).toEqual([]);
    await page.close();

    // /metrics counts exactly what the load test had acknowledged.
    const summary = await load;
    expect(summary.chunks.acked).toBeGreaterThan(0);
    const text = await (await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer dashboard-token' } })).text();
    expect(text).toMatch(new RegExp(`^transcription_chunks_total ${summary.chunks.acked - summary.chunks.duplicates}$`, 'm'));
    expect(text).toMatch(new RegExp(`^transcription_sessions_started_total ${summary.sessions.started}$`, 'm'));
  });

  it('says how to pass OPS_TOKEN when the URL has none', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/dashboard`);
    await page.waitForFunction(() => document.getElementById('status')?.dataset.state === 'error');
    expect(await page.locator('#status').innerText()).toMatch(/#token=<OPS_TOKEN>/);
    await page.close();
  });
});
