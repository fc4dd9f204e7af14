// The ops side server (Fastify on OPS_PORT): liveness, readiness, an on-demand Sentry performance test, Prometheus
// metrics and the live dashboard; /ops/*, /metrics and /dashboard/data need the OPS_TOKEN bearer token when one is set.
import { timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import * as Sentry from '@sentry/node';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import type { TranscriptionEngine } from '../engines/engine.js';
import type { MetricsSource } from '../metrics/metrics-source.js';
import type { BufferStore } from '../store/buffer-store.js';
import { PerformanceTestError, runPerformanceTest } from './performance-test.js';
import { registerDashboard } from './dashboard-routes.js';
import { createReadinessProbe } from './readiness.js';

export interface OpsServerDeps {
  config: Pick<Config, 'opsPort' | 'opsToken' | 'host'>;
  store: BufferStore;
  engine: TranscriptionEngine;
  logger?: Logger;
  /** Serves GET /metrics and the dashboard: this process's registry, or the cluster primary's aggregate. */
  metrics?: MetricsSource;
  /** The built dashboard page (default dist/dashboard) and how often it samples `metrics` (default 5 s). */
  dashboard?: { dir?: string; stepMs?: number };
}

export interface OpsServer {
  readonly fastify: FastifyInstance;
  /** Listens on `port` (default OPS_PORT; 0 = a free one) and resolves with the port taken. */
  listen(port?: number, host?: string): Promise<number>;
  close(): Promise<void>;
}

const errorBody = {
  type: 'object',
  properties: { error: { type: 'string' }, message: { type: 'string' } },
  required: ['error', 'message'],
} as const;

const check = {
  type: 'object',
  properties: { ok: { type: 'boolean' }, duration_ms: { type: 'number' }, error: { type: 'string' }, checked_ms_ago: { type: 'number' } },
  required: ['ok', 'duration_ms'],
} as const;

const readiness = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: ['ready', 'not_ready'] },
    failed: { type: 'array', items: { type: 'string', enum: ['store', 'engine'] } },
    checks: { type: 'object', properties: { store: check, engine: check }, required: ['store', 'engine'] },
  },
  required: ['status', 'failed', 'checks'],
} as const;

const operations = {
  type: 'array',
  items: {
    type: 'object',
    properties: { name: { type: 'string' }, duration_ms: { type: 'number' } },
    required: ['name', 'duration_ms'],
  },
} as const;

const performanceReport = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: ['success'] },
    message: { type: 'string' },
    operations,
    total_duration_ms: { type: 'number' },
    check: { type: 'string' },
  },
  required: ['status', 'message', 'operations', 'total_duration_ms', 'check'],
} as const;

const performanceFailure = {
  type: 'object',
  properties: { status: { type: 'string', enum: ['error'] }, message: { type: 'string' }, operations },
  required: ['status', 'message', 'operations'],
} as const;

function bearerMatches(expected: string, header: string | undefined): boolean {
  if (!header?.startsWith('Bearer ')) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(header.slice('Bearer '.length));
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Paths behind OPS_TOKEN. The dashboard's page and scripts hold no data: only what it fetches is protected. */
function needsToken(url: string): boolean {
  const path = url.split('?', 1)[0]!;
  return path.startsWith('/ops/') || path === '/metrics' || path === '/dashboard/data';
}

export function createOpsServer({ config, store, engine, logger, metrics, dashboard }: OpsServerDeps): OpsServer {
  const fastify = Fastify({
    ...(logger ? { loggerInstance: logger.child({ component: 'ops' }) as FastifyBaseLogger } : {}),
    // Probes arrive every few seconds: one log line per request would bury the server's own lines.
    logController: new LogController({ disableRequestLogging: true }),
  });

  if (config.opsToken) {
    const token = config.opsToken;
    fastify.addHook('onRequest', async (request, reply) => {
      if (!needsToken(request.url)) return;
      if (bearerMatches(token, request.headers.authorization)) return;
      return reply.code(401).send({ error: 'Unauthorized', message: 'Pass the server OPS_TOKEN as "Authorization: Bearer <OPS_TOKEN>"' });
    });
  }

  fastify.get(
    '/healthz',
    { schema: { response: { 200: { type: 'object', properties: { status: { type: 'string', enum: ['ok'] } }, required: ['status'] } } } },
    async () => ({ status: 'ok' as const }),
  );

  const checkReadiness = createReadinessProbe(store, engine);
  fastify.get('/readyz', { schema: { response: { 200: readiness, 503: readiness } } }, async (_request, reply) => {
    const result = await checkReadiness();
    return reply.code(result.status === 'ready' ? 200 : 503).send(result);
  });

  fastify.get(
    '/ops/test-sentry-performance',
    { schema: { response: { 200: performanceReport, 401: errorBody, 500: performanceFailure } } },
    async (_request, reply) => {
      try {
        return await runPerformanceTest(store, engine);
      } catch (error) {
        Sentry.captureException(error);
        const operationsDone = error instanceof PerformanceTestError ? error.operations : [];
        return reply.code(500).send({ status: 'error', message: (error as Error).message, operations: operationsDone });
      }
    },
  );

  let stopDashboard = () => {};
  if (metrics) {
    fastify.get('/metrics', async (_request, reply) => {
      const text = await metrics.metrics();
      return reply.type(metrics.contentType).send(text);
    });
    stopDashboard = registerDashboard(fastify, { source: metrics, ...dashboard, logger });
  }

  return {
    fastify,
    async listen(port = config.opsPort, host = config.host) {
      await fastify.listen({ port, host: host ?? '0.0.0.0' });
      return (fastify.server.address() as AddressInfo).port;
    },
    async close() {
      stopDashboard();
      await fastify.close();
    },
  };
}
