// The live dashboard in Debian's Chromium: the real ops server (behind OPS_TOKEN, passed in the URL fragment) serves
// the bundled page while metrics are fed as a loaded server would report them; every chart must draw, and keep
// drawing as new points arrive.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPocketsphinxEngine } from '../../src/engines/pocketsphinx.js';
import { createPrometheusMetrics } from '../../src/metrics/prometheus-metrics.js';
import { createOpsServer, type OpsServer } from '../../src/ops/ops-server.js';
import { createMemoryStore } from '../../src/store/memory-store.js';
import { browserSkipReason, launchChromium, watchProblems } from '../web/page-harness.js';
import { buildDashboard } from './dashboard-build.js';
import { feedLoad } from './load-feed.js';

const ARTIFACTS = 'test-artifacts';
const CHARTS = ['ack', 'result', 'throughput', 'errors', 'sessions', 'engine'];
const skip = browserSkipReason();
if (skip) console.warn(skip);

describe.skipIf(skip)('GET /dashboard in Chromium', () => {
  let built: ReturnType<typeof buildDashboard>;
  let ops: OpsServer;
  let browser: Browser;
  let base: string;
  let stopFeed: () => void;

  beforeAll(async () => {
    built = buildDashboard();
    const prometheus = createPrometheusMetrics();
    ops = createOpsServer({
      config: { opsPort: 0, opsToken: 'dashboard-token', host: '127.0.0.1' },
      store: createMemoryStore({ ttlS: 60 }),
      engine: createPocketsphinxEngine({ command: 'pocketsphinx_continuous' }),
      metrics: prometheus.registry,
      dashboard: { dir: built.dashboardDir, stepMs: 250 },
    });
    base = `http://127.0.0.1:${await ops.listen()}`;
    stopFeed = feedLoad(prometheus.metrics, { seed: 14 });
    browser = await launchChromium({});
  });

  afterAll(async () => {
    stopFeed?.();
    await browser?.close();
    await ops?.close();
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
    const legend = await page.locator('#chart-errors .u-legend').innerText();
    expect(legend).toMatch(/SEQ_GAP/);
    expect(await page.locator('#status').getAttribute('data-state')).toBe('ok');
    expect(await page.locator('#tiles').innerText()).toMatch(/active sessions\s+\d+/i);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png'), fullPage: true });
    expect(problems).toEqual([]);
    expect(external).toEqual([]);
    await page.close();
  });

  it('says how to pass OPS_TOKEN when the URL has none', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/dashboard`);
    await page.waitForFunction(() => document.getElementById('status')?.dataset.state === 'error');
    expect(await page.locator('#status').innerText()).toMatch(/#token=<OPS_TOKEN>/);
    await page.close();
  });
});
