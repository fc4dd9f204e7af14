// The composition root: wires config, store, engine, telemetry and transports into one server that tests
// can build with real parts on free ports.
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import pLimit from 'p-limit';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { Server } from 'socket.io';
import type { Config } from './config/config.js';
import type { TranscriptionEngine } from './engines/engine.js';
import { SessionRegistry } from './sessions/session-registry.js';
import { registerTranscriptionNamespace } from './socket/namespace.js';
import type { BufferStore } from './store/buffer-store.js';
import { noopTelemetry, type Telemetry } from './telemetry/telemetry.js';

export interface AppDeps {
  store: BufferStore;
  engine: TranscriptionEngine;
  telemetry?: Telemetry;
  logger?: Logger;
  /** Serves plain HTTP requests on PORT that are not Socket.IO's (the demo page). */
  httpHandler?: (request: IncomingMessage, response: ServerResponse) => void;
}

export interface App {
  readonly httpServer: HttpServer;
  readonly io: Server;
  readonly registry: SessionRegistry;
  /** Listens on `port` (0 = a free one) and resolves with the port taken. */
  listen(port?: number, host?: string): Promise<number>;
  /** Disconnects clients and stops listening; sessions stay in the store. Does not close the store. */
  close(): Promise<void>;
}

/** Socket.IO drops a message over maxHttpBufferSize with a bare disconnect: keep it well above the chunk cap, so an oversized chunk is answered with CHUNK_TOO_LARGE. */
export function transportMessageLimit(maxChunkBytes: number): number {
  return Math.max(4 * 1024 * 1024, maxChunkBytes * 4);
}

function notFound(_request: IncomingMessage, response: ServerResponse): void {
  response.writeHead(404, { 'content-type': 'application/json' });
  response.end(JSON.stringify({ error: 'Not found. Clients connect with Socket.IO to the /transcription namespace.' }));
}

export function createApp(config: Config, deps: AppDeps): App {
  const logger = deps.logger ?? pino({ level: 'silent' });
  const telemetry = deps.telemetry ?? noopTelemetry;
  const httpServer = createServer(deps.httpHandler ?? notFound);
  const io = new Server(httpServer, {
    maxHttpBufferSize: transportMessageLimit(config.maxChunkBytes),
    serveClient: false,
    cors: { origin: true },
  });
  const registry = new SessionRegistry({
    store: deps.store,
    engine: deps.engine,
    engineLimit: pLimit(config.transcribeConcurrency),
    segmentation: config.segmentation,
    logger,
  });
  registerTranscriptionNamespace(io, { config, store: deps.store, registry, telemetry, logger });

  return {
    httpServer,
    io,
    registry,
    listen(port = config.port, host = config.host) {
      return new Promise((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(port, host, () => {
          httpServer.off('error', reject);
          resolve((httpServer.address() as AddressInfo).port);
        });
      });
    },
    async close() {
      await new Promise<void>((resolve) => io.close(() => resolve()));
    },
  };
}
