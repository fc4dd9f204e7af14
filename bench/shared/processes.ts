// The benchmark's helper processes: servers under test, redis-server, the engine stub and the envelope counter,
// each started on a free loopback port, watched, and stopped by its own pid (never by name).
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createConnection } from 'node:net';

export interface Child {
  name: string;
  pid: number;
  process: ChildProcess;
  /** The last lines it printed (stdout and stderr), for error messages. */
  output(): string;
  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

const running = new Set<Child>();

/** Stops every child still running: on the way out, whatever happened. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((child) => child.stop(2000)));
}

/** Last resort when the benchmark itself exits abruptly: kill what it started, by pid. */
process.once('exit', () => {
  for (const child of running) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

// The same helper the tests use to find a loopback port nobody listens on.
export { freePort } from '../../test/support/redis-server.js';

export interface StartOptions {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** Ready when a line of output matches; the match is returned. */
  readyLine?: RegExp;
  /** Ready when this port accepts a TCP connection. */
  readyPort?: number;
  timeoutMs?: number;
}

export async function startChild(name: string, options: StartOptions): Promise<{ child: Child; match: RegExpMatchArray | undefined }> {
  const proc = spawn(options.command, options.args, { env: options.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let exited = false;
  const exit = new Promise<void>((resolve) => proc.once('exit', () => ((exited = true), resolve())));
  let onLine: ((line: string) => void) | undefined;
  const collect = (data: Buffer) => {
    for (const line of data.toString().split('\n')) {
      if (!line) continue;
      lines.push(line);
      if (lines.length > 40) lines.shift();
      onLine?.(line);
    }
  };
  proc.stdout!.on('data', collect);
  proc.stderr!.on('data', collect);

  const child: Child = {
    name,
    pid: proc.pid!,
    process: proc,
    output: () => lines.join('\n'),
    async stop(graceMs = 5000) {
      running.delete(child);
      if (exited) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exit;
      clearTimeout(timer);
    },
  };
  running.add(child);

  // Generous: a start-up wait, not a speed target (a loaded CI host has taken more than 20 s to start a server).
  const timeoutMs = options.timeoutMs ?? 60_000;
  try {
    const match = await new Promise<RegExpMatchArray | undefined>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} was not ready within ${timeoutMs} ms`)), timeoutMs);
      const done = (value: RegExpMatchArray | undefined) => {
        clearTimeout(timer);
        resolve(value);
      };
      proc.once('error', (error) => reject(new Error(`cannot run ${options.command}: ${error.message}`)));
      void exit.then(() => reject(new Error(`${name} exited before it was ready`)));
      if (options.readyLine) {
        for (const line of lines) {
          const m = options.readyLine.exec(line);
          if (m) return done(m);
        }
        onLine = (line) => {
          const m = options.readyLine!.exec(line);
          if (m) done(m);
        };
      } else if (options.readyPort !== undefined) {
        void waitForPort(options.readyPort, () => exited, timeoutMs).then(() => done(undefined), reject);
      } else {
        done(undefined);
      }
    });
    onLine = undefined;
    return { child, match };
  } catch (error) {
    await child.stop(1000);
    throw new Error(`${(error as Error).message}\n--- ${name} output ---\n${child.output()}`);
  }
}

async function waitForPort(port: number, gone: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !gone()) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ port, host: '127.0.0.1' });
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nothing listened on port ${port} within ${timeoutMs} ms`);
}

/** Resident memory of a process and its descendants in bytes, from /proc/<pid>/status (VmRSS). */
export function residentBytes(pid: number): number {
  return processTree(pid).reduce((sum, one) => sum + ownResidentBytes(one), 0);
}

function ownResidentBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

/** `pid` and its live descendants (a WORKERS > 1 server is a primary and its workers), from /proc/<pid>/task/<tid>/children. */
export function processTree(pid: number): number[] {
  const pids = [pid];
  for (let i = 0; i < pids.length; i++) {
    const parent = pids[i]!;
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${parent}/task`);
    } catch {
      continue;
    }
    for (const task of tasks) {
      try {
        const children = readFileSync(`/proc/${parent}/task/${task}/children`, 'utf8').trim();
        if (children) pids.push(...children.split(' ').map(Number));
      } catch {
        // the task ended
      }
    }
  }
  return pids;
}

/** CPU seconds (user + system) a process and its live descendants have used, from /proc/<pid>/stat; Linux counts in 1/100 s ticks. */
export function cpuSeconds(pid: number): number {
  return processTree(pid).reduce((sum, one) => {
    try {
      return sum + ownCpuSeconds(one);
    } catch {
      return sum; // a child that ended between listing and reading
    }
  }, 0);
}

function ownCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may hold spaces: fields are counted after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export async function getJson<T>(url: string, init?: RequestInit): Promise<T> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(5000) });
  if (!response.ok) throw new Error(`${init?.method ?? 'GET'} ${url} answered ${response.status}`);
  return (await response.json()) as T;
}

/**
 * Runs a benchmark's `main` bounded in time whatever happens: past `limitMs`, or on Ctrl-C, it stops with every process
 * it started; the exit code says how it ended.
 */
export function runBounded(main: () => Promise<void>, limitMs: number): void {
  const limit = setTimeout(() => {
    console.error('The benchmark ran past its time limit; stopping.');
    void stopAll().finally(() => process.exit(1));
  }, limitMs);
  limit.unref();
  process.once('SIGINT', () => {
    console.error('\nInterrupted: stopping the processes the benchmark started.');
    void stopAll().finally(() => process.exit(130));
  });
  main().then(
    async () => {
      await stopAll();
      process.exit(0);
    },
    async (error: unknown) => {
      console.error((error as Error).stack ?? String(error));
      await stopAll();
      process.exit(1);
    },
  );
}
