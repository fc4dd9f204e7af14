// Start-up of the real process (dist/main.js, built by `npm test`): bad settings stop it with a message naming what to fix.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

function start(env: Record<string, string>) {
  const result = spawnSync(process.execPath, ['dist/main.js'], {
    env: { PATH: process.env.PATH, PORT: '0', OPS_PORT: '0', ...env },
    encoding: 'utf8',
    timeout: 15_000,
  });
  return { status: result.status, stderr: result.stderr };
}

describe('server start-up', () => {
  it('stops on a bad value, naming the variable', () => {
    const { status, stderr } = start({ SEGMENT_MAX_MS: 'abc' });
    expect(status).toBe(1);
    expect(stderr).toContain('Cannot start: Invalid configuration: SEGMENT_MAX_MS must be a whole number');
  });

  it('stops when the chosen engine cannot run, saying what to install', () => {
    const { status, stderr } = start({ TRANSCRIBER: 'pocketsphinx', POCKETSPHINX_COMMAND: 'no-such-pocketsphinx' });
    expect(status).toBe(1);
    expect(stderr).toContain('apt-get install pocketsphinx pocketsphinx-en-us');
  });

  it('stops when Redis cannot be reached, naming REDIS_URL', () => {
    const { status, stderr } = start({ REDIS_URL: 'redis://127.0.0.1:1' });
    expect(status).toBe(1);
    expect(stderr).toContain('Cannot start: Cannot connect to Redis at REDIS_URL');
  });
});
