// The load test's --report: the real command line against the real server writes one HTML file that Chromium opens
// from disk with nothing fetched, showing the percentile table, settings and every chart drawn from the run.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { TranscriptionEngine } from '../../src/engines/engine.js';
import { parseLoadTestOptions } from '../../src/loadtest/index.js';
import { startServer } from '../support/harness.js';
import { browserSkipReason, launchChromium, watchProblems } from '../web/page-harness.js';

const run = promisify(execFile);
const ARTIFACTS = 'test-artifacts';
const FIGURES = ['ack-over-time', 'result-over-time', 'ack-histogram', 'result-histogram', 'sessions-over-time', 'throughput-over-time', 'errors-over-time'];

const dir = mkdtempSync(path.join(os.tmpdir(), 'load-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Answers at once: the results' latency is the server's, not an engine's. */
const engine: TranscriptionEngine = { name: 'instant', model: 'instant', transcribe: async () => ({ text: 'hello world' }), check: async () => {} };

describe('--report', () => {
  it('is an option of the command line', () => {
    expect(parseLoadTestOptions(['--report', 'out.html'])).toMatchObject({ report: 'out.html' });
    expect(parseLoadTestOptions([])).toMatchObject({ report: undefined });
  });

  const skip = browserSkipReason();
  it.skipIf(skip)('writes a self-contained HTML file that Chromium draws', { timeout: 90_000 }, async () => {
    const server = await startServer({ store: 'memory', engine });
    const file = path.join(dir, 'report.html');
    try {
      const { stdout, stderr } = await run(
        process.execPath,
        ['--import', 'tsx', 'scripts/load-test.ts', '--url', server.url, '--sessions', '4', '--loops', '2', '--ramp-up', '1', '--quiet', '--report', file],
        { timeout: 60_000 },
      );
      expect(stdout).toMatch(/PASS/);
      expect(stderr).toContain(`HTML report: ${file}`);
    } finally {
      await server.close();
    }

    const html = readFileSync(file, 'utf8');
    // Self-contained: no URL to load anything from.
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=/);
    expect(html).toContain('uPlot');

    const browser = await launchChromium({});
    try {
      const page = await browser.newPage({ viewport: { width: 1320, height: 1000 } });
      const problems = watchProblems(page);
      const requests: string[] = [];
      page.on('request', (request) => requests.push(request.url()));
      await page.goto(pathToFileURL(file).href);
      await page.waitForSelector('body[data-drawn="true"]', { timeout: 15_000 });
      for (const id of FIGURES) {
        expect(await page.locator(`#${id} canvas`).count(), `canvas in #${id}`).toBe(1);
        const points = Number(await page.locator(`#${id}`).getAttribute('data-points'));
        expect(points, `values in #${id}`).toBeGreaterThan(0);
      }
      const table = await page.locator('#percentiles').innerText();
      expect(table).toMatch(/Chunk ack\s+(\d+)/);
      // The table counts every ack of the run: 4 sessions × 2 loops of hello.wav in 100 ms chunks.
      const { summary } = JSON.parse(await page.locator('#run-data').textContent() ?? '{}');
      expect(summary.chunks.acked).toBe(4 * Math.ceil((2 * summary.recording.seconds) / 0.1));
      expect(Number(/Chunk ack\s+(\d+)/.exec(table)![1])).toBe(summary.chunks.acked);
      expect(await page.locator('body').innerText()).toMatch(/Sessions\s+4/);
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, 'load-test-report.png'), fullPage: true });
      expect(problems).toEqual([]);
      expect(requests).toEqual([pathToFileURL(file).href]);
    } finally {
      await browser.close();
    }
  });
});
