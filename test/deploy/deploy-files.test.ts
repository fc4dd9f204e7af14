// The deploy/ files agree with each other and with the server: the ports the image sets are the ones HAProxy sends
// to and checks, every HAProxy server is a compose service, the compose nodes share Redis and drain within Docker's
// grace, and haproxy itself accepts the shipped configuration.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/spawn-server.js';
import { parseDockerfile } from './dockerfile.js';

const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');
const haproxy = read('deploy/haproxy.cfg');
const compose = read('deploy/compose.yaml');
const runtime = parseDockerfile(read('deploy/Dockerfile')).at(-1)!;
const imageEnv = Object.fromEntries(
  runtime.instructions.filter((i) => i.keyword === 'ENV').flatMap((i) => [...i.args.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!])),
);

describe('deploy/ files', () => {
  it('HAProxy sends to the image\'s PORT and checks /readyz on its OPS_PORT', () => {
    expect(imageEnv).toMatchObject({ PORT: '3000', OPS_PORT: '3001' });
    const servers = [...haproxy.matchAll(/^\s+server (\S+) (\S+):(\d+)/gm)];
    expect(servers.length).toBeGreaterThan(1);
    for (const [, , , port] of servers) expect(port).toBe(imageEnv.PORT);
    expect(haproxy).toMatch(new RegExp(`default-server check port ${imageEnv.OPS_PORT}\\b`));
    expect(haproxy).toMatch(/option httpchk GET \/readyz/);
    expect(haproxy).toMatch(/timeout tunnel \d+/);
    // Every server is a compose service.
    for (const [, , host] of servers) expect(compose).toMatch(new RegExp(`^  ${host}:`, 'm'));
  });

  it('the compose nodes share one Redis with an append-only file, and Docker waits longer than the drain', () => {
    expect(compose).toMatch(/REDIS_URL: redis:\/\/redis:6379/);
    expect(compose).toMatch(/--appendonly", "yes"/);
    const grace = Number(/SHUTDOWN_GRACE_MS: "(\d+)"/.exec(compose)?.[1]);
    const stop = Number(/stop_grace_period: (\d+)s/.exec(compose)?.[1]) * 1000;
    expect(grace).toBeGreaterThan(0);
    expect(stop).toBeGreaterThan(grace);
    expect(compose).toMatch(/init: true/);
  });

  it('haproxy accepts the shipped configuration', () => {
    // Names resolve only inside compose's network: point them at loopback for the syntax check.
    const dir = mkdtempSync(path.join(tmpdir(), 'haproxy-check-'));
    try {
      const file = path.join(dir, 'haproxy.cfg');
      writeFileSync(file, haproxy.replace(/^(\s+server \S+ )\S+:/gm, '$1127.0.0.1:').replace(/^(\s+maxconn )\d+/m, '$12000'));
      const check = spawnSync('haproxy', ['-c', '-f', file], { encoding: 'utf8' });
      expect(check.status, check.stderr + check.stdout).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
