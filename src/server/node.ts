// One serving process's parts, built from the config: store, engine, telemetry, the Socket.IO app and its drain.
// The single-process server and each cluster worker both serve through this.
import type { Logger } from 'pino';
import { createApp, type App } from '../app.js';
import { connectLimitsRedis, createAccess, createReplayGuard } from '../auth/access.js';
import { TOKEN_PATH } from '../auth/token-endpoint.js';
import type { Config } from '../config/config.js';
import type { TranscriptionEngine } from '../engines/engine.js';
import { createEngine } from '../engines/index.js';
import { createPrometheusMetrics, type PrometheusMetrics } from '../metrics/prometheus-metrics.js';
import type { BufferStore } from '../store/buffer-store.js';
import { createMemoryStore } from '../store/memory-store.js';
import { createRedisStore } from '../store/redis-store.js';
import { createTelemetry, flushTelemetry } from '../telemetry/sentry-telemetry.js';
import { createRequestRouter } from '../web-server/request-router.js';
import { createPageHandler } from '../web-server/static-page.js';
import { createDrain, createDrainGate, type Drain } from './drain.js';

export async function createStore(config: Config): Promise<BufferStore> {
  if (!config.redisUrl) return createMemoryStore({ ttlS: config.sessionTtlS });
  return createRedisStore({ url: config.redisUrl, keyPrefix: config.redisKeyPrefix, ttlS: config.sessionTtlS });
}

export interface ServingNode {
  app: App;
  store: BufferStore;
  engine: TranscriptionEngine;
  /** This process's Prometheus registry: served on its ops server, or collected by a cluster primary. */
  prometheus: PrometheusMetrics;
  drain: Drain;
  /** After the drain: closes the app, the store and the engine, and sends the last telemetry. */
  close(): Promise<void>;
}

export async function createServingNode(config: Config, logger: Logger): Promise<ServingNode> {
  const store = await createStore(config);
  const engine = await createEngine(config, logger);
  // Prometheus metrics on a registry of this process's own: the pipeline reports to it.
  const prometheus = createPrometheusMetrics();
  // Sentry telemetry when instrument.ts started Sentry (SENTRY_DSN or SENTRY_SPOTLIGHT), else the no-op seam; what
  // the SDK drops is counted in the metrics.
  const telemetry = createTelemetry({ tags: { engine: engine.name, model: engine.model }, metrics: prometheus.metrics });
  // With REDIS_URL, client-token claims and the per-address limits are shared by every node and worker, so a token
  // opens one connection in all and MAX_CONNECTIONS_PER_IP holds for the deployment.
  const access = createAccess(config, { logger, replayGuard: await createReplayGuard(config), redis: await connectLimitsRedis(config) });
  const httpHandler = createRequestRouter({ [TOKEN_PATH]: access.tokenEndpoint }, createPageHandler());
  // The drain check comes before every other handshake check: a draining node must not redeem a one-time token.
  const gate = createDrainGate();
  const app = createApp(config, { store, engine, logger, telemetry, metrics: prometheus.metrics, access: { ...access, handshake: [gate.handshake, ...access.handshake] }, httpHandler });
  const drain = createDrain({
    io: app.io,
    gate,
    graceMs: config.shutdownGraceMs,
    stopTakingWork: () => app.sessions.startDraining(),
    idle: () => app.sessions.settled(),
    logger,
  });
  return {
    app,
    store,
    engine,
    prometheus,
    drain,
    async close() {
      await app.close();
      await access.close();
      await store.close();
      await engine.close?.();
      // Transactions of the last events are still queued: send them before exiting.
      await flushTelemetry();
    },
  };
}
