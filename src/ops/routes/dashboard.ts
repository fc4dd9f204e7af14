// The live dashboard on the ops server: GET /dashboard (the page bundled into dist/dashboard), its script and
// styles, and GET /dashboard/data (the last 15 minutes of percentiles and rates, sampled from the metrics).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import { createDashboardSampler } from '../../metrics/dashboard-data.js';
import type { MetricsSource } from '../../metrics/metrics-source.js';
import { sendError } from '../error-shape.js';

/** dist/dashboard, two levels up from this module once compiled (dist/ops/routes/dashboard.js). */
export const DEFAULT_DASHBOARD_DIR = fileURLToPath(new URL('../../dashboard/', import.meta.url));

/** The page's files, by URL; nothing else under the folder is served. */
const FILES: Record<string, { file: string; type: string }> = {
  '/dashboard': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/dashboard/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};

const series = { type: 'array', items: { type: ['number', 'null'] } } as const;
const percentiles = { type: 'object', properties: { p50: series, p75: series, p95: series, p99: series }, required: ['p50', 'p75', 'p95', 'p99'] } as const;

/** DashboardData (src/metrics/dashboard-data.ts). */
const dashboardData = {
  type: 'object',
  properties: {
    stepS: { type: 'number' },
    rateWindowS: { type: 'number' },
    t: { type: 'array', items: { type: 'number' } },
    ackLatency: percentiles,
    resultLatency: percentiles,
    throughput: { type: 'object', properties: { chunksPerS: series, audioSecondsPerS: series, resultsPerS: series }, required: ['chunksPerS', 'audioSecondsPerS', 'resultsPerS'] },
    errorsPerS: { type: 'object', additionalProperties: series },
    sessionsActive: series,
    connectionsActive: series,
    engine: { type: 'object', properties: { limit: series, inFlight: series, queued: series }, required: ['limit', 'inFlight', 'queued'] },
  },
  required: ['stepS', 'rateWindowS', 't', 'ackLatency', 'resultLatency', 'throughput', 'errorsPerS', 'sessionsActive', 'connectionsActive', 'engine'],
} as const;

/** Only its own files and its own origin: the charts are drawn locally, nothing is fetched from elsewhere. */
const PAGE_POLICY = "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export interface DashboardOptions {
  source: MetricsSource;
  dir?: string;
  stepMs?: number;
  logger?: Logger;
}

/** The page's files are public (they hold no data); what it fetches is not. Samples from start to close. */
export const dashboardRoutes: FastifyPluginAsync<DashboardOptions> = async (fastify, options) => {
  const dir = options.dir ?? DEFAULT_DASHBOARD_DIR;
  const sampler = createDashboardSampler({
    source: options.source,
    stepMs: options.stepMs,
    onError: (error) => options.logger?.warn({ err: error }, 'dashboard: could not read the metrics; this point is skipped'),
  });
  sampler.start();
  fastify.addHook('onClose', async () => sampler.stop());

  for (const [url, { file, type }] of Object.entries(FILES)) {
    fastify.get(url, { config: { access: 'public' } }, async (_request, reply) => {
      const body = await readFile(path.join(dir, file)).catch(() => undefined);
      if (!body) {
        return sendError(reply, 404, 'The dashboard has not been built: run `npm run build` (it bundles src/dashboard into dist/dashboard).');
      }
      reply.header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff');
      if (file.endsWith('.html')) reply.header('content-security-policy', PAGE_POLICY);
      return reply.type(type).send(body);
    });
  }

  fastify.get('/dashboard/data', { config: { access: 'observe' }, schema: { response: { 200: dashboardData } } }, async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    return sampler.data();
  });
};
