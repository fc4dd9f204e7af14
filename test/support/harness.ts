// Builds the real server on a free port with a real store and engine, and a real Socket.IO client for it.
import { randomUUID } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';
import { inject } from 'vitest';
import { createApp, type App } from '../../src/server/compose.js';
import type { SpeechDetector } from '../../src/audio/speech-detector.js';
import { loadConfig, type Config } from '../../src/config/config.js';
import type { TranscriptionEngine } from '../../src/engines/engine.js';
import type { ServerMetrics } from '../../src/metrics/metrics.js';
import type { ClientToServerEvents, ServerToClientEvents, TranscriptionErrorEvent, TranscriptionResult } from '../../src/protocol/index.js';
import type { BufferStore } from '../../src/store/buffer-store.js';
import { createMemoryStore } from '../../src/store/memory-store.js';
import { createRedisStore } from '../../src/store/redis-store.js';

export type StoreKind = 'memory' | 'redis';
export const STORE_KINDS: StoreKind[] = ['memory', 'redis'];

export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface TestServer {
  url: string;
  app: App;
  store: BufferStore;
  config: Config;
  close(): Promise<void>;
}

export async function createStore(kind: StoreKind, keyPrefix = `test:${randomUUID()}:`, ttlS = 600): Promise<BufferStore> {
  if (kind === 'memory') return createMemoryStore({ ttlS });
  return createRedisStore({ url: inject('redisUrl'), keyPrefix, ttlS });
}

export async function startServer(options: {
  store: StoreKind | BufferStore;
  engine: TranscriptionEngine;
  env?: Record<string, string>;
  port?: number;
  metrics?: ServerMetrics;
  /** The energy VAD alone unless given (tests stream synthetic tones as speech). */
  speech?: SpeechDetector;
}): Promise<TestServer> {
  // The server shares its event loop with the test driving it: the driver's own work is not the server's load.
  const config = loadConfig({ TRANSCRIBER: 'pocketsphinx', LOG_LEVEL: 'silent', MAX_EVENT_LOOP_UTILIZATION: '1', ...options.env });
  const store = typeof options.store === 'string' ? await createStore(options.store) : options.store;
  const app = createApp(config, { store, engine: options.engine, ...(options.metrics ? { metrics: options.metrics } : {}), ...(options.speech ? { speech: options.speech } : {}) });
  const port = await app.listen(options.port ?? 0, '127.0.0.1');
  return {
    url: `http://127.0.0.1:${port}`,
    app,
    store,
    config,
    async close() {
      await app.close();
      if (typeof options.store === 'string') await store.close();
    },
  };
}

/** A connected client of /transcription that records everything the server pushes. */
export interface TestClient {
  socket: ClientSocket;
  results: TranscriptionResult[];
  errors: TranscriptionErrorEvent[];
  call(event: keyof ClientToServerEvents, payload: unknown): Promise<any>;
  close(): void;
}

export async function connect(url: string, auth: Record<string, string> = {}): Promise<TestClient> {
  const socket: ClientSocket = io(`${url}/transcription`, { transports: ['websocket'], forceNew: true, reconnection: false, auth });
  const results: TranscriptionResult[] = [];
  const errors: TranscriptionErrorEvent[] = [];
  socket.on('transcription_result', (r) => results.push(r));
  socket.on('transcription_error', (e) => errors.push(e));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return {
    socket,
    results,
    errors,
    call: (event, payload) => (socket.timeout(30_000) as any).emitWithAck(event, payload),
    close: () => socket.disconnect(),
  };
}

export { until } from './until.js';
