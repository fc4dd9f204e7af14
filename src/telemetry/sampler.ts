// Which root spans are traced: probes never, the ops performance test always, a parent's decision as given,
// and transcription sessions whole (every event of a session shares one decision) at the configured rate.
import { createHash } from 'node:crypto';
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
 * A session's fixed random number in [0, 1) for sampling, derived from its id: the SDK samples a root span
 * when this is below the rate, so every event of the session, in any process and after restarts, gets the
 * same decision without any shared state.
 */
export function sessionSampleRand(sessionId: string): number {
  const digest = createHash('sha256').update(`sentry-sample:${sessionId}`).digest();
  // 48 bits are exact in a double and plenty for a sampling threshold.
  return digest.readUIntBE(0, 6) / 2 ** 48;
}

/** The tracesSampler for Sentry.init. */
export function createTracesSampler(rate: number): TracesSampler {
  return (context: SamplingContext) => {
    const path = requestPath(context);
    if (path !== undefined) {
      if (isUntracedRequest(path)) return 0;
      if (ALWAYS_TRACED_PATHS.has(path)) return 1;
    }
    // A client's trace (handshake sentry-trace) or the session's first event already decided.
    if (typeof context.parentSampled === 'boolean') return context.parentSampled;
    // New sessions: the SDK compares `rate` with the session's sample_rand (sessionSampleRand) set by telemetry.
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

function pathOf(url: string): string {
  try {
    return new URL(url, 'http://localhost').pathname;
  } catch {
    return url.split('?')[0] ?? url;
  }
}
