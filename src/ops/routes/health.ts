// GET /healthz: liveness. The process answers, nothing more: public, for the orchestrator.
import type { FastifyPluginAsync } from 'fastify';

export const healthRoutes: FastifyPluginAsync = async (fastify) => {
  fastify.get(
    '/healthz',
    {
      config: { access: 'public' },
      schema: { response: { 200: { type: 'object', properties: { status: { type: 'string', enum: ['ok'] } }, required: ['status'] } } },
    },
    async () => ({ status: 'ok' as const }),
  );
};
