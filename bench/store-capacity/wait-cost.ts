// What "acknowledged means replicated" costs: ack P50/P99 of real-time streams through the built server on a Redis
// primary with one replica, with REDIS_WAIT_REPLICAS=0 and 1, at 200 and 400 streams. The load generator
// (scripts/load-test.ts) runs in its own process; the engine is the benchmarks' stub. Usage:
//   npm run build && npx tsx bench/store-capacity/wait-cost.ts [--streams 200,400] [--duration 20]
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT } from '../../test/support/spawn-server.js';
import { freePort, startChild, stopAll } from '../shared/processes.js';

/** redis-server writes its replication snapshot (dump.rdb) where it runs: a temp dir, removed at the end. */
const REDIS_DIR = mkdtempSync(path.join(tmpdir(), 'bench-redis-'));

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
};
const STREAMS = arg('streams', '200,400').split(',').map(Number);
const DURATION_S = Number(arg('duration', '20'));

async function redisPair(): Promise<{ url: string }> {
  const primary = await freePort();
  const replica = await freePort();
  const common = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  await startChild('redis primary', { command: 'redis-server', args: ['--port', String(primary), ...common], cwd: REDIS_DIR, env: { PATH: process.env.PATH }, readyLine: /Ready to accept connections/ });
  await startChild('redis replica', { command: 'redis-server', args: ['--port', String(replica), ...common, '--replicaof', '127.0.0.1', String(primary)], cwd: REDIS_DIR, env: { PATH: process.env.PATH }, readyLine: /sync: Finished with success/ });
  return { url: `redis://127.0.0.1:${primary}` };
}

function loadTest(url: string, sessions: number): Promise<Record<string, any>> {
  return new Promise((resolve, reject) => {
    const args = ['--import', 'tsx', 'scripts/load-test.ts', '--url', url, '--sessions', String(sessions), '--duration', String(DURATION_S), '--ramp-up', '5', '--warm-up', '5', '--json', '--quiet', '--max-errors', '1000000'];
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('close', () => {
      try {
        resolve(JSON.parse(out.trim().split('\n').at(-1)!));
      } catch (error) {
        reject(new Error(`load-test output unreadable: ${out.slice(-500)}`));
      }
    });
  });
}

async function main(): Promise<void> {
  const engine = await startChild('engine stub', { command: process.execPath, args: ['bench/shared/engine-stub.mjs'], cwd: ROOT, env: { PATH: process.env.PATH }, readyLine: /listening on port (\d+)/ });
  const engineUrl = `http://127.0.0.1:${engine.match![1]}`;
  const { url: redisUrl } = await redisPair();
  const rows: string[] = [];
  for (const wait of [0, 1]) {
    for (const streams of STREAMS) {
      const port = await freePort();
      const server = await startChild(`server wait=${wait}`, {
        command: process.execPath,
        args: ['dist/main.js'],
        cwd: ROOT,
        env: {
          PATH: process.env.PATH!,
          PORT: String(port),
          OPS_PORT: String(await freePort()),
          HOST: '127.0.0.1',
          LOG_LEVEL: 'info',
          REDIS_URL: redisUrl,
          REDIS_KEY_PREFIX: `wait${wait}-${streams}:`,
          REDIS_WAIT_REPLICAS: String(wait),
          TRANSCRIBER: 'openai',
          OPENAI_API_KEY: 'sk-bench',
          OPENAI_BASE_URL: `${engineUrl}/delay/300/v1`,
          MAX_CONNECTIONS_PER_IP: '0',
          HANDSHAKES_PER_MINUTE: '0',
        },
        readyLine: /Transcription server listening/,
      });
      const summary = await loadTest(`http://127.0.0.1:${port}`, streams);
      const ack = summary.ackLatencyMs;
      rows.push(`| ${wait} | ${streams} | ${ack.p50} | ${ack.p99} | ${summary.chunks.acked} | ${summary.errors.total} |`);
      console.log(rows.at(-1));
      await server.child.stop(5000);
    }
  }
  const table = ['| REDIS_WAIT_REPLICAS | streams | ack P50 ms | ack P99 ms | chunks acked | errors |', '|---|---|---|---|---|---|', ...rows].join('\n');
  mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(path.join(ROOT, 'bench/results/store-wait-cost.md'), `${table}\n`);
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
