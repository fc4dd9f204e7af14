// The access secrets are among those the Sentry scrubber removes from every string it sends.
import { describe, expect, it } from 'vitest';
import { loadSentrySettings } from '../../src/telemetry/sentry-config.js';

describe('access secrets and Sentry', () => {
  it('every API key and every TOKEN_SECRET entry is a secret to scrub', () => {
    const settings = loadSentrySettings({ API_KEYS: 'backend-key-one, backend-key-two', TOKEN_SECRET: `${'n'.repeat(32)},${'o'.repeat(32)}` });
    expect(settings.secrets).toEqual(expect.arrayContaining(['backend-key-one', 'backend-key-two', 'n'.repeat(32), 'o'.repeat(32)]));
    expect(settings.secrets).not.toContain('');
  });
});
