// GET /ops/test-sentry-performance: four real operations (store, engine, processing, cache) traced in Sentry. It
// spends a paid engine call, so even callers with the token share one budget of PERF_TEST_PER_MINUTE runs.
import * as Sentry from '@sentry/node';
import type { FastifyPluginAsync } from 'fastify';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { TranscriptionEngine } from '../../engines/engine.js';
import type { BufferStore } from '../../store/buffer-store.js';
import { errorBodySchema, sendError } from '../error-shape.js';
import { PerformanceTestError, runPerformanceTest } from '../performance-test.js';

export const PERFORMANCE_TEST_PATH = '/ops/test-sentry-performance';

export interface PerformanceRoutesOptions {
  store: BufferStore;
  engine: TranscriptionEngine;
  perMinute: number;
}

const operations = {
  type: 'array',
  items: { type: 'object', properties: { name: { type: 'string' }, duration_ms: { type: 'number' } }, required: ['name', 'duration_ms'] },
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

export const performanceRoutes: FastifyPluginAsync<PerformanceRoutesOptions> = async (fastify, { store, engine, perMinute }) => {
  const budget = new RateLimiterMemory({ keyPrefix: 'perf-test', points: perMinute, duration: 60 });

  fastify.get(
    PERFORMANCE_TEST_PATH,
    {
      config: { access: 'operate' },
      schema: { response: { 200: performanceReport, 401: errorBodySchema, 404: errorBodySchema, 429: errorBodySchema, 500: performanceFailure } },
      // After the access hook: refused callers do not spend the budget.
      preHandler: async (_request, reply) => {
        try {
          await budget.consume('all');
        } catch (refusal) {
          if (!(refusal instanceof RateLimiterRes)) throw refusal;
          const retryS = Math.max(1, Math.ceil(refusal.msBeforeNext / 1000));
          reply.header('retry-after', String(retryS));
          return sendError(reply, 429, `The performance test runs at most ${perMinute} times a minute (PERF_TEST_PER_MINUTE); try again in ${retryS} s`);
        }
      },
    },
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
};
