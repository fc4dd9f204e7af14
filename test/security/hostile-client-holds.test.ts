// Protections a hostile client probed on the built server (npm start's entry, NODE_ENV=production) that hold, kept
// here so they keep holding: X-Forwarded-For is not believed without TRUST_PROXY (per-address limits cannot be
// escaped by rotating it), and the ops token cannot be skipped by rewrite headers, pipelining behind a public route,
// request smuggling (Content-Length + Transfer-Encoding) or HTTP/1.0.
import { connect as tcpConnect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io } from 'socket.io-client';
import { spawnServer, type SpawnedServer } from '../support/spawn-server.js';

const API_KEY = 'api-key-0123456789abcdef';
let server: SpawnedServer;

beforeAll(async () => {
  server = await spawnServer({
    NODE_ENV: 'production',
    TOKEN_SECRET: 'secret-secret-secret-secret-secret-123456',
    API_KEYS: API_KEY,
    OPS_TOKEN: 'ops-token-0123456789abcdef',
    TRANSCRIBER: 'openai',
    OPENAI_API_KEY: 'sk-test',
    OPENAI_BASE_URL: 'http://127.0.0.1:9/v1',
    TOKEN_REQUESTS_PER_MINUTE: '3',
    HANDSHAKES_PER_MINUTE: '3',
  });
}, 30_000);
afterAll(() => server?.stop());

/** Everything the server writes back to `text` before it closes (or 3 s). */
function raw(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, '127.0.0.1');
    let answer = '';
    socket.setEncoding('latin1');
    socket.on('data', (data: string) => (answer += data));
    socket.on('error', () => {});
    const timer = setTimeout(() => socket.destroy(), 3000);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(answer);
    });
    socket.end(text, 'latin1');
  });
}
const statuses = (answer: string) => [...answer.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));

describe('X-Forwarded-For without TRUST_PROXY', () => {
  it('does not give POST /v1/tokens a fresh allowance per claimed address', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 6; i++) {
      const response = await fetch(`${server.url}/v1/tokens`, { method: 'POST', headers: { authorization: `Bearer ${API_KEY}`, 'x-forwarded-for': `9.9.9.${i}` }, body: '{}' });
      codes.push(response.status);
    }
    expect(codes).toEqual([200, 200, 200, 429, 429, 429]);
  });

  it('does not give handshakes a fresh allowance per claimed address', async () => {
    const outcomes: string[] = [];
    for (let i = 0; i < 6; i++) {
      const socket = io(`${server.url}/transcription`, { transports: ['websocket'], forceNew: true, reconnection: false, auth: { token: 'wrong' }, extraHeaders: { 'x-forwarded-for': `8.8.8.${i}` } });
      outcomes.push(
        await new Promise<string>((resolve) => {
          socket.once('connect', () => resolve('connected'));
          socket.once('connect_error', (error: Error & { data?: { code?: string } }) => resolve(error.data?.code ?? error.message));
        }),
      );
      socket.close();
    }
    expect(outcomes).toEqual(['UNAUTHORIZED', 'UNAUTHORIZED', 'UNAUTHORIZED', 'RATE_LIMITED', 'RATE_LIMITED', 'RATE_LIMITED']);
  });
});

describe('the ops token on the built server', () => {
  const opsPort = () => Number(new URL(server.opsUrl).port);
  const guarded = ['/metrics', '/dashboard/data', '/ops/test-sentry-performance'];

  it('is not skipped by rewrite headers, Host games or HTTP/1.0', async () => {
    const passed: string[] = [];
    for (const path of guarded) {
      for (const header of ['X-Original-URL: /healthz', 'X-Rewrite-URL: /healthz', 'X-Forwarded-Prefix: /healthz', 'X-HTTP-Method-Override: HEAD', 'Host: localhost', 'Authorization: Bearer', 'Authorization: Bearer ']) {
        const answer = await raw(opsPort(), `GET ${path} HTTP/1.1\r\nHost: ops\r\n${header}\r\nConnection: close\r\n\r\n`);
        if (statuses(answer).some((s) => s < 300)) passed.push(`${path} [${header}]`);
      }
      const old = await raw(opsPort(), `GET ${path} HTTP/1.0\r\n\r\n`);
      if (statuses(old).some((s) => s < 300)) passed.push(`${path} HTTP/1.0`);
    }
    expect(passed).toEqual([]);
  });

  it('is checked on a request pipelined or smuggled behind the public /healthz', async () => {
    for (const path of guarded) {
      const pipelined = await raw(opsPort(), `GET /healthz HTTP/1.1\r\nHost: ops\r\n\r\nGET ${path} HTTP/1.1\r\nHost: ops\r\nConnection: close\r\n\r\n`);
      expect(statuses(pipelined)).toEqual([200, 401]);
      const smuggled = await raw(opsPort(), `GET /healthz HTTP/1.1\r\nHost: ops\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET ${path} HTTP/1.1\r\nHost: ops\r\n\r\n`);
      expect(statuses(smuggled).every((s) => s >= 400)).toBe(true);
    }
  });
});
