#!/usr/bin/env node
// One-time machine set-up for `npm start` and `npm test`: npm packages, then the Debian packages the server
// and tests use (installed with apt-get when running as root, otherwise listed for you to install).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';

const purpose = process.argv.includes('--for=test') ? 'test' : 'start';

/** command on PATH (or file) → Debian package that provides it. */
const NEEDS = {
  start: [
    { check: 'pocketsphinx_batch', pkg: 'pocketsphinx', why: 'offline transcription (no OPENAI_API_KEY)' },
    { check: '/usr/share/pocketsphinx/model/en-us', pkg: 'pocketsphinx-en-us', why: 'the US-English model for pocketsphinx' },
  ],
  test: [
    { check: 'redis-server', pkg: 'redis-server', why: 'the Redis store tests' },
    { check: 'redis-sentinel', pkg: 'redis-sentinel', why: 'the Redis Sentinel failover test' },
    { check: 'pocketsphinx_batch', pkg: 'pocketsphinx', why: 'offline engine tests' },
    { check: '/usr/share/pocketsphinx/model/en-us', pkg: 'pocketsphinx-en-us', why: 'offline engine tests' },
    { check: 'chromium', pkg: 'chromium', why: 'browser tests of the demo page' },
    { check: 'haproxy', pkg: 'haproxy', why: 'the load-balancer tests of deploy/haproxy.cfg' },
    { check: 'opusenc', pkg: 'opus-tools', why: 'Ogg Opus fixtures of the codec tests' },
    { check: 'ffmpeg', pkg: 'ffmpeg', why: 'WebM Opus fixtures of the codec tests' },
    { check: 'sox', pkg: 'sox', why: 'G.711 fixtures of the codec tests' },
  ],
};

function present(check) {
  if (check.startsWith('/')) return existsSync(check);
  return spawnSync('sh', ['-c', `command -v ${check}`], { stdio: 'ignore' }).status === 0;
}

function npmPackagesStale() {
  if (!existsSync('node_modules/.package-lock.json')) return true;
  // An `npm ci --omit=dev` install (NODE_ENV=production) has no compiler: both commands build first.
  if (!existsSync('node_modules/typescript/package.json')) return true;
  return statSync('package-lock.json').mtimeMs > statSync('node_modules/.package-lock.json').mtimeMs;
}

if (npmPackagesStale()) {
  // --include=dev: `npm start` and `npm test` build from source, so they need the dev tools (tsc, esbuild) even
  // with NODE_ENV=production, which would otherwise make npm skip them. A production install that only runs
  // dist/ uses `npm ci --omit=dev` and `npm run start:prod` instead (docs/deploy.md).
  console.log('setup: installing npm packages (npm ci --include=dev)');
  execFileSync('npm', ['ci', '--include=dev', '--no-audit', '--no-fund'], { stdio: 'inherit' });
}

const needs = purpose === 'start' && process.env.OPENAI_API_KEY ? [] : NEEDS[purpose];
const missing = [...new Set(needs.filter((n) => !present(n.check)).map((n) => n.pkg))];
if (missing.length > 0) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && present('apt-get')) {
    console.log(`setup: installing Debian packages: ${missing.join(' ')}`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
  } else {
    const reasons = needs.filter((n) => missing.includes(n.pkg)).map((n) => `  ${n.pkg}: ${n.why}`);
    console.warn(`setup: missing Debian packages; install them with\n  sudo apt-get install ${missing.join(' ')}\n${reasons.join('\n')}`);
  }
}
