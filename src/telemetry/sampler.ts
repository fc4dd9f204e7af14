// Which root spans are traced: probes never, the ops performance test always, and transcription sessions whole
// (every event of a session shares one decision) at the configured rate. The decision is the server's: a client's
// trace headers link its trace but their sampled flag counts only with SENTRY_TRUST_CLIENT_SAMPLING=true.
import { createHmac, randomBytes } from 'node:crypto';
import type { NodeOptions } from '@sentry/node';

type TracesSampler = NonNullable<NodeOptions['tracesSampler']>;
type SamplingContext = Parameters<TracesSampler>[0];

/** Probed every few seconds by orchestrators: tracing them would drown the real traffic. */
export const UNTRACED_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz']);
/** Exists to produce a transaction on demand, so it is always kept. */
export const ALWAYS_TRACED_PATHS: ReadonlySet<string> = new Set(['/ops/test-sentry-performance']);
/** Socket.IO's own transport requests (long-polls): the events they carry get their own transactions. */
const TRANSPORT_PREFIX = '/socket.io/';

/** True for incoming requests that never get a span at all (see httpIntegration's ignoreIncomingRequests). */
export function isUntracedRequest(urlPath: string): boolean {
  const path = pathOf(urlPath);
  return UNTRACED_PATHS.has(path) || path.startsWith(TRANSPORT_PREFIX);
}

/**
 * A session's fixed random number in [0, 1) for sampling: the SDK samples a root span when it is below the rate, so
 * every event of the session gets the same decision without shared state. Keyed (HMAC) with SENTRY_SAMPLING_SECRET,
 * so a client cannot pick session ids that are always sampled; processes sharing the secret decide alike (a session
 * resumed on another node or after a restart). Without a secret the key is random per process.
 */
export function sessionSampler(secret: string | undefined): (sessionId: string) => number {
  const key = secret ? `sentry-sample:${secret}` : randomBytes(32);
  return (sessionId) => {
    const digest = createHmac('sha256', key).update(sessionId).digest();
    // 48 bits are exact in a double and plenty for a sampling threshold.
    return digest.readUIntBE(0, 6) / 2 ** 48;
  };
}

export interface TracesSamplerOptions {
  /** SENTRY_TRUST_CLIENT_SAMPLING: an incoming request's sentry-trace sampled flag decides (default: the rate does). */
  trustClientSampling?: boolean;
  /** For tests: the draw for requests whose client sent a decision (its sample_rand may be chosen too). */
  random?: () => number;
}

/** The tracesSampler for Sentry.init. */
export function createTracesSampler(rate: number, options: TracesSamplerOptions = {}): TracesSampler {
  const random = options.random ?? Math.random;
  return (context: SamplingContext) => {
    const path = requestPath(context);
    if (path !== undefined) {
      if (isUntracedRequest(path)) return 0;
      if (ALWAYS_TRACED_PATHS.has(path)) return 1;
      // An HTTP request continuing a client's trace: both its sampled flag and the sample_rand the SDK compares the
      // rate with come from the client's headers, so the server draws for itself.
      if (!options.trustClientSampling && (typeof context.parentSampled === 'boolean' || carriesTrace(context))) return random() < rate;
    }
    // Websocket events: telemetry gives the session's own decision as the parent's (a client's only when trusted).
    if (typeof context.parentSampled === 'boolean') return context.parentSampled;
    // New sessions: the SDK compares `rate` with the session's sample_rand (sessionSampler) set by telemetry.
    return rate;
  };
}

/** The URL path of an HTTP server span being sampled, or undefined for other root spans (websocket events). */
function requestPath(context: SamplingContext): string | undefined {
  const attributes = context.attributes ?? {};
  for (const value of [context.normalizedRequest?.url, attributes['url.path'], attributes['http.target'], attributes['http.route']]) {
    if (typeof value === 'string' && value !== '') return pathOf(value);
  }
  // HTTP server spans are named "<METHOD> <path>".
  const match = /^(?:GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) (\/\S*)$/.exec(context.name ?? '');
  return match ? pathOf(match[1]!) : undefined;
}

/** The request came with trace headers of its own (whose sample_rand, even without a sampled flag, is the client's). */
function carriesTrace(context: SamplingContext): boolean {
  const headers = context.normalizedRequest?.headers ?? {};
  return ['sentry-trace', 'baggage', 'traceparent'].some((name) => headers[name] !== undefined);
}

function pathOf(url: string): string {
  try {
    return new URL(url, 'http://localhost').pathname;
  } catch {
    return url.split('?')[0] ?? url;
  }
}
