// The ops server's one error body, `{ error, message }`: the HTTP reason phrase and a sentence saying what to do.
import { STATUS_CODES } from 'node:http';
import type { FastifyInstance, FastifyReply } from 'fastify';

export const errorBodySchema = {
  type: 'object',
  properties: { error: { type: 'string' }, message: { type: 'string' } },
  required: ['error', 'message'],
} as const;

export function errorBody(status: number, message: string): { error: string; message: string } {
  return { error: STATUS_CODES[status] ?? 'Error', message };
}

export function sendError(reply: FastifyReply, status: number, message: string): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').send(errorBody(status, message));
}

/** One 404 for every unknown path, and errors that tell the caller nothing of the server's inside. */
export function registerErrorShape(fastify: FastifyInstance, routesHint: string): void {
  fastify.setNotFoundHandler((request, reply) => {
    sendError(reply, 404, `No route ${request.method} ${request.url.split('?', 1)[0]!.slice(0, 200)} on the ops server; it serves ${routesHint}`);
  });
  fastify.setErrorHandler((error: { statusCode?: number; message?: string }, request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) request.log.error({ err: error }, 'ops route failed');
    // A client error's message is Fastify's own (bad header, bad JSON); a server error's could hold anything.
    sendError(reply, status, status === 500 ? 'The ops server failed to answer; the error was logged.' : (error.message ?? 'Bad request'));
  });
}
