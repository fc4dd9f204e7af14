// GET /readyz: whether this node takes new sessions (200) or not (503). Public, since load balancers probe it, so
// anyone gets the status and the names of failed checks; the checks' detail (component errors) needs OPS_TOKEN.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { readinessSchema, type Readiness } from '../readiness.js';

export interface ReadinessRoutesOptions {
  check: () => Promise<Readiness>;
  mayObserve: (request: FastifyRequest) => boolean;
}

export const readinessRoutes: FastifyPluginAsync<ReadinessRoutesOptions> = async (fastify, { check, mayObserve }) => {
  fastify.get('/readyz', { config: { access: 'public' }, schema: { response: { 200: readinessSchema, 503: readinessSchema } } }, async (request, reply) => {
    const result = await check();
    const { status, failed, warnings } = result;
    return reply.code(status === 'ready' ? 200 : 503).send(mayObserve(request) ? result : { status, failed, warnings });
  });
};
