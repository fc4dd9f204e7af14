// The ops side server (Fastify on OPS_PORT): liveness, readiness, an on-demand Sentry performance test, Prometheus
// metrics and the live dashboard, each a plugin under routes/ whose routes declare who may call them (ops-access.ts).
import type { AddressInfo } from 'node:net';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { DEFAULT_PERF_TEST_PER_MINUTE, type Config } from '../config/config.js';
import type { TranscriptionEngine } from '../engines/engine.js';
import type { MetricsSource } from '../metrics/metrics-source.js';
import type { BufferStore } from '../store/buffer-store.js';
import { registerErrorShape } from './error-shape.js';
import { registerOpsAccess, type DeclaredRoute } from './ops-access.js';
import { createReadinessProbe, type Readiness } from './readiness.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { performanceRoutes } from './routes/performance.js';
import { readinessRoutes } from './routes/readiness.js';

export interface OpsServerDeps {
  config: Pick<Config, 'opsPort' | 'opsToken' | 'host'> & Partial<Pick<Config, 'production' | 'limits'>>;
  store: BufferStore;
  engine: TranscriptionEngine;
  logger?: Logger;
  /** The /readyz probe; default: the store and the engine with default settings (src/ops/readiness.ts). */
  readiness?: () => Promise<Readiness>;
  /** Serves GET /metrics and the dashboard: this process's registry, or the cluster primary's aggregate. */
  metrics?: MetricsSource;
  /** The built dashboard page (default dist/dashboard) and how often it samples `metrics` (default 5 s). */
  dashboard?: { dir?: string; stepMs?: number };
}

export interface OpsServer {
  readonly fastify: FastifyInstance;
  /** Each route with the access it declared, once the server is ready (after listen). */
  readonly routes: readonly DeclaredRoute[];
  /** Listens on `port` (default OPS_PORT; 0 = a free one) and resolves with the port taken. */
  listen(port?: number, host?: string): Promise<number>;
  close(): Promise<void>;
}

export function createOpsServer({ config, store, engine, logger, readiness, metrics, dashboard }: OpsServerDeps): OpsServer {
  const fastify = Fastify({
    ...(logger ? { loggerInstance: logger.child({ component: 'ops' }) as FastifyBaseLogger } : {}),
    // Probes arrive every few seconds: one log line per request would bury the server's own lines.
    logController: new LogController({ disableRequestLogging: true }),
  });

  const access = registerOpsAccess(fastify, { opsToken: config.opsToken, production: config.production ?? false, logger });
  registerErrorShape(fastify, metrics ? 'GET /healthz, /readyz, /metrics, /dashboard and /ops/test-sentry-performance' : 'GET /healthz, /readyz and /ops/test-sentry-performance');

  void fastify.register(healthRoutes);
  void fastify.register(readinessRoutes, { check: readiness ?? createReadinessProbe(store, engine), mayObserve: access.mayObserve });
  void fastify.register(performanceRoutes, { store, engine, perMinute: config.limits?.perfTestPerMinute ?? DEFAULT_PERF_TEST_PER_MINUTE });
  if (metrics) {
    void fastify.register(metricsRoutes, { source: metrics });
    void fastify.register(dashboardRoutes, { source: metrics, ...dashboard, logger });
  }

  return {
    fastify,
    routes: access.routes,
    async listen(port = config.opsPort, host = config.host) {
      await fastify.listen({ port, host: host ?? '0.0.0.0' });
      return (fastify.server.address() as AddressInfo).port;
    },
    close: () => fastify.close(),
  };
}
