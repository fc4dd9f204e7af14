// Throw-away Redis topologies on free loopback ports for the failover tests: a primary with a replica and three
// sentinels, or a three-master Redis Cluster. Each process can be frozen (SIGSTOP) or killed; stop() kills them all
// and removes their temp dir.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createServer } from 'node:net';
import { freePort } from './redis-server.js';

const run = promisify(execFile);

export interface RedisProcess {
  port: number;
  process: ChildProcess;
  /** SIGKILL, resolved once it exited. */
  kill(): Promise<void>;
}

/** Starts `command` (redis-server or redis-sentinel) with `args` and resolves once its log says `ready`. */
async function startProcess(command: string, args: string[], port: number, cwd: string, ready: RegExp): Promise<RedisProcess> {
  const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => reject(new Error(`${command} on ${port} did not start within 10 s:\n${log}`)), 10_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${command} (apt-get install redis-server redis-sentinel): ${error.message}`));
    });
    child.stdout!.on('data', (data: Buffer) => {
      log += data.toString();
      if (ready.test(log)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  child.stdout!.resume();
  return {
    port,
    process: child,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

const NO_PERSISTENCE = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];

/** A redis-server with `args` (its --port among them) and no persistence, resolved once it accepts connections. */
export async function startRedisProcess(args: string[], port: number): Promise<RedisProcess> {
  // Its own dir: a replica's full sync writes dump.rdb where it runs.
  const dir = mkdtempSync(path.join(tmpdir(), 'redis-'));
  const redis = await startProcess('redis-server', [...args, ...NO_PERSISTENCE], port, dir, /Ready to accept connections/);
  return { ...redis, kill: () => redis.kill().then(() => rmSync(dir, { recursive: true, force: true })) };
}

export async function redisCli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-p', String(port), ...args]);
  return stdout.trim();
}

/** Polls `check` every 50 ms until it is true; throws `what` after `timeoutMs`. */
export async function until(check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export interface SentinelSet {
  primary: RedisProcess;
  replica: RedisProcess;
  sentinels: RedisProcess[];
  /** REDIS_SENTINELS for the servers. */
  sentinelList: string;
  name: string;
  /** The port of the primary the sentinels name now. */
  primaryPort(): Promise<number>;
  stop(): Promise<void>;
}

/** A primary, one replica and three sentinels (quorum 2) that declare the primary down after 1 s. */
export async function startSentinelSet(name = 'mymaster'): Promise<SentinelSet> {
  const dir = mkdtempSync(path.join(tmpdir(), 'redis-sentinel-'));
  const started: RedisProcess[] = [];
  try {
    const primaryPort = await freePort();
    const primary = await startProcess('redis-server', ['--port', String(primaryPort), ...NO_PERSISTENCE], primaryPort, dir, /Ready to accept connections/);
    started.push(primary);
    const replicaPort = await freePort();
    const replica = await startProcess(
      'redis-server',
      ['--port', String(replicaPort), ...NO_PERSISTENCE, '--replicaof', '127.0.0.1', String(primaryPort)],
      replicaPort,
      dir,
      /MASTER <-> REPLICA sync: Finished with success/,
    );
    started.push(replica);
    const sentinels: RedisProcess[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      // Sentinel rewrites its config file: each gets its own, in the temp dir.
      const file = path.join(dir, `sentinel-${i}.conf`);
      writeFileSync(
        file,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${name} 127.0.0.1 ${primaryPort} 2`,
          `sentinel down-after-milliseconds ${name} 1000`,
          `sentinel failover-timeout ${name} 10000`,
          `sentinel parallel-syncs ${name} 1`,
          '',
        ].join('\n'),
      );
      const sentinel = await startProcess('redis-sentinel', [file], port, dir, /Sentinel ID is/);
      started.push(sentinel);
      sentinels.push(sentinel);
    }
    // Every sentinel knows the replica and the two other sentinels before anything fails.
    await until(async () => {
      for (const sentinel of sentinels) {
        const info = (await redisCli(sentinel.port, 'SENTINEL', 'MASTER', name)).split('\n');
        const field = (key: string) => Number(info[info.indexOf(key) + 1]);
        if (field('num-slaves') < 1 || field('num-other-sentinels') < 2) return false;
      }
      return true;
    }, 'the sentinels to discover the replica and each other');
    return {
      primary,
      replica,
      sentinels,
      sentinelList: sentinels.map((s) => `127.0.0.1:${s.port}`).join(','),
      name,
      async primaryPort() {
        return Number((await redisCli(sentinels[0]!.port, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)).split('\n')[1]);
      },
      async stop() {
        await Promise.all(started.map((p) => p.kill()));
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await Promise.all(started.map((p) => p.kill()));
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A free port whose cluster bus port (port + 10000) is free too, below the ephemeral range. */
async function clusterPort(): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 10000);
    if ((await portFree(port)) && (await portFree(port + 10000))) return port;
  }
}

export interface RedisClusterSet {
  masters: RedisProcess[];
  /** REDIS_CLUSTER_NODES for the servers. */
  nodeList: string;
  stop(): Promise<void>;
}

/** Three masters (no replicas) joined with redis-cli --cluster create, every slot covered. */
export async function startRedisCluster(): Promise<RedisClusterSet> {
  const dir = mkdtempSync(path.join(tmpdir(), 'redis-cluster-'));
  const masters: RedisProcess[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const port = await clusterPort();
      masters.push(
        await startProcess(
          'redis-server',
          ['--port', String(port), ...NO_PERSISTENCE, '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '2000'],
          port,
          dir,
          /Ready to accept connections/,
        ),
      );
    }
    const nodeList = masters.map((m) => `127.0.0.1:${m.port}`);
    await run('redis-cli', ['--cluster', 'create', ...nodeList, '--cluster-replicas', '0', '--cluster-yes']);
    await until(
      async () => {
        for (const m of masters) if (!(await redisCli(m.port, 'CLUSTER', 'INFO')).includes('cluster_state:ok')) return false;
        return true;
      },
      'the cluster to cover every slot',
    );
    return {
      masters,
      nodeList: nodeList.join(','),
      async stop() {
        await Promise.all(masters.map((m) => m.kill()));
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await Promise.all(masters.map((m) => m.kill()));
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
