// A flood of events that are each refused at once (SEQ_GAP here, never RATE_LIMITED) is throttled like a flood of
// rate-limited chunks: not every packet is read, parsed and answered, and the connection is closed with FLOODING.
// The flooder runs in its own process against the built server.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnServer, type SpawnedServer } from '../support/spawn-server.js';

const FLOODER = fileURLToPath(new URL('../limits/flooder.mjs', import.meta.url));
const TOKEN = 'client-token-0123456789';
const CHUNKS = 20_000;
let server: SpawnedServer;
beforeAll(async () => {
  server = await spawnServer({
    NODE_ENV: 'production',
    AUTH_TOKEN: TOKEN,
    OPS_TOKEN: 'ops-token-0123456789abcdef',
    TRANSCRIBER: 'openai',
    OPENAI_API_KEY: 'sk-test',
    OPENAI_BASE_URL: 'http://127.0.0.1:9/v1',
  });
}, 30_000);
afterAll(() => server?.stop());

function flood(): Promise<{ codes: Record<string, number>; unanswered: number; notice?: { code: string }; disconnect?: string }> {
  const child = spawn(process.execPath, [FLOODER, server.url, String(CHUNKS), `--token=${TOKEN}`, '--seq=1000000000'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (data: Buffer) => (out += data.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 50_000);
    child.once('exit', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out.trim().split('\n').at(-1)!));
      } catch {
        reject(new Error(`the flooder did not report: ${out}`));
      }
    });
  });
}

describe('a connection flooding refused chunks (SEQ_GAP, never RATE_LIMITED)', () => {
  it('is throttled and closed with FLOODING instead of having every packet read, parsed and answered', async () => {
    const report = await flood();
    const answered = Object.values(report.codes).reduce((sum, n) => sum + n, 0);
    expect(report.codes.SEQ_GAP).toBeGreaterThan(0);
    expect(answered).toBeLessThan(CHUNKS);
    expect(report.notice?.code).toBe('FLOODING');
    expect(report.disconnect).toBe('io server disconnect');
  }, 60_000);
});
