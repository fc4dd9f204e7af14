// Runs Debian's haproxy with deploy/haproxy.cfg itself — only its `server` lines replaced by loopback nodes, its
// binds moved to free ports, and maxconn lowered to this machine's file limit — so the tests exercise the shipped
// load-balancer settings.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../support/redis-server.js';
import { ROOT } from '../support/spawn-server.js';

export interface Backend {
  name: string;
  port: number;
  opsPort: number;
}

export interface LoadBalancer {
  url: string;
  output: string[];
  stop(): Promise<void>;
}

/** deploy/haproxy.cfg with our binds and servers; every other line as shipped. */
export function haproxyConfig(backends: Backend[], port: number, statsPort: number): string {
  const shipped = readFileSync(path.join(ROOT, 'deploy/haproxy.cfg'), 'utf8');
  const lines = shipped.split('\n');
  const servers = lines.filter((line) => /^\s+server\s/.test(line));
  if (servers.length === 0) throw new Error('deploy/haproxy.cfg has no server lines');
  const out: string[] = [];
  for (const line of lines) {
    if (/^\s+server\s/.test(line)) {
      if (line !== servers[0]) continue;
      for (const b of backends) out.push(`    server ${b.name} 127.0.0.1:${b.port} cookie ${b.name} port ${b.opsPort}`);
    } else if (/^\s+bind :8080\b/.test(line)) out.push(`    bind 127.0.0.1:${port}`);
    else if (/^\s+bind :8404\b/.test(line)) out.push(`    bind 127.0.0.1:${statsPort}`);
    // HAProxy wants two descriptors per connection; a container gets a higher limit than a test shell.
    else if (/^\s+maxconn \d+/.test(line)) out.push('    maxconn 2000');
    else out.push(line);
  }
  return out.join('\n');
}

export async function startHaproxy(backends: Backend[]): Promise<LoadBalancer> {
  const [port, statsPort] = [await freePort(), await freePort()];
  const dir = mkdtempSync(path.join(tmpdir(), 'haproxy-'));
  const file = path.join(dir, 'haproxy.cfg');
  writeFileSync(file, haproxyConfig(backends, port, statsPort));
  const child: ChildProcess = spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const push = (data: Buffer) => output.push(...data.toString('utf8').split('\n').filter(Boolean));
  child.stdout!.on('data', push);
  child.stderr!.on('data', push);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  // Up once it answers through a node (the demo page, or the JSON 404 without one).
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`haproxy exited:\n${output.join('\n')}`);
    const status = await fetch(`${url}/`).then((r) => r.status, () => 0);
    if (status > 0 && status < 500) break;
    if (Date.now() > deadline) throw new Error(`haproxy did not pass a request to a node within 20 s:\n${output.join('\n')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    output,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
