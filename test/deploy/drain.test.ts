// SIGTERM on the real process: /readyz turns 503 at once, new work is refused with SERVER_DRAINING, the segment at
// the engine finishes and its result is delivered, then the client gets server_notice and a lost connection (so
// Socket.IO reconnects by itself); SHUTDOWN_GRACE_MS bounds the wait.
import { randomUUID } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';
import { pino } from 'pino';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { TOKEN_PATH } from '../../src/auth/token-endpoint.js';
import { loadConfig } from '../../src/config/config.js';
import type { ServerNotice, TranscriptionResult } from '../../src/protocol/index.js';
import { DRAIN_RETRY_AFTER_MS } from '../../src/server/drain.js';
import { composeServer, type TranscriptionServer } from '../../src/server/compose.js';
import { chunksOf, loudPcm } from '../support/audio.js';
import { until } from '../support/harness.js';
import { startOpenAIStub, type OpenAIStub } from '../support/openai-stub.js';
import { spawnServer, type SpawnedServer } from '../support/spawn-server.js';
import { jsonLines } from './processes.js';

let stub: OpenAIStub | undefined;
let server: SpawnedServer | undefined;
let socket: Socket | undefined;
afterEach(async () => {
  socket?.disconnect();
  await server?.stop();
  await stub?.close();
  stub = server = socket = undefined;
});

async function drainScenario(engineDelayMs: number, graceMs: number) {
  stub = await startOpenAIStub({ respond: () => ({ delayMs: engineDelayMs }) });
  server = await spawnServer(
    {
      REDIS_URL: inject('redisUrl'),
      REDIS_KEY_PREFIX: `drain:${randomUUID()}:`,
      TRANSCRIBER: 'openai',
      OPENAI_API_KEY: 'sk-test-drain',
      OPENAI_BASE_URL: stub.url,
      SEGMENT_MAX_MS: '1000',
      SEGMENT_MIN_MS: '500',
      SHUTDOWN_GRACE_MS: String(graceMs),
    },
    60_000,
  );
  const events: string[] = [];
  const results: TranscriptionResult[] = [];
  const notices: ServerNotice[] = [];
  let disconnectReason: string | undefined;
  socket = io(`${server.url}/transcription`, { transports: ['websocket'], forceNew: true, reconnection: false });
  socket.on('transcription_result', (r: TranscriptionResult) => (results.push(r), events.push(`result ${r.segment}`)));
  socket.on('server_notice', (n: ServerNotice) => (notices.push(n), events.push('notice')));
  socket.on('disconnect', (reason) => ((disconnectReason = reason), events.push('disconnect')));
  await new Promise<void>((resolve, reject) => (socket!.once('connect', resolve), socket!.once('connect_error', reject)));
  const call = (event: string, payload: unknown) => socket!.timeout(10_000).emitWithAck(event, payload);

  const opened = await call('start_session', { sample_rate: 16000 });
  const chunks = chunksOf(loudPcm(1200, 16000, 3), 100);
  for (let seq = 0; seq < 11; seq++) expect((await call('audio_chunk', { session_id: opened.session_id, seq, chunk: chunks[seq] })).ok).toBe(true);
  // Segment [0, 1 s) is at the engine now.
  await until(() => stub!.uploads.length === 1, 'the segment reaching the engine');

  const stopped = server.stop();
  const sigtermAt = Date.now();
  await until(() => server!.stdout.some((line) => line.includes('draining:')), 'the drain starting');
  const readyz = await fetch(`${server.opsUrl}/readyz`);
  const readyzBody = await readyz.json();
  const refusedChunk = await call('audio_chunk', { session_id: opened.session_id, seq: 11, chunk: chunks[11] });
  const refusedStart = await call('start_session', { sample_rate: 16000 });
  const code = await stopped;
  return { events, results, notices, disconnectReason, readyz, readyzBody, refusedChunk, refusedStart, code, tookMs: Date.now() - sigtermAt };
}

describe('graceful drain on SIGTERM', () => {
  it('refuses new work at once, finishes the segment at the engine, then tells the client and closes its transport', async () => {
    const run = await drainScenario(1500, 20_000);
    expect(run.readyz.status).toBe(503);
    expect(run.readyzBody).toMatchObject({ status: 'not_ready', failed: ['draining'] });
    // One retry hint for every drain refusal.
    expect(run.refusedChunk).toMatchObject({ ok: false, error: { code: 'SERVER_DRAINING', retryable: true, retry_after_ms: DRAIN_RETRY_AFTER_MS } });
    expect(run.refusedStart).toMatchObject({ ok: false, error: { code: 'SERVER_DRAINING', retry_after_ms: DRAIN_RETRY_AFTER_MS } });
    // The in-flight segment's result came first, then the notice, then the close.
    expect(run.events).toEqual(['result 0', 'notice', 'disconnect']);
    expect(run.notices[0]).toMatchObject({ code: 'SERVER_DRAINING', retry_after_ms: DRAIN_RETRY_AFTER_MS });
    // A lost transport, not a server-side disconnect: Socket.IO clients reconnect on their own.
    expect(run.disconnectReason).toBe('transport close');
    expect(run.code).toBe(0);
    const drained = jsonLines(server!.stdout).find((l) => l.msg?.startsWith('drain:'));
    expect(drained).toMatchObject({ in_flight_finished: true, clients: 1 });
  }, 90_000);

  it('SHUTDOWN_GRACE_MS bounds the wait for a segment that takes too long', async () => {
    const run = await drainScenario(8000, 500);
    expect(run.events).toEqual(['notice', 'disconnect']);
    expect(run.disconnectReason).toBe('transport close');
    const drained = jsonLines(server!.stdout).find((l) => l.msg?.startsWith('drain:'));
    expect(drained).toMatchObject({ in_flight_finished: false });
    expect(drained!.waited_ms).toBeLessThan(8000);
    expect(run.code).toBe(0);
  }, 90_000);
});

describe('a draining node and one-time client tokens', () => {
  const API_KEY = 'backend-key-drain';
  const nodes: TranscriptionServer[] = [];
  afterEach(async () => {
    for (const node of nodes.splice(0)) await node.close();
  });

  /** A serving node as main.ts builds it (access with the Redis replay guard, drain gate, token endpoint). */
  async function startNode(prefix: string): Promise<{ node: TranscriptionServer; url: string }> {
    const config = loadConfig({
      REDIS_URL: inject('redisUrl'),
      REDIS_KEY_PREFIX: prefix,
      TRANSCRIBER: 'openai',
      OPENAI_API_KEY: 'sk-test-drain-token',
      OPENAI_BASE_URL: stub!.url,
      API_KEYS: API_KEY,
      TOKEN_SECRET: 'drain-token-secret-'.padEnd(48, 'x'),
      LOG_LEVEL: 'silent',
    });
    const node = await composeServer(config, pino({ level: 'silent' }));
    nodes.push(node);
    const port = await node.app.listen(0, '127.0.0.1');
    return { node, url: `http://127.0.0.1:${port}` };
  }

  function tryConnect(url: string, token: string): Promise<'connected' | { code: string; retry_after_ms?: number }> {
    const client = io(`${url}/transcription`, { transports: ['websocket'], forceNew: true, reconnection: false, auth: { token } });
    return new Promise((resolve) => {
      client.once('connect', () => (client.disconnect(), resolve('connected')));
      client.once('connect_error', (error: Error & { data?: { code: string; retry_after_ms?: number } }) => (client.disconnect(), resolve(error.data!)));
    });
  }

  it('refuses the token with SERVER_DRAINING without redeeming it: the same token then opens a connection on another node', async () => {
    stub = await startOpenAIStub();
    const prefix = `drain-token:${randomUUID()}:`;
    const draining = await startNode(prefix);
    const serving = await startNode(prefix);
    const minted = await fetch(`${serving.url}${TOKEN_PATH}`, { method: 'POST', headers: { authorization: `Bearer ${API_KEY}` } });
    const { token } = (await minted.json()) as { token: string };

    await draining.node.drain.drain();
    expect(await tryConnect(draining.url, token)).toEqual({ code: 'SERVER_DRAINING', retry_after_ms: DRAIN_RETRY_AFTER_MS });
    expect(await tryConnect(serving.url, token)).toBe('connected');
    // The replay guard is shared: the token is now used up everywhere.
    expect(await tryConnect(serving.url, token)).toMatchObject({ code: 'TOKEN_REPLAYED' });
  });
});
