// MAX_CONNECTIONS_PER_IP with WORKERS=2 on a real process tree and real Redis: the primary hands connections to both
// workers in turn, yet one address holds at most N connections in total (counted in Redis), not N per worker.
import { randomUUID } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startOpenAIStub, type OpenAIStub } from '../support/openai-stub.js';
import { spawnServer, type SpawnedServer } from '../support/spawn-server.js';
import { jsonLines } from './processes.js';

let stub: OpenAIStub;
let server: SpawnedServer;
const sockets: Socket[] = [];

beforeAll(async () => {
  stub = await startOpenAIStub();
  server = await spawnServer(
    {
      WORKERS: '2',
      REDIS_URL: inject('redisUrl'),
      REDIS_KEY_PREFIX: `per-ip:${randomUUID()}:`,
      TRANSCRIBER: 'openai',
      OPENAI_API_KEY: 'sk-test-per-ip',
      OPENAI_BASE_URL: stub.url,
      MAX_CONNECTIONS_PER_IP: '3',
      LOG_LEVEL: 'debug',
    },
    60_000,
  );
}, 90_000);

afterAll(async () => {
  for (const socket of sockets) socket.disconnect();
  await server?.stop();
  await stub?.close();
});

/** Connects and stays connected: "connected" or the refusal's code. */
function open(): Promise<string> {
  const socket = io(`${server.url}/transcription`, { transports: ['websocket'], forceNew: true, reconnection: false });
  sockets.push(socket);
  return new Promise((resolve) => {
    socket.once('connect', () => resolve('connected'));
    socket.once('connect_error', (error: Error & { data?: { code: string } }) => resolve(error.data?.code ?? error.message));
    // With WORKERS > 1 about one refusal in 40 is never answered (a known gap in the sticky hand-off, not a limit
    // that failed): such an attempt did not connect, which is what this test is about.
    setTimeout(() => resolve('no answer'), 5000).unref();
  });
}

describe('MAX_CONNECTIONS_PER_IP with WORKERS=2', () => {
  it('holds across both workers, and a closed connection frees its slot for either', async () => {
    const outcomes: string[] = [];
    for (let i = 0; i < 8; i++) outcomes.push(await open());
    expect(outcomes.filter((o) => o === 'connected')).toHaveLength(3);
    // The hand-off gap can leave any one attempt unanswered (on a busy host, an accepted one too): it took no slot.
    const answered = outcomes.filter((o) => o !== 'no answer');
    expect(answered.slice(0, 3)).toEqual(Array(3).fill('connected'));
    expect(answered.slice(3).every((o) => o === 'TOO_MANY_CONNECTIONS')).toBe(true);
    expect(answered.length - 3).toBeGreaterThanOrEqual(3);
    // Both workers took some of the accepted ones: counting per process would have let 6 in.
    const workers = new Set(jsonLines(server.stdout).filter((l) => l.msg === 'client connected').map((l) => l.worker));
    expect(workers.size).toBe(2);

    sockets[0]!.disconnect();
    let again = 'TOO_MANY_CONNECTIONS';
    for (let i = 0; i < 20 && again !== 'connected'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      again = await open();
    }
    expect(again).toBe('connected');
    expect(['TOO_MANY_CONNECTIONS', 'no answer']).toContain(await open());
  }, 60_000);
});
