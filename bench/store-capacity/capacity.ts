// How many real-time streams one Redis core holds: client processes drive the store's own scripts at the real
// per-chunk mix (client.ts) flat out against one redis-server, and the chunks per second it completes are divided by
// the share of a core redis-server used meanwhile (10 chunks/s = one real-time stream of 100 ms chunks). Then the same
// with a replica and REDIS_WAIT_REPLICAS=1. Usage: npx tsx bench/store-capacity/capacity.ts [--clients 3] [--streams 64] [--seconds 10]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT } from '../../test/support/spawn-server.js';
import { cpuSeconds, freePort, startChild, stopAll } from '../shared/processes.js';

/** redis-server writes its replication snapshot (dump.rdb) where it runs: a temp dir, removed at the end. */
const REDIS_DIR = mkdtempSync(path.join(tmpdir(), 'bench-redis-'));

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
};
const CLIENTS = Number(arg('clients', '3'));
const STREAMS = Number(arg('streams', '64'));
const SECONDS = Number(arg('seconds', '10'));
const CHUNKS_PER_STREAM_SECOND = 10;

function startClient(url: string, wait: number, prefix: string): Promise<ChildProcess & { result: Promise<{ chunks: number; errors: number }> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/store-capacity/client.ts', url, String(STREAMS), String(wait), prefix], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  const result = new Promise<{ chunks: number; errors: number }>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line));
    });
    child.once('exit', () => reject(new Error(`client exited: ${out}`)));
  });
  return new Promise((resolve) => {
    const onData = (d: Buffer) => {
      if (d.toString().includes('ready')) {
        child.stdout!.off('data', onData);
        resolve(Object.assign(child, { result }));
      }
    };
    child.stdout!.on('data', onData);
  });
}

async function measure(wait: number): Promise<string> {
  const common = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  const port = await freePort();
  const primary = await startChild(`redis ${port}`, { command: 'redis-server', args: ['--port', String(port), ...common], cwd: REDIS_DIR, env: { PATH: process.env.PATH }, readyLine: /Ready to accept connections/ });
  let replica: Awaited<ReturnType<typeof startChild>> | undefined;
  if (wait > 0) {
    const replicaPort = await freePort();
    replica = await startChild(`replica ${replicaPort}`, { command: 'redis-server', args: ['--port', String(replicaPort), ...common, '--replicaof', '127.0.0.1', String(port)], cwd: REDIS_DIR, env: { PATH: process.env.PATH }, readyLine: /sync: Finished with success/ });
  }
  const url = `redis://127.0.0.1:${port}`;
  const clients = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => startClient(url, wait, `cap${i}:`)));
  // A second of warm-up: every stream opened, the scripts loaded.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  for (const c of clients) c.stdin!.write('start\n');
  const cpuBefore = cpuSeconds(primary.child.pid);
  const replicaBefore = replica ? cpuSeconds(replica.child.pid) : 0;
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
  for (const c of clients) c.stdin!.write('stop\n');
  const elapsed = (performance.now() - started) / 1000;
  const redisCpu = (cpuSeconds(primary.child.pid) - cpuBefore) / elapsed;
  const replicaCpu = replica ? (cpuSeconds(replica.child.pid) - replicaBefore) / elapsed : 0;
  const results = await Promise.all(clients.map((c) => c.result));
  const chunks = results.reduce((n, r) => n + r.chunks, 0) / elapsed;
  const errors = results.reduce((n, r) => n + r.errors, 0);
  await primary.child.stop();
  await replica?.child.stop();
  const perCore = chunks / CHUNKS_PER_STREAM_SECOND / redisCpu;
  return `| ${wait} | ${CLIENTS}×${STREAMS} | ${Math.round(chunks)} | ${redisCpu.toFixed(2)} | ${replica ? replicaCpu.toFixed(2) : '–'} | ${Math.round(chunks / CHUNKS_PER_STREAM_SECOND)} | ${Math.round(perCore)} | ${errors} |`;
}

async function main(): Promise<void> {
  const rows = [await measure(0), await measure(1)];
  const table = [
    '| REDIS_WAIT_REPLICAS | client processes × streams | chunks/s | primary CPU (cores) | replica CPU | real-time streams served | streams per primary core | errors |',
    '|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
  mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(path.join(ROOT, 'bench/results/store-capacity.md'), `${table}\n`);
  console.log(table);
}

main()
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(async () => {
    await stopAll();
    rmSync(REDIS_DIR, { recursive: true, force: true });
  });
