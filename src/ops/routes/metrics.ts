// GET /metrics: the Prometheus text of this process's registry, or of the cluster primary's aggregate.
import type { FastifyPluginAsync } from 'fastify';
import type { MetricsSource } from '../../metrics/metrics-source.js';

export const metricsRoutes: FastifyPluginAsync<{ source: MetricsSource }> = async (fastify, { source }) => {
  fastify.get('/metrics', { config: { access: 'observe' } }, async (_request, reply) => {
    const text = await source.metrics();
    return reply.type(source.contentType).send(text);
  });
};
