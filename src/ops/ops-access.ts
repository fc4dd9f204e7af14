// Who may use each ops route. Every route declares its access in its own options (`config.access`) and one hook
// enforces it on the route Fastify matched, so no spelling of a path (percent-encoding, absolute form, HEAD) can
// reach a route without its check. A route that declares nothing cannot be registered.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { constantTimeEquals } from '../auth/constant-time.js';
import { sendError } from './error-shape.js';

/**
 * public: anyone (probes, the dashboard's own files).
 * observe: read-only data (metrics, dashboard data): OPS_TOKEN when it is set.
 * operate: actions that spend (the performance test): OPS_TOKEN when it is set, and off in production without one.
 */
export type OpsAccess = 'public' | 'observe' | 'operate';

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: OpsAccess;
  }
}

export interface OpsAccessOptions {
  opsToken: string | undefined;
  production: boolean;
  logger?: Logger;
}

export interface DeclaredRoute {
  method: string;
  url: string;
  access: OpsAccess;
}

export interface OpsAccessControl {
  /** Whether this request may see internal detail (readiness errors): it holds OPS_TOKEN, or none is needed. */
  mayObserve(request: FastifyRequest): boolean;
  /** Every route registered so far with the access it declared (HEAD twins included). */
  readonly routes: readonly DeclaredRoute[];
}

/** Installs the access hook on `fastify` (call before registering routes); returns the check for handlers' own use. */
export function registerOpsAccess(fastify: FastifyInstance, { opsToken, production, logger }: OpsAccessOptions): OpsAccessControl {
  const operateOff = production && !opsToken;
  if (operateOff) {
    logger?.warn('/ops/* is off: NODE_ENV=production and no OPS_TOKEN; set OPS_TOKEN to turn it on (callers then send "Authorization: Bearer <OPS_TOKEN>")');
  }

  const holdsToken = (request: FastifyRequest): boolean => {
    const header = request.headers.authorization;
    if (!opsToken || typeof header !== 'string' || !header.startsWith('Bearer ')) return false;
    return constantTimeEquals(opsToken, header.slice('Bearer '.length));
  };

  const routes: DeclaredRoute[] = [];
  fastify.addHook('onRoute', (route) => {
    const access = route.config?.access;
    if (access !== 'public' && access !== 'observe' && access !== 'operate') {
      throw new Error(`ops route ${String(route.method)} ${route.url} declares no access (config.access: public, observe or operate)`);
    }
    for (const method of [route.method].flat()) routes.push({ method, url: route.url, access });
  });

  fastify.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    // Unmatched paths go to the one 404; a matched route always has its declared access (onRoute above).
    if (request.is404) return;
    const access = request.routeOptions.config.access;
    if (access === 'public') return;
    if (access === 'operate' && operateOff) {
      return sendError(reply, 404, '/ops/* is off in production without OPS_TOKEN; set OPS_TOKEN on the server to turn it on');
    }
    if (opsToken && !holdsToken(request)) {
      return sendError(reply, 401, 'Pass the server OPS_TOKEN as "Authorization: Bearer <OPS_TOKEN>"');
    }
  });

  return { mayObserve: (request) => (opsToken ? holdsToken(request) : !production), routes };
}
