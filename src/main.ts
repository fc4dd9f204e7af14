// Process entry: reads the environment, builds the real parts, starts the server, and stops it cleanly.
import { createApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config/config.js';
import { EngineUnavailableError } from './engines/engine.js';
import { createEngine } from './engines/index.js';
import { createLogger } from './logger.js';
import { createPrometheusMetrics } from './metrics/prometheus-metrics.js';
import { createOpsServer } from './ops/ops-server.js';
import type { BufferStore } from './store/buffer-store.js';
import { createMemoryStore } from './store/memory-store.js';
import { createRedisStore } from './store/redis-store.js';
import { createTelemetry, flushTelemetry } from './telemetry/sentry-telemetry.js';
import { createPageHandler } from './web-server/static-page.js';

async function createStore(config: Config): Promise<BufferStore> {
  if (!config.redisUrl) return createMemoryStore({ ttlS: config.sessionTtlS });
  return createRedisStore({ url: config.redisUrl, keyPrefix: config.redisKeyPrefix, ttlS: config.sessionTtlS });
}

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const store = await createStore(config);
  const engine = await createEngine(config, logger);
  // Sentry telemetry when instrument.ts started Sentry (SENTRY_DSN or SENTRY_SPOTLIGHT), else the no-op seam.
  const telemetry = createTelemetry({ tags: { engine: engine.name, model: engine.model } });
  // Prometheus metrics on a registry of this process's own: the pipeline reports to it, the ops server serves it
  // at /metrics and draws it at /dashboard.
  const prometheus = createPrometheusMetrics();
  const app = createApp(config, { store, engine, logger, telemetry, metrics: prometheus.metrics, httpHandler: createPageHandler() });
  const port = await app.listen();
  logger.info(
    { port, store: store.kind, engine: engine.name, model: engine.model, namespace: '/transcription' },
    `Transcription server listening on port ${port} (store=${store.kind}, engine=${engine.name})`,
  );
  const ops = createOpsServer({ config, store, engine, logger, metrics: prometheus.registry });
  const opsPort = await ops.listen();
  logger.info({ ops_port: opsPort }, `Ops server listening on port ${opsPort} (/healthz, /readyz, /metrics, /dashboard, /ops/test-sentry-performance)`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping: clients are disconnected, sessions stay in the store');
    await app.close();
    await ops.close();
    await store.close();
    await engine.close?.();
    // Transactions of the last events are still queued: send them before exiting.
    await flushTelemetry();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error: unknown) => {
  // Settings and missing programs are the operator's to fix: the message says how. Anything else keeps its stack.
  const known = error instanceof ConfigError || error instanceof EngineUnavailableError;
  console.error(`Cannot start: ${(error as Error).message}`);
  if (!known) console.error(error);
  process.exit(1);
});
