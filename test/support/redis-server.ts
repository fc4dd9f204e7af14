// A throw-away redis-server on a free loopback port, for the whole run or for a test that takes it down.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface RedisServer {
  url: string;
  process: ChildProcess;
  /** Kills it (SIGKILL: an outage, not a shutdown) and waits for the exit. */
  kill(): Promise<void>;
}

/** Starts redis-server without persistence and resolves once it accepts connections. */
export async function startRedisServer(): Promise<RedisServer> {
  const port = await freePort();
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('redis-server did not start within 10 s')), 10_000);
    redis.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot run redis-server (apt-get install redis-server): ${error.message}`));
    });
    redis.stdout!.on('data', (data: Buffer) => {
      if (data.toString().includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  const exited = new Promise<void>((resolve) => redis.once('exit', () => resolve()));
  return {
    url: `redis://127.0.0.1:${port}`,
    process: redis,
    async kill() {
      if (redis.exitCode === null && redis.signalCode === null) redis.kill('SIGKILL');
      await exited;
    },
  };
}
