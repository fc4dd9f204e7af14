// Renders .env.example from the settings table: every setting with its doc line and default, grouped, the common
// groups first. `npm run settings:doc` writes it; test/config/env-example.test.ts fails when the file drifts.
import { SETTING_GROUPS, SETTING_NAMES, SETTINGS, type SettingGroup, type SettingName } from './settings.js';

function shownDefault(name: SettingName): string {
  const spec = SETTINGS[name];
  if ('shown' in spec && spec.shown !== undefined) return spec.shown;
  const value: unknown = spec.schema(1).parse(undefined);
  if (value === undefined || value === false && name === 'SENTRY_SPOTLIGHT') return '';
  return Array.isArray(value) ? value.join(',') : String(value);
}

export function renderEnvExample(): string {
  const lines = [
    '# Every setting the server reads, with its default. Copy to .env (or export) and change what you need.',
    '# A bad value stops start-up with a message naming the variable. Generated from src/config/settings.ts',
    '# (`npm run settings:doc`): edit the table there, not this file.',
  ];
  for (const group of Object.keys(SETTING_GROUPS) as SettingGroup[]) {
    const names = SETTING_NAMES.filter((name) => SETTINGS[name].group === group);
    if (names.length === 0) continue;
    lines.push('', `# --- ${SETTING_GROUPS[group]} ---`);
    for (const name of names) {
      for (const docLine of SETTINGS[name].doc.split('\n')) lines.push(`# ${docLine}`);
      lines.push(`${name}=${shownDefault(name)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** The settings a user reads first: every group but tuning and the scripts'. */
export function everydaySettings(): SettingName[] {
  return SETTING_NAMES.filter((name) => SETTINGS[name].group !== 'tuning' && SETTINGS[name].group !== 'scripts');
}
