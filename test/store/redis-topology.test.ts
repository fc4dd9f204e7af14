// The three Redis choices are read from one setting each, exclusive of one another; WAIT defaults follow Sentinel.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';

describe('Redis topology settings', () => {
  it('reads one server, a Sentinel set or a cluster', () => {
    expect(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' }).redis).toEqual({ kind: 'single', url: 'redis://127.0.0.1:6379' });
    expect(loadConfig({ REDIS_SENTINELS: '10.0.0.1:26379, 10.0.0.2:26380,[::1]:26381', REDIS_SENTINEL_PASSWORD: 'sentinel-secret' }).redis).toEqual({
      kind: 'sentinel',
      name: 'mymaster',
      sentinelPassword: 'sentinel-secret',
      sentinels: [
        { host: '10.0.0.1', port: 26379 },
        { host: '10.0.0.2', port: 26380 },
        { host: '::1', port: 26381 },
      ],
    });
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'redis-a:7000,redis-b:7001' }).redis).toEqual({ kind: 'cluster', nodes: [{ host: 'redis-a', port: 7000 }, { host: 'redis-b', port: 7001 }] });
    expect(loadConfig({}).redis).toBeUndefined();
  });

  it('waits for one replica by default with Sentinel only, and takes an explicit count anywhere', () => {
    expect(loadConfig({ REDIS_SENTINELS: 'a:1' }).redisWait).toEqual({ replicas: 1, timeoutMs: 500 });
    expect(loadConfig({ REDIS_SENTINELS: 'a:1', REDIS_WAIT_REPLICAS: '0' }).redisWait.replicas).toBe(0);
    expect(loadConfig({ REDIS_URL: 'redis://x' }).redisWait.replicas).toBe(0);
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'a:1', REDIS_WAIT_REPLICAS: '2', REDIS_WAIT_TIMEOUT_MS: '250' }).redisWait).toEqual({ replicas: 2, timeoutMs: 250 });
  });

  it('accepts any of the three for WORKERS > 1', () => {
    for (const env of [{ REDIS_URL: 'redis://x' }, { REDIS_SENTINELS: 'a:1' }, { REDIS_CLUSTER_NODES: 'a:1' }]) {
      expect(loadConfig({ ...env, WORKERS: '2' }).workers).toBe(2);
    }
  });

  it.each([
    [{ REDIS_URL: 'redis://x', REDIS_SENTINELS: 'a:1' }, /REDIS_URL and REDIS_SENTINELS are both set; set only one/],
    [{ REDIS_SENTINELS: 'a:1', REDIS_CLUSTER_NODES: 'b:2' }, /REDIS_SENTINELS and REDIS_CLUSTER_NODES are both set/],
    [{ REDIS_SENTINELS: 'a' }, /REDIS_SENTINELS must be a comma-separated list of host:port, got "a"/],
    [{ REDIS_CLUSTER_NODES: 'a:70000' }, /REDIS_CLUSTER_NODES must be a comma-separated list of host:port/],
    [{ REDIS_SENTINELS: 'a:1', REDIS_WAIT_REPLICAS: 'one' }, /REDIS_WAIT_REPLICAS must be a whole number from 0 to 16/],
  ])('refuses %o', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('never puts the sentinel password in a configuration error', () => {
    expect(() => loadConfig({ REDIS_SENTINELS: 'a:1', REDIS_CLUSTER_NODES: 'b:2', REDIS_SENTINEL_PASSWORD: 'sentinel-secret' })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('sentinel-secret') }),
    );
  });
});
