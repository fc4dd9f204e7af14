// The telemetry seam: handlers and the segment pipeline report spans through this interface, so the
// server runs the same with Sentry (telemetry/sentry-telemetry.ts) or with nothing (noopTelemetry).
import type { ClientEventName, ErrorCode } from '../protocol/index.js';

export type SpanAttributes = Record<string, string | number | boolean | undefined>;

/** A span that is running: more data can be added as it is learnt. */
export interface SpanHandle {
  setAttributes(attributes: SpanAttributes): void;
}

/** One client event being handled (a Sentry transaction, op "websocket"). */
export interface EventTrace {
  /** Runs `fn` as a child span of this event (nested under the span active where it is called). */
  span<T>(op: string, name: string, attributes: SpanAttributes, fn: (span: SpanHandle) => Promise<T> | T): Promise<T>;
  /** Data for the event's root span. */
  setAttributes(attributes: SpanAttributes): void;
  /** The session this event belongs to, once known (start_session learns it late). */
  setSession(sessionId: string): void;
  /** The event was refused for bad input: a non-ok status, not an exception. */
  refuse(code: ErrorCode): void;
  /** Something failed on the server's side (engine, store, bug): captured with the session's context and its wire code. */
  fail(error: unknown): void;
}

/** What telemetry may know of the socket: never the auth token. */
export interface EventOrigin {
  socketId: string;
  /** `sentry-trace` and `baggage` from the handshake auth, to continue a client's trace. */
  traceHeaders?: { sentryTrace?: string; baggage?: string };
}

export interface Telemetry {
  /** Runs a client event's handler inside its own root span. */
  event<T>(event: ClientEventName, origin: EventOrigin, sessionId: string | undefined, fn: (trace: EventTrace) => Promise<T>): Promise<T>;
  /** A segment of the session was cut: its next events may start a new trace, linked to this one. */
  segmentCut(sessionId: string): void;
  /** Forgets per-session state (trace ids) once a session ends. */
  sessionEnded(sessionId: string): void;
}

const noopSpan: SpanHandle = { setAttributes: () => {} };

/** Runs work that has no span, as a promise like a traced span's (a throw becomes a rejection), without a tick. */
export function runUntraced<T>(fn: (span: SpanHandle) => Promise<T> | T): Promise<T> {
  try {
    return Promise.resolve(fn(noopSpan));
  } catch (error) {
    return Promise.reject(error);
  }
}

const noopTrace: EventTrace = {
  span: (_op, _name, _attributes, fn) => runUntraced(fn),
  setAttributes: () => {},
  setSession: () => {},
  refuse: () => {},
  fail: () => {},
};

export const noopTelemetry: Telemetry = {
  event: (_event, _origin, _sessionId, fn) => fn(noopTrace),
  segmentCut: () => {},
  sessionEnded: () => {},
};
