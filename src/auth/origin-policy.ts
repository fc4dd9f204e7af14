// Which web origins may open a connection: ALLOWED_ORIGINS when set, else any origin in development and the page's
// own origin only in production. Requests without an Origin header (native apps, servers) are not affected.
import type { IncomingMessage } from 'node:http';

export interface OriginPolicyOptions {
  allowedOrigins: readonly string[];
  production: boolean;
  /** Compare with X-Forwarded-Host (set by the proxy) instead of Host. */
  trustProxy: boolean;
}

/** "https://App.example.com/" and "https://app.example.com" are the same origin. */
function normalize(origin: string): string {
  return origin.trim().replace(/\/+$/, '').toLowerCase();
}

function hostOf(origin: string): string | undefined {
  try {
    return new URL(origin).host.toLowerCase();
  } catch {
    return undefined;
  }
}

export interface OriginPolicy {
  /** True when a request with this Origin (undefined = none) to this Host may connect. */
  allows(origin: string | undefined, host: string | undefined): boolean;
  /** Socket.IO's `allowRequest`: runs on every new connection, polling or websocket, before any session work. */
  allowRequest(request: IncomingMessage, callback: (message: string | null | undefined, success: boolean) => void): void;
  /** Socket.IO's `cors.origin`: which origins browsers may read polling answers from. */
  corsOrigin: boolean | string[];
}

export function createOriginPolicy(options: OriginPolicyOptions): OriginPolicy {
  const listed = new Set(options.allowedOrigins.map(normalize));
  const anyListed = listed.has('*');
  const sameOriginOnly = listed.size === 0 && options.production;
  const anyOrigin = anyListed || (listed.size === 0 && !options.production);

  const allows = (origin: string | undefined, host: string | undefined): boolean => {
    if (origin === undefined) return true;
    if (anyOrigin) return true;
    if (sameOriginOnly) return host !== undefined && hostOf(origin) === host.toLowerCase();
    return listed.has(normalize(origin));
  };

  const requestHost = (request: IncomingMessage): string | undefined => {
    const forwarded = options.trustProxy ? request.headers['x-forwarded-host'] : undefined;
    const value = (Array.isArray(forwarded) ? forwarded[0] : forwarded) ?? request.headers.host;
    return value?.split(',')[0]!.trim();
  };

  return {
    allows,
    allowRequest(request, callback) {
      const origin = request.headers.origin;
      if (allows(origin, requestHost(request))) return callback(null, true);
      const fix = sameOriginOnly
        ? 'only the server\'s own origin is allowed in production; add the page\'s origin to ALLOWED_ORIGINS'
        : 'add it to ALLOWED_ORIGINS on the server';
      // The origin is echoed in a fixed form: it came from the client, so it is cut short and never trusted as HTML.
      callback(`ORIGIN_NOT_ALLOWED: origin ${JSON.stringify(String(origin).slice(0, 200))} may not connect; ${fix}`, false);
    },
    corsOrigin: anyOrigin ? true : sameOriginOnly ? false : [...listed],
  };
}
