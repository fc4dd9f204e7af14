// Behind a proxy: the client address and the same-origin check read the proxy's headers only with TRUST_PROXY.
import { describe, expect, it } from 'vitest';
import { clientAddress } from '../../src/auth/client-address.js';
import { createOriginPolicy } from '../../src/auth/origin-policy.js';
import { loadConfig } from '../../src/config/config.js';

describe('client address', () => {
  it('is the peer unless TRUST_PROXY; then the last X-Forwarded-For entry, the one the proxy added', () => {
    const headers = { 'x-forwarded-for': '6.6.6.6, 10.0.0.7' };
    expect(clientAddress('127.0.0.1', headers, false)).toBe('127.0.0.1');
    expect(clientAddress('127.0.0.1', headers, true)).toBe('10.0.0.7');
    expect(clientAddress('127.0.0.1', { 'x-forwarded-for': ['1.1.1.1', '2.2.2.2'] }, true)).toBe('2.2.2.2');
    expect(clientAddress('127.0.0.1', {}, true)).toBe('127.0.0.1');
  });
});

describe('origin policy', () => {
  it('production same-origin compares with X-Forwarded-Host only when the proxy is trusted', () => {
    const request = (origin: string) =>
      ({ headers: { origin, host: 'internal:3000', 'x-forwarded-host': 'app.example.com' } }) as never;
    const verdict = (trustProxy: boolean, origin: string) =>
      new Promise<boolean>((resolve) => createOriginPolicy({ allowedOrigins: [], production: true, trustProxy }).allowRequest(request(origin), (_m, ok) => resolve(ok)));
    return Promise.all([
      expect(verdict(true, 'https://app.example.com')).resolves.toBe(true),
      expect(verdict(false, 'https://app.example.com')).resolves.toBe(false),
      expect(verdict(false, 'http://internal:3000')).resolves.toBe(true),
    ]);
  });

  it('"*" in ALLOWED_ORIGINS allows any origin, also in production', () => {
    const policy = createOriginPolicy({ allowedOrigins: ['*'], production: true, trustProxy: false });
    expect(policy.allows('https://x.example', 'y')).toBe(true);
    expect(policy.corsOrigin).toBe(true);
  });

  it('TRUST_PROXY takes only true or false, naming the variable otherwise', () => {
    expect(loadConfig({ TRANSCRIBER: 'pocketsphinx', TRUST_PROXY: 'true' }).auth.trustProxy).toBe(true);
    expect(() => loadConfig({ TRANSCRIBER: 'pocketsphinx', TRUST_PROXY: 'maybe' })).toThrow(/TRUST_PROXY must be true or false/);
    expect(() => loadConfig({ TRANSCRIBER: 'pocketsphinx', AUDIO_RATE_LIMIT: '-1' })).toThrow(/AUDIO_RATE_LIMIT/);
  });
});
