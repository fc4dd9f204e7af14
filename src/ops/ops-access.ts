// Who may use the ops server: /ops/*, /metrics and /dashboard/data need OPS_TOKEN as a bearer token when it is set;
// with NODE_ENV=production and no OPS_TOKEN, /ops/* is off (health, readiness and metrics stay open); and the
// performance test runs at most PERF_TEST_PER_MINUTE times a minute, whatever the token.
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

export const PERFORMANCE_TEST_PATH = '/ops/test-sentry-performance';
export const DEFAULT_PERF_TEST_PER_MINUTE = 3;

export interface OpsAccessOptions {
  opsToken: string | undefined;
  production: boolean;
  perfTestPerMinute: number;
  logger?: Logger;
}

function bearerMatches(expected: string, header: string | undefined): boolean {
  if (!header?.startsWith('Bearer ')) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(header.slice('Bearer '.length));
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Paths behind OPS_TOKEN. The dashboard's page and scripts hold no data: only what it fetches is protected. */
function needsToken(path: string): boolean {
  return path.startsWith('/ops/') || path === '/metrics' || path === '/dashboard/data';
}

export function registerOpsAccess(fastify: FastifyInstance, options: OpsAccessOptions): void {
  const { opsToken, production, logger } = options;
  const opsOff = production && !opsToken;
  if (opsOff) {
    logger?.warn('/ops/* is off: NODE_ENV=production and no OPS_TOKEN; set OPS_TOKEN to turn it on (callers then send "Authorization: Bearer <OPS_TOKEN>")');
  }
  // One budget for everyone: the test sends real work to the engine and Sentry, so even valid callers are limited.
  const perfTests = new RateLimiterMemory({ keyPrefix: 'perf-test', points: options.perfTestPerMinute, duration: 60 });

  fastify.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?', 1)[0]!;
    if (!needsToken(path)) return;
    if (opsOff && path.startsWith('/ops/')) {
      return reply.code(404).send({ error: 'Not Found', message: '/ops/* is off in production without OPS_TOKEN; set OPS_TOKEN on the server to turn it on' });
    }
    if (opsToken && !bearerMatches(opsToken, request.headers.authorization)) {
      return reply.code(401).send({ error: 'Unauthorized', message: 'Pass the server OPS_TOKEN as "Authorization: Bearer <OPS_TOKEN>"' });
    }
    if (path !== PERFORMANCE_TEST_PATH) return;
    try {
      await perfTests.consume('all');
    } catch (refusal) {
      if (!(refusal instanceof RateLimiterRes)) throw refusal;
      const retryS = Math.max(1, Math.ceil(refusal.msBeforeNext / 1000));
      return reply
        .code(429)
        .header('retry-after', String(retryS))
        .send({ error: 'Too Many Requests', message: `The performance test runs at most ${options.perfTestPerMinute} times a minute (PERF_TEST_PER_MINUTE); try again in ${retryS} s` });
    }
  });
}
