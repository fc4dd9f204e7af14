// Bundles the ops dashboard (and the demo page beside it) into fresh temporary folders with the project's build script.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function buildDashboard(): { dashboardDir: string; remove(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dashboard-'));
  const dashboardDir = path.join(dir, 'dashboard');
  execFileSync(process.execPath, ['scripts/build-web.mjs', '--outdir', path.join(dir, 'web'), '--dashboard-outdir', dashboardDir], { stdio: 'pipe' });
  return { dashboardDir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
