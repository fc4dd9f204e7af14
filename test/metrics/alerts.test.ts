// The Prometheus alert rules: promtool accepts the file, and its unit tests (deploy/prometheus/alerts*.test.yml)
// prove each alert fires on series that break its threshold and stays quiet on healthy ones.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const PROMTOOL = '/usr/bin/promtool';
const skip = !existsSync(PROMTOOL) && !process.env.CI;
if (skip) console.warn(`${PROMTOOL} is missing (apt-get install prometheus): the alert rule checks are skipped outside CI`);

describe.skipIf(skip)('deploy/prometheus/alerts.yml', () => {
  it('passes promtool check rules, with the seed\u2019s three alerts and three more', async () => {
    const { stdout } = await run(PROMTOOL, ['check', 'rules', 'deploy/prometheus/alerts.yml']);
    expect(stdout).toMatch(/SUCCESS: 6 rules found/);
  });

  it('fires each alert in promtool test rules', { timeout: 120_000 }, async () => {
    const { stdout, stderr } = await run(PROMTOOL, ['test', 'rules', 'alerts.test.yml', 'alerts-throughput.test.yml'], { cwd: 'deploy/prometheus' });
    expect(`${stdout}${stderr}`.match(/SUCCESS/g)).toHaveLength(2);
    expect(`${stdout}${stderr}`).not.toMatch(/FAILED/);
  });
});
