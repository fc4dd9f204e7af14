// The production install, performed for real: deploy/Dockerfile's stages replayed in temp folders (npm ci with dev
// dependencies, build, `npm ci --omit=dev` of a copy holding dist/ only, the image's CMD and HEALTHCHECK), then a
// spoken session and the ops performance test answered by that install; and `NODE_ENV=production npm start` on a
// fresh copy of the repository.
// Slow (two npm installs from npm's cache); npm ci runs only inside this test's temp folders.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeWavToPcm16 } from '../../src/audio/wav-decode.js';
import { connect } from '../support/harness.js';
import { streamWhole } from '../support/pipeline.js';
import { freePort } from '../support/redis-server.js';
import { ROOT } from '../support/spawn-server.js';
import { parseDockerfile, replayDockerfile, type ReplayedStage } from './dockerfile.js';

const fixtures = JSON.parse(readFileSync(path.join(ROOT, 'test/fixtures/fixtures.json'), 'utf8')) as Record<string, string>;
const work = mkdtempSync(path.join(tmpdir(), 'production-install-'));
// Two installs' node_modules: removing them takes a while on a busy disk.
afterAll(() => rmSync(work, { recursive: true, force: true }), 300_000);

/** A clean environment: nothing of vitest's (NODE_ENV=test) or of an npm run (npm_config_*) leaks into the install. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    // Packages come from npm's cache when it has them; the registry is asked only for what is missing.
    npm_config_prefer_offline: 'true',
    npm_config_update_notifier: 'false',
    ...extra,
  };
}

function lines(child: ChildProcess): string[] {
  const out: string[] = [];
  const push = (data: Buffer) => out.push(...data.toString('utf8').split('\n').filter(Boolean));
  child.stdout?.on('data', push);
  child.stderr?.on('data', push);
  return out;
}

async function waitForLine(out: string[], child: ChildProcess, text: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!out.some((line) => line.includes(text))) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode} before "${text}":\n${out.join('\n')}`);
    if (Date.now() > deadline) throw new Error(`no "${text}" within ${timeoutMs} ms:\n${out.join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** SIGTERM to the whole process group (npm start runs node under npm), then the exit. */
async function stopGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  process.kill(-child.pid, 'SIGTERM');
  const timer = setTimeout(() => child.pid && process.kill(-child.pid, 'SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** Long enough for the production rules on OPS_TOKEN; a test value, never a real secret. */
const OPS_TOKEN = 'production-install-ops-token';

const words = (text: string) => text.toLowerCase().replace(/[^a-z' ]/g, ' ').split(/\s+/).filter(Boolean);

/** Streams hello.wav through `url` and checks pocketsphinx heard it. */
async function answerSpokenSession(url: string): Promise<void> {
  const { pcm, sampleRate } = decodeWavToPcm16(readFileSync(path.join(ROOT, 'test/fixtures/hello.wav')));
  const client = await connect(url);
  try {
    const { end } = await streamWhole(client, pcm, { sample_rate: sampleRate, language: 'en' });
    expect(end.ok).toBe(true);
    const heard = new Set(words(end.text));
    const spoken = words(fixtures['hello.wav']!);
    expect(spoken.filter((w) => heard.has(w)).length / spoken.length).toBeGreaterThanOrEqual(0.5);
  } finally {
    client.close();
  }
}

describe('production install', () => {
  const stages = parseDockerfile(readFileSync(path.join(ROOT, 'deploy/Dockerfile'), 'utf8'));

  it('deploy/Dockerfile: build with dev dependencies, run dist/ with production ones as a non-root user', async () => {
    expect(stages.map((s) => s.name)).toEqual(['build', 'runtime']);
    const replayed = replayDockerfile(stages, { context: ROOT, into: work, runEnv: cleanEnv() });
    const [build, runtime] = replayed as [ReplayedStage, ReplayedStage];

    expect(build.ran).toEqual(expect.arrayContaining([expect.stringMatching(/^npm ci --include=dev\b/), 'npm run build']));
    expect(runtime.ran).toEqual([expect.stringMatching(/^npm ci --omit=dev\b/), expect.stringMatching(/^rm -rf node_modules\/onnxruntime-node\/bin\/napi-v6\/darwin /)]);
    // Debian's pocketsphinx is installed in the image; here the host has it (the replay skips apt-get).
    expect(runtime.systemSteps.join(' ')).toMatch(/apt-get install .*\bpocketsphinx pocketsphinx-en-us\b/);
    expect(spawnSync('sh', ['-c', 'command -v pocketsphinx_continuous']).status).toBe(0);
    expect(runtime.user).toBeDefined();
    expect(runtime.user).not.toMatch(/^(root|0)$/);
    expect(runtime.env.NODE_ENV).toBe('production');

    // The runtime holds dist/ and production dependencies only: no sources, no compiler.
    const app = path.join(runtime.root, runtime.workdir);
    expect(existsSync(path.join(app, 'dist/main.js'))).toBe(true);
    expect(existsSync(path.join(app, 'dist/web/index.html'))).toBe(true);
    expect(existsSync(path.join(app, 'dist/assets/sample.wav'))).toBe(true);
    expect(existsSync(path.join(app, 'src'))).toBe(false);
    expect(existsSync(path.join(app, 'node_modules/socket.io/package.json'))).toBe(true);
    expect(existsSync(path.join(app, 'node_modules/typescript'))).toBe(false);
    // Silero VAD's runtime for this OS stays; the other OSes' binaries are gone.
    expect(existsSync(path.join(app, 'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node'))).toBe(true);
    expect(existsSync(path.join(app, 'node_modules/onnxruntime-node/bin/napi-v6/win32'))).toBe(false);

    const [port, opsPort] = [await freePort(), await freePort()];
    // The image sets NODE_ENV=production: anonymous clients are an explicit choice there, and /ops/* needs OPS_TOKEN.
    const env = cleanEnv({ ...runtime.env, PORT: String(port), OPS_PORT: String(opsPort), HOST: '127.0.0.1', ALLOW_ANONYMOUS: 'true', OPS_TOKEN });
    expect(env.NODE_ENV).toBe('production');
    const [command, ...args] = runtime.cmd!;
    const server = spawn(command === 'node' ? process.execPath : command!, args, { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const out = lines(server);
    try {
      await waitForLine(out, server, 'Ops server listening', 20_000);
      const [hc, ...hcArgs] = runtime.healthcheck!;
      const health = spawnSync(hc === 'node' ? process.execPath : hc!, hcArgs, { env, timeout: 10_000 });
      expect(health.status).toBe(0);
      await answerSpokenSession(`http://127.0.0.1:${port}`);
      // The speech went past Silero VAD (the image's default detector), which loaded from the pruned install.
      expect(out.join('\n')).not.toContain('Silero VAD could not load');
      // The performance test reads the bundled sample from the image layout (dist/assets) and runs the engine on it.
      const perf = await fetch(`http://127.0.0.1:${opsPort}/ops/test-sentry-performance`, { headers: { authorization: `Bearer ${OPS_TOKEN}` } });
      const report = (await perf.json()) as { status: string; operations: Array<{ name: string }> };
      expect({ status: perf.status, body: report }).toMatchObject({ status: 200, body: { status: 'success' } });
      expect(report.operations.map((o) => o.name)).toEqual(['Database Query', 'Transcribe with pocketsphinx', 'Data Processing', 'Cache Write']);
    } finally {
      await stopGroup(server);
    }
  }, 600_000);

  it('NODE_ENV=production npm start on a fresh copy installs the build tools it needs, builds and serves', async () => {
    const copy = path.join(work, 'fresh-clone');
    mkdirSync(copy);
    const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
    for (const file of tracked) if (existsSync(path.join(ROOT, file))) cpSync(path.join(ROOT, file), path.join(copy, file), { recursive: true });

    const [port, opsPort] = [await freePort(), await freePort()];
    const env = cleanEnv({ NODE_ENV: 'production', ALLOW_ANONYMOUS: 'true', PORT: String(port), OPS_PORT: String(opsPort), HOST: '127.0.0.1' });
    const server = spawn('npm', ['start'], { cwd: copy, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const out = lines(server);
    try {
      await waitForLine(out, server, 'Ops server listening', 420_000);
      const response = await fetch(`http://127.0.0.1:${opsPort}/healthz`);
      expect(response.status).toBe(200);
    } finally {
      await stopGroup(server);
    }
  }, 600_000);
});
