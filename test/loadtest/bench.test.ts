// `npm run bench -- --quick` runs here so the benchmark cannot rot: every configuration, the bare server
// included, goes through every scenario and lands in the markdown table. Its figures are not checked: tiny N.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { CONFIGURATIONS } from '../../bench/shared/servers.js';
import type { ConfigurationResult } from '../../bench/fan-in/scenarios.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'bench-quick-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('npm run bench -- --quick', () => {
  it('runs every configuration through every scenario and writes the side-by-side table', { timeout: 240_000 }, async () => {
    // npm run bench builds first; the test runs the entry directly on the build `npm test` made.
    expect(existsSync(join(ROOT, 'dist/main.js')), 'dist/main.js is missing: run npm run build').toBe(true);
    await run(process.execPath, ['--import', 'tsx', 'bench/fan-in/run.ts', '--quick', '--out', out], {
      cwd: ROOT,
      timeout: 200_000,
      maxBuffer: 16 * 1024 * 1024,
    });

    const markdown = readFileSync(join(out, 'results.md'), 'utf8');
    const table = markdown.slice(markdown.indexOf('### Side by side'), markdown.indexOf('### Targets'));
    for (const configuration of CONFIGURATIONS) expect(table).toContain(`| ${configuration.label} |`);
    expect(table).toContain('| bare Socket.IO server (no work) |');
    expect(markdown).toMatch(/\*\*Machine:\*\*.*cores/);
    expect(markdown).toContain('≥ 0.8 × bare');

    const json = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { results: ConfigurationResult[] };
    expect(json.results.map((r) => r.configuration.id)).toEqual(CONFIGURATIONS.map((c) => c.id));
    for (const result of json.results) {
      expect(result.fanIn.steps.length, result.configuration.id).toBeGreaterThan(0);
      expect(result.fanIn.steps[0]!.acks, result.configuration.id).toBeGreaterThan(0);
      expect(result.replay.map((r) => r.errors), result.configuration.id).toEqual([0, 0]);
      expect(result.replay.every((r) => r.audioSeconds > 0), result.configuration.id).toBe(true);
      expect(result.memory.sessions, result.configuration.id).toBeGreaterThan(0);
      if (result.configuration.kind === 'bare') expect(result.finalization).toBeUndefined();
      else expect(result.finalization?.results, result.configuration.id).toBeGreaterThan(0);
    }
  });
});
