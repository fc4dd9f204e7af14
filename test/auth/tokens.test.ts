// Client tokens end to end on a real server: a backend mints one at POST /v1/tokens on the same port, the real client
// library streams with it; replayed, expired, tampered, forged and missing tokens get connect_error with the code
// that says which; the token's limits apply to the connection's sessions; two nodes sharing Redis share the claims.
import { randomUUID } from 'node:crypto';
import { io } from 'socket.io-client';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createApp, type App } from '../../src/server/compose.js';
import { createAccess, type Access } from '../../src/auth/access.js';
import { createRedisReplayGuard, type ReplayGuard } from '../../src/auth/replay-guard.js';
import { TOKEN_PATH } from '../../src/auth/token-endpoint.js';
import { TranscriptionClient } from '../../src/client/index.js';
import { loadConfig } from '../../src/config/config.js';
import { createOpenAIEngine } from '../../src/engines/openai.js';
import { createMemoryStore } from '../../src/store/memory-store.js';
import { createRequestRouter } from '../../src/web-server/request-router.js';
import { chunksOf, loudPcm } from '../support/audio.js';
import { until } from '../support/harness.js';
import { startOpenAIStub, type OpenAIStub } from '../support/openai-stub.js';

const API_KEY = 'backend-key-1';
const SECRET = 'token-secret-'.padEnd(48, 'x');
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

let stub: OpenAIStub;
const accessOf = new Map<string, Access>();

/** The real app with its token endpoint routed on the same port, as main.ts wires it; `now` is its tokens' clock. */
async function startNode(env: Record<string, string> = {}, replayGuard?: ReplayGuard, now?: () => number) {
  stub ??= await startOpenAIStub({ respond: () => ({ text: 'token holder' }) });
  const config = loadConfig({ TRANSCRIBER: 'pocketsphinx', LOG_LEVEL: 'silent', MAX_EVENT_LOOP_UTILIZATION: '1', API_KEYS: `${API_KEY},backend-key-2`, TOKEN_SECRET: SECRET, ...env });
  const access = createAccess(config, { ...(replayGuard ? { replayGuard } : {}), ...(now ? { now } : {}) });
  const store = createMemoryStore({ ttlS: 60 });
  const engine = createOpenAIEngine({ apiKey: 'sk-test', baseUrl: stub.url, model: 'whisper-1', maxRetries: 0, timeoutMs: 10_000 });
  const app: App = createApp(config, { store, engine, access, httpHandler: createRequestRouter({ [TOKEN_PATH]: access.tokenEndpoint }, (_q, r) => r.end()) });
  const port = await app.listen(0, '127.0.0.1');
  cleanups.push(async () => {
    await app.close();
    await access.close();
    await store.close();
  });
  const url = `http://127.0.0.1:${port}`;
  accessOf.set(url, access);
  return url;
}

async function mint(url: string, body: Record<string, unknown> = {}): Promise<string> {
  const response = await fetch(`${url}${TOKEN_PATH}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { token: string }).token;
}

/** Connects with `token`; resolves "connected" or the refusal's { code, message }. */
async function tryConnect(url: string, token?: string): Promise<'connected' | { code: string; message: string }> {
  const socket = io(`${url}/transcription`, { transports: ['websocket'], forceNew: true, reconnection: false, auth: token === undefined ? {} : { token } });
  cleanups.push(() => socket.disconnect());
  return new Promise((resolve) => {
    socket.once('connect', () => resolve('connected'));
    socket.once('connect_error', (error: Error & { data?: { code: string } }) => resolve({ code: error.data?.code ?? '', message: error.message }));
  });
}

function client(url: string, token: string): TranscriptionClient {
  const c = new TranscriptionClient({ url, token, socketOptions: { transports: ['websocket'] }, reconnect: { attempts: 0 } });
  cleanups.push(() => c.close());
  return c;
}

describe('client tokens, end to end', () => {
  afterEach(async () => {
    await stub?.close();
    stub = undefined as unknown as OpenAIStub;
  });

  it('the real client streams a session with a minted token', async () => {
    const url = await startNode();
    const c = client(url, await mint(url));
    await c.start();
    for (const chunk of chunksOf(loudPcm(1500), 100)) await c.sendChunk(chunk);
    const end = await c.end();
    expect(end).toMatchObject({ duration_ms: 1500, text: 'token holder' });
  });

  it('a used token is TOKEN_REPLAYED; expired, tampered, forged and missing tokens say which', async () => {
    // The node's tokens run on a clock the test moves: minted on a whole second, a 1 s token still connects 999 ms
    // later and is refused as expired at 1000 ms.
    let clock = 1_700_000_000_000;
    const url = await startNode({}, undefined, () => clock);
    const token = await mint(url);
    expect(await tryConnect(url, token)).toBe('connected');
    expect(await tryConnect(url, token)).toMatchObject({ code: 'TOKEN_REPLAYED', message: expect.stringMatching(/fresh token/) });

    const shortLived = await mint(url, { expires_in_s: 1 });
    const stillFresh = await mint(url, { expires_in_s: 1 });
    clock += 999;
    expect(await tryConnect(url, stillFresh)).toBe('connected');
    clock += 1;
    expect(await tryConnect(url, shortLived)).toMatchObject({ code: 'TOKEN_EXPIRED', message: expect.stringMatching(/expired.*POST \/v1\/tokens/) });

    const [header, payload, signature] = (await mint(url)).split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const raised = Buffer.from(JSON.stringify({ ...claims, max_sessions: 1000 })).toString('base64url');
    expect(await tryConnect(url, `${header}.${raised}.${signature}`)).toMatchObject({ code: 'TOKEN_INVALID' });
    // Signed by another deployment (another TOKEN_SECRET).
    const otherUrl = await startNode({ TOKEN_SECRET: 'another-deployment-secret'.padEnd(40, 'y') });
    expect(await tryConnect(url, await mint(otherUrl))).toMatchObject({ code: 'TOKEN_INVALID', message: expect.stringMatching(/not one this server signed/) });
    expect(await tryConnect(url)).toMatchObject({ code: 'UNAUTHORIZED', message: expect.stringMatching(/POST \/v1\/tokens/) });
    expect(await tryConnect(url, 'not-a-token')).toMatchObject({ code: 'UNAUTHORIZED' });
  });

  it('the real client reports the refusal as CONNECT_REFUSED with the server message', async () => {
    const url = await startNode();
    const token = await mint(url);
    expect(await tryConnect(url, token)).toBe('connected');
    await expect(client(url, token).start()).rejects.toMatchObject({ code: 'CONNECT_REFUSED', message: expect.stringMatching(/TOKEN_REPLAYED/) });
  });

  it('AUTH_TOKEN still works beside client tokens', async () => {
    const url = await startNode({ AUTH_TOKEN: 'trusted-service-token' });
    expect(await tryConnect(url, 'trusted-service-token')).toBe('connected');
    expect(await tryConnect(url, 'trusted-service-token')).toBe('connected');
  });

  it("the token's limits apply to its connection: max_sessions, max_session_ms, language and model", async () => {
    const url = await startNode();
    const single = await tryConnectAndStart(url, await mint(url, { max_sessions: 1 }), {});
    expect(single.first).toMatchObject({ ok: true });
    expect(await single.socket.emitWithAck('start_session', {})).toMatchObject({
      ok: false,
      error: { code: 'TOO_MANY_SESSIONS', message: expect.stringMatching(/token's max_sessions=1/) },
    });
    const c = client(url, await mint(url, { max_session_ms: 1000, language: 'en', model: 'whisper-1' }));
    await c.start();
    for (const chunk of chunksOf(loudPcm(1000), 100)) await c.sendChunk(chunk);
    await expect(c.sendChunk(loudPcm(100))).rejects.toMatchObject({ code: 'SESSION_TIME_LIMIT' });
    // The pinned language reached the engine without the client asking for it.
    expect(await c.end()).toMatchObject({ duration_ms: 1000 });
    expect(stub.uploads.length).toBeGreaterThan(0);
    expect(stub.uploads.every((u) => u.language === 'en' && u.model === 'whisper-1')).toBe(true);

    const pinned = (await tryConnectAndStart(url, await mint(url, { language: 'en' }), { language: 'fr' })).first;
    expect(pinned).toMatchObject({ ok: false, error: { code: 'INVALID_PAYLOAD', message: expect.stringMatching(/allows language "en" only/) } });
  });

  it('two nodes sharing Redis: a token accepted by one is refused by the other', async () => {
    const keyPrefix = `tokens:${randomUUID()}:`;
    const guardA = await createRedisReplayGuard({ url: inject('redisUrl'), keyPrefix });
    const guardB = await createRedisReplayGuard({ url: inject('redisUrl'), keyPrefix });
    const nodeA = await startNode({}, guardA);
    const nodeB = await startNode({}, guardB);
    const token = await mint(nodeA);
    expect(await tryConnect(nodeA, token)).toBe('connected');
    expect(await tryConnect(nodeB, token)).toMatchObject({ code: 'TOKEN_REPLAYED' });
  });

  it('MAX_CONNECTIONS_PER_IP: the next connection from the address is TOO_MANY_CONNECTIONS until one closes', async () => {
    const url = await startNode({ AUTH_TOKEN: 'trusted-service-token', MAX_CONNECTIONS_PER_IP: '2' });
    const first = io(`${url}/transcription`, { transports: ['websocket'], forceNew: true, reconnection: false, auth: { token: 'trusted-service-token' } });
    cleanups.push(() => first.disconnect());
    await new Promise((r) => first.once('connect', () => r(undefined)));
    expect(await tryConnect(url, 'trusted-service-token')).toBe('connected');
    expect(await tryConnect(url, 'trusted-service-token')).toMatchObject({ code: 'TOO_MANY_CONNECTIONS', message: expect.stringMatching(/MAX_CONNECTIONS_PER_IP/) });
    first.disconnect();
    // The server releases the address's slot when it sees the close.
    await until(async () => (await accessOf.get(url)!.connections.count('127.0.0.1')) < 2, 'the closed connection released');
    expect(await tryConnect(url, 'trusted-service-token')).toBe('connected');
  });
});

async function tryConnectAndStart(url: string, token: string, payload: Record<string, unknown>) {
  const socket = io(`${url}/transcription`, { transports: ['websocket'], forceNew: true, reconnection: false, auth: { token } });
  cleanups.push(() => socket.disconnect());
  await new Promise((r) => socket.once('connect', () => r(undefined)));
  return { socket, first: await socket.emitWithAck('start_session', payload) };
}
