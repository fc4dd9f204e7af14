// Runs the built server as `npm start` does (node --import ./dist/telemetry/instrument.js dist/main.js) in a child
// process, waits for it to listen, and keeps its output; tests need `npm run build` output in dist/.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ENTRY = ['--import', './dist/telemetry/instrument.js', 'dist/main.js'];

/** Variables a developer's shell may have set that would change what the spawned server does. */
const INHERITED_OUT = /^(SENTRY_|OPENAI_|REDIS_|AUTH_TOKEN$|OPS_TOKEN$|API_KEYS$|TOKEN_SECRET$|ALLOW_ANONYMOUS$|TRANSCRIBER$|PORT$|OPS_PORT$|HOST$|LOG_LEVEL$|NODE_ENV$|SEGMENT_|SILENCE_MS$|VAD_)/;

export interface SpawnedServer {
  /** Socket.IO base URL (connect to `${url}/transcription`). */
  url: string;
  opsUrl: string;
  stdout: string[];
  stderr: string[];
  /** Sends SIGTERM (the server flushes Sentry and exits) and resolves with the exit code. */
  stop(): Promise<number | null>;
}

function baseEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!INHERITED_OUT.test(key)) clean[key] = value;
  // Port 0: the server logs the ports it took, which is read back below (no race for a "free" port). The event-loop
  // guard is off unless a test sets it: on a host running two test workers it would refuse sessions the test needs.
  // The energy VAD decides what is speech: many tests stream a synthetic tone as speech, which Silero rightly refuses.
  return { ...clean, PORT: '0', OPS_PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', MAX_EVENT_LOOP_UTILIZATION: '1', SPEECH_DETECTOR: 'energy', ...env };
}

function assertBuilt(): void {
  if (!existsSync(path.join(ROOT, 'dist/telemetry/instrument.js'))) {
    throw new Error('dist/ is missing: run `npm run build` (npm test does) before the spawned-server tests');
  }
}

function collect(child: ChildProcess): { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const lines = (sink: string[]) => {
    let partial = '';
    return (data: Buffer) => {
      const text = partial + data.toString('utf8');
      const parts = text.split('\n');
      partial = parts.pop() ?? '';
      sink.push(...parts);
    };
  };
  child.stdout!.on('data', lines(stdout));
  child.stderr!.on('data', lines(stderr));
  return { stdout, stderr };
}

/** The `key` field of the first JSON log line whose message contains `text`. */
function logField(lines: string[], text: string, key: string): number | undefined {
  for (const line of lines) {
    if (!line.includes(text)) continue;
    try {
      const value = (JSON.parse(line) as Record<string, unknown>)[key];
      if (typeof value === 'number') return value;
    } catch {
      // not a JSON line
    }
  }
  return undefined;
}

export async function spawnServer(env: Record<string, string>, timeoutMs = 15_000): Promise<SpawnedServer> {
  assertBuilt();
  const child = spawn(process.execPath, ENTRY, { cwd: ROOT, env: baseEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  const { stdout, stderr } = collect(child);
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));

  const ports = await new Promise<{ port: number; opsPort: number }>((resolve, reject) => {
    const deadline = setTimeout(() => finish(new Error(`server did not start within ${timeoutMs} ms`)), timeoutMs);
    const poll = setInterval(() => {
      const port = logField(stdout, 'Transcription server listening', 'port');
      const opsPort = logField(stdout, 'Ops server listening', 'ops_port');
      if (port !== undefined && opsPort !== undefined) finish(undefined, { port, opsPort });
    }, 20);
    void exited.then((code) => finish(new Error(`server exited with code ${code} before listening`)));
    function finish(error: Error | undefined, value?: { port: number; opsPort: number }) {
      clearTimeout(deadline);
      clearInterval(poll);
      if (error) {
        child.kill('SIGKILL');
        reject(new Error(`${error.message}\nstdout:\n${stdout.join('\n')}\nstderr:\n${stderr.join('\n')}`));
      } else resolve(value!);
    }
  });

  return {
    url: `http://127.0.0.1:${ports.port}`,
    opsUrl: `http://127.0.0.1:${ports.opsPort}`,
    stdout,
    stderr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Runs the server expecting it to stop by itself (bad configuration): its exit code and output. */
export async function runServerToExit(env: Record<string, string>, timeoutMs = 10_000): Promise<{ code: number | null; stdout: string[]; stderr: string[] }> {
  assertBuilt();
  const child = spawn(process.execPath, ENTRY, { cwd: ROOT, env: baseEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  const { stdout, stderr } = collect(child);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stdout, stderr };
}
