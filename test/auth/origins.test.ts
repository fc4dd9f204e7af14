// Origins on a real server, over WebSocket only and over long-polling: ALLOWED_ORIGINS admits its list and refuses the
// rest before Socket.IO sees the request; production without a list allows the server's own origin only; development
// allows any; requests without an Origin header are never affected.
import { io } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createOpenAIEngine } from '../../src/engines/openai.js';
import { startServer, type TestServer } from '../support/harness.js';
import { startOpenAIStub, type OpenAIStub } from '../support/openai-stub.js';

let stub: OpenAIStub | undefined;
let server: TestServer | undefined;
const sockets: { disconnect(): unknown }[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.disconnect();
  await server?.close();
  await stub?.close();
  server = stub = undefined;
});

async function start(env: Record<string, string>): Promise<string> {
  stub = await startOpenAIStub();
  const engine = createOpenAIEngine({ apiKey: 'sk-test', baseUrl: stub.url, model: 'whisper-1', maxRetries: 0, timeoutMs: 5000 });
  // Production needs a decision about credentials; these tests are about origins only.
  server = await startServer({ store: 'memory', engine, env: { ALLOW_ANONYMOUS: 'true', ...env } });
  return server.url;
}

/** A real Socket.IO client on one transport, sending `origin` (none when undefined). */
function connects(url: string, transport: 'websocket' | 'polling', origin: string | undefined): Promise<boolean> {
  const socket = io(`${url}/transcription`, {
    transports: [transport],
    forceNew: true,
    reconnection: false,
    extraHeaders: origin === undefined ? {} : { origin },
  });
  sockets.push(socket);
  return new Promise((resolve) => {
    socket.once('connect', () => resolve(true));
    socket.once('connect_error', () => resolve(false));
  });
}

/** The raw refusal each transport gives: status and body text. */
async function refusal(url: string, transport: 'websocket' | 'polling', origin: string): Promise<{ status: number; body: string }> {
  if (transport === 'polling') {
    const response = await fetch(`${url}/socket.io/?EIO=4&transport=polling`, { headers: { origin } });
    return { status: response.status, body: await response.text() };
  }
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`, { origin });
    ws.once('open', () => reject(new Error('the upgrade was accepted')));
    ws.once('error', () => {});
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
  });
}

describe.each(['websocket', 'polling'] as const)('origins over %s', (transport) => {
  it('ALLOWED_ORIGINS: listed origins connect, others are refused with ORIGIN_NOT_ALLOWED, no Origin is unaffected', async () => {
    const url = await start({ ALLOWED_ORIGINS: 'https://app.example.com, https://other.example.com/', NODE_ENV: 'production' });
    expect(await connects(url, transport, 'https://app.example.com')).toBe(true);
    expect(await connects(url, transport, 'https://OTHER.example.com')).toBe(true);
    expect(await connects(url, transport, 'https://evil.example.com')).toBe(false);
    expect(await connects(url, transport, 'null')).toBe(false);
    expect(await connects(url, transport, undefined)).toBe(true);
    const refused = await refusal(url, transport, 'https://evil.example.com');
    expect(refused.status).toBe(transport === 'polling' ? 403 : 400);
    expect(refused.body).toMatch(/ORIGIN_NOT_ALLOWED: origin \\?"https:\/\/evil.example.com\\?" may not connect; add it to ALLOWED_ORIGINS/);
  });

  it('production without ALLOWED_ORIGINS: the server\'s own origin only', async () => {
    const url = await start({ NODE_ENV: 'production' });
    expect(await connects(url, transport, url)).toBe(true);
    expect(await connects(url, transport, 'https://elsewhere.example.com')).toBe(false);
    expect(await connects(url, transport, undefined)).toBe(true);
    expect((await refusal(url, transport, 'https://elsewhere.example.com')).body).toMatch(/own origin is allowed in production/);
  });

  it('development without ALLOWED_ORIGINS: any origin', async () => {
    const url = await start({});
    expect(await connects(url, transport, 'https://anywhere.example.com')).toBe(true);
  });
});

describe('CORS for long-polling', () => {
  it('answers a listed origin with its own Access-Control-Allow-Origin, and no other', async () => {
    const url = await start({ ALLOWED_ORIGINS: 'https://app.example.com', NODE_ENV: 'production' });
    const allowed = await fetch(`${url}/socket.io/?EIO=4&transport=polling`, { headers: { origin: 'https://app.example.com' } });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    await allowed.text();
  });
});
