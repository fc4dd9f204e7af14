// Socket.IO's default namespace "/" sits beside /transcription on the same port: left open it would take connections
// past every handshake check (credentials, per-address limits). A hostile client tries it on the built server.
import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnServer, type SpawnedServer } from '../support/spawn-server.js';

let server: SpawnedServer;
const sockets: Socket[] = [];
beforeAll(async () => {
  server = await spawnServer({
    NODE_ENV: 'production',
    AUTH_TOKEN: 'client-token-0123456789',
    OPS_TOKEN: 'ops-token-0123456789abcdef',
    TRANSCRIBER: 'openai',
    OPENAI_API_KEY: 'sk-test',
    OPENAI_BASE_URL: 'http://127.0.0.1:9/v1',
    MAX_CONNECTIONS_PER_IP: '2',
  });
}, 30_000);
afterAll(async () => {
  for (const socket of sockets) socket.close();
  await server?.stop();
});

function attempt(namespace: string, transports: string[] = ['websocket']): Promise<string> {
  const socket = io(`${server.url}${namespace}`, { transports, forceNew: true, reconnection: false });
  sockets.push(socket);
  return new Promise((resolve) => {
    socket.once('connect', () => resolve('connected'));
    socket.once('connect_error', (error: Error & { data?: { code?: string } }) => resolve(error.data?.code ?? error.message));
    setTimeout(() => resolve('no answer'), 5000).unref();
  });
}

describe('namespaces other than /transcription', () => {
  it('are refused with UNKNOWN_NAMESPACE, as /transcription refuses a client without credentials', async () => {
    expect(await attempt('/transcription')).toBe('UNAUTHORIZED');
    expect(await attempt('/')).toBe('UNKNOWN_NAMESPACE');
    expect(await attempt('/', ['polling'])).toBe('UNKNOWN_NAMESPACE');
    expect(await attempt('/admin')).not.toBe('connected');
  });

  it('hold no connection however many times one address tries', async () => {
    const outcomes: string[] = [];
    for (let i = 0; i < 20; i++) outcomes.push(await attempt('/'));
    expect(outcomes.filter((outcome) => outcome === 'connected')).toEqual([]);
  });
});
