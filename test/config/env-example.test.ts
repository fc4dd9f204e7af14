// One definition of every setting: .env.example is the settings table rendered, the everyday list stays short, and
// no module reads a variable the table does not document.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { everydaySettings, renderEnvExample } from '../../src/config/env-example.js';
import { RETIRED_SETTINGS, SETTING_NAMES, SETTINGS } from '../../src/config/settings.js';
import { ROOT } from '../support/spawn-server.js';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return /\.(ts|mjs)$/.test(entry) ? [full] : [];
  });
}

/** Variables of the machine or of the benchmarks' own harness, not settings of the server. */
const NOT_SETTINGS = new Set(['PATH', 'HOME']);

describe('the settings table', () => {
  it('is what .env.example says, line for line (run `npm run settings:doc` after changing the table)', () => {
    expect(readFileSync(path.join(ROOT, '.env.example'), 'utf8')).toBe(renderEnvExample());
  });

  it('keeps the list a user must read to about 45 names, with tuning and scripts apart', () => {
    expect(everydaySettings().length).toBeLessThanOrEqual(45);
    expect(everydaySettings().slice(0, 3)).toEqual(['PORT', 'HOST', 'LOG_LEVEL']);
  });

  it('documents every variable the server and its scripts read', () => {
    const read = new Set<string>();
    for (const file of [...sourceFiles(path.join(ROOT, 'src')), ...sourceFiles(path.join(ROOT, 'scripts'))]) {
      for (const match of readFileSync(file, 'utf8').matchAll(/env(?:\[['"]|\.)([A-Z][A-Z0-9_]+)/g)) read.add(match[1]!);
    }
    const undocumented = [...read].filter((name) => !(name in SETTINGS) && !NOT_SETTINGS.has(name));
    expect(undocumented).toEqual([]);
  });

  it('gives every setting a doc line, and no retired name is still a setting', () => {
    for (const name of SETTING_NAMES) expect(SETTINGS[name].doc.length).toBeGreaterThan(10);
    for (const name of Object.keys(RETIRED_SETTINGS)) expect(SETTING_NAMES).not.toContain(name);
  });
});
