// The deployment settings: WORKERS (a count or auto), its need for REDIS_URL, the drain grace, the session lease and
// the engine-outage readiness policy, each refused with a message naming the variable.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';

describe('deployment settings', () => {
  it('default to one process, a 25 s drain, a 10 s lease, and engine outages reported', () => {
    expect(loadConfig({})).toMatchObject({ workers: 1, shutdownGraceMs: 25000, sessionLeaseMs: 10000, engineOutageReadiness: 'report' });
  });

  it('WORKERS=auto is one per core; a count is taken as given', () => {
    const redis = { REDIS_URL: 'redis://127.0.0.1:6379' };
    expect(loadConfig({ ...redis, WORKERS: 'auto' }, 6).workers).toBe(6);
    expect(loadConfig({ ...redis, WORKERS: '3' }, 6).workers).toBe(3);
    expect(loadConfig({ WORKERS: 'auto' }, 1).workers).toBe(1);
  });

  it('shares the cores\' pocketsphinx decoders among the workers unless POCKETSPHINX_DECODERS is set', () => {
    const redis = { REDIS_URL: 'redis://127.0.0.1:6379' };
    expect(loadConfig({}, 4).engine.pocketsphinx.decoders).toBe(4);
    expect(loadConfig({ ...redis, WORKERS: '2' }, 4).engine.pocketsphinx.decoders).toBe(2);
    expect(loadConfig({ ...redis, WORKERS: 'auto' }, 4).engine.pocketsphinx.decoders).toBe(1);
    expect(loadConfig({ ...redis, WORKERS: '2', POCKETSPHINX_DECODERS: '3' }, 4).engine.pocketsphinx.decoders).toBe(3);
  });

  it.each([
    [{ WORKERS: '2' }, /WORKERS=2 needs REDIS_URL/],
    [{ WORKERS: '0' }, /WORKERS must be a whole number from 1 to 256, or auto/],
    [{ WORKERS: 'many' }, /WORKERS must be a whole number from 1 to 256, or auto/],
    [{ SHUTDOWN_GRACE_MS: '-1' }, /SHUTDOWN_GRACE_MS must be a whole number/],
    [{ SESSION_LEASE_MS: '10' }, /SESSION_LEASE_MS must be a whole number from 1000/],
    [{ ENGINE_OUTAGE_READINESS: 'ignore' }, /ENGINE_OUTAGE_READINESS must be one of report, fail/],
  ])('refuses %o', (env, message) => {
    expect(() => loadConfig(env, 4)).toThrow(message);
  });
});
