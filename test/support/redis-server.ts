// A throw-away redis-server on a free loopback port, for the whole run or for a test that takes it down.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/**
 * A loopback port that is free now and that the kernel will not hand to anyone else: it is picked below the
 * ephemeral range (32768+), from a block of its own per test worker, so a server restarted on it (a rolling restart)
 * does not find it taken by some other process's port-0 listener or outgoing connection in the meantime.
 */
export async function freePort(): Promise<number> {
  const worker = Number(process.env.VITEST_POOL_ID ?? 0) % 4;
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 16000 + worker * 4000 + Math.floor(Math.random() * 4000);
    if (await bindable(port)) return port;
  }
  throw new Error('no free loopback port found below the ephemeral range');
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
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
