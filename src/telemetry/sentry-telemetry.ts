// The telemetry seam on Sentry: each client event is a root span (transaction, op "websocket") in its own
// isolation scope, all events of a session share one trace and one sampling decision, and failures are captured.
import { randomUUID } from 'node:crypto';
import * as Sentry from '@sentry/node';
import { wireCodeOf } from '../errors/wire-errors.js';
import { ErrorCode, NAMESPACE, type ClientEventName } from '../protocol/index.js';
import { sessionSampleRand } from './sampler.js';
import { noopTelemetry, runUntraced, type EventOrigin, type EventTrace, type SpanAttributes, type SpanHandle, type Telemetry } from './telemetry.js';

type Span = Sentry.Span;
type PropagationContext = ReturnType<Sentry.Scope['getPropagationContext']>;
type Primitive = string | number | boolean;

const TRANSACTION_NAMES: Record<ClientEventName, string> = {
  start_session: 'start_session_handler',
  audio_chunk: 'audio_chunk_handler',
  end_session: 'end_session_handler',
};

/** Span attributes whose values are few (engine, model, language): also set as tags, so they can be filtered on. */
const TAG_ATTRIBUTES: Record<string, string> = { 'engine.name': 'engine', 'engine.model': 'model', 'engine.language': 'language' };

/** Sentry's canonical span statuses for each protocol code, so the Performance views count them right. */
const STATUS_OF: Record<ErrorCode, string> = {
  INVALID_PAYLOAD: 'invalid_argument',
  UNSUPPORTED_FORMAT: 'invalid_argument',
  INVALID_AUDIO: 'invalid_argument',
  CHUNK_TOO_LARGE: 'out_of_range',
  UNKNOWN_SESSION: 'not_found',
  SESSION_ENDED: 'failed_precondition',
  SEQ_GAP: 'failed_precondition',
  BUFFER_FULL: 'resource_exhausted',
  ENGINE_ERROR: 'internal_error',
  STORE_UNAVAILABLE: 'unavailable',
  OVERLOADED: 'resource_exhausted',
  RATE_LIMITED: 'resource_exhausted',
  TOO_MANY_SESSIONS: 'resource_exhausted',
  SESSION_TIME_LIMIT: 'out_of_range',
  SERVER_DRAINING: 'unavailable',
  INTERNAL_ERROR: 'internal_error',
};
const SPAN_STATUS_ERROR = 2;

/** What this process remembers of a session so that later events join its trace. */
interface SessionTrace {
  /** Where every later event starts from: the session's trace id, parent span and sampling decision. */
  context: PropagationContext;
  sampled: boolean;
  /** Low-cardinality facts learnt from its spans (engine, model, language), tagged on later events too. */
  tags: Record<string, Primitive>;
}

export interface SentryTelemetryOptions {
  /** Tags every event carries, e.g. the engine and its default model. */
  tags?: Record<string, Primitive>;
  /** Sessions remembered at once; the least recently active are forgotten first (ones that never ended). */
  maxSessions?: number;
}

function definedAttributes(attributes: SpanAttributes): Record<string, Primitive> {
  const out: Record<string, Primitive> = {};
  for (const [key, value] of Object.entries(attributes)) if (value !== undefined) out[key] = value;
  return out;
}

/**
 * Tags an event's isolation scope. The same values go on as scope attributes, which the stream lifecycle (v2
 * spans have no tags) puts on every span of the event; the static lifecycle sends the tags.
 */
function tag(scope: Sentry.Scope, tags: Record<string, Primitive>): void {
  scope.setTags(tags);
  scope.setAttributes(tags);
}

function statusFor(code: string | undefined): string {
  return (code && STATUS_OF[code as ErrorCode]) || 'internal_error';
}


/** A span that has not ended yet (a sampled span stops recording when it ends). */
function isOpen(span: Span | undefined): span is Span {
  return span !== undefined && span.isRecording();
}

export function createSentryTelemetry(options: SentryTelemetryOptions = {}): Telemetry {
  const baseTags: Record<string, Primitive> = { namespace: NAMESPACE, ...options.tags };
  const maxSessions = options.maxSessions ?? 10_000;
  const sessions = new Map<string, SessionTrace>();

  function recall(sessionId: string | undefined): SessionTrace | undefined {
    if (sessionId === undefined) return undefined;
    const known = sessions.get(sessionId);
    if (known) {
      // Map order is recency order: re-inserting keeps active sessions away from eviction.
      sessions.delete(sessionId);
      sessions.set(sessionId, known);
    }
    return known;
  }

  function remember(sessionId: string, session: SessionTrace): void {
    sessions.set(sessionId, session);
    if (sessions.size > maxSessions) sessions.delete(sessions.keys().next().value!);
  }

  /** The first event of a session: the client's trace when it sent one, else a new trace sampled by session id. */
  function firstContext(origin: EventOrigin, sessionId: string | undefined): PropagationContext {
    const headers = origin.traceHeaders;
    if (headers?.sentryTrace) {
      return Sentry.continueTrace({ sentryTrace: headers.sentryTrace, baggage: headers.baggage }, () => ({
        ...Sentry.getCurrentScope().getPropagationContext(),
      }));
    }
    return { traceId: randomUUID().replace(/-/g, ''), sampleRand: sessionId ? sessionSampleRand(sessionId) : Math.random() };
  }

  /** Later events continue the client's trace as given, or hang under the session's first transaction. */
  function sessionFrom(root: Span, origin: EventOrigin, first: PropagationContext, tags: Record<string, Primitive>): SessionTrace {
    const sampled = root.spanContext().traceFlags === 1;
    const context = origin.traceHeaders?.sentryTrace
      ? first
      : Sentry.continueTrace({ sentryTrace: Sentry.spanToTraceHeader(root), baggage: Sentry.spanToBaggageHeader(root) }, () => ({
          ...Sentry.getCurrentScope().getPropagationContext(),
        }));
    return { context, sampled, tags };
  }

  return {
    event(event, origin, sessionId, fn) {
      const known = recall(sessionId);
      const name = TRANSACTION_NAMES[event];
      if (known && !known.sampled) {
        // An unsampled session: no spans at all (none under a transport request's span either), only failures
        // are captured, in a scope of their own, linked to the session's trace. Nothing else runs per event.
        const trace = new UnsampledEventTrace(event, origin, sessionId, known, baseTags);
        // Forking a scope per event only matters when a span is active (a long-polling request's).
        return Sentry.getActiveSpan() ? Sentry.withActiveSpan(null, () => fn(trace)) : fn(trace);
      }
      // Each event gets a fresh isolation scope: tags, contexts and breadcrumbs never leak between sockets.
      return Sentry.withIsolationScope(new Sentry.Scope(), (isolationScope) => {
        tag(isolationScope, { ...baseTags, event, ...known?.tags });
        return Sentry.withActiveSpan(null, (scope) => {
          const first = known ? undefined : firstContext(origin, sessionId);
          scope.setPropagationContext({ ...(known ? known.context : first!) });
          const attributes: Record<string, Primitive> = { 'websocket.event': event, 'socket.id': origin.socketId };
          if (sessionId !== undefined) attributes['session.id'] = sessionId;
          return Sentry.startSpan({ name, op: 'websocket', attributes }, (root) => {
            const trace = new SentryEventTrace(event, origin, sessionId, root, Sentry.getCurrentScope(), isolationScope, known?.tags ?? {});
            if (!known && first) {
              trace.onSession = (id) => {
                if (!sessions.has(id)) remember(id, sessionFrom(root, origin, first, trace.tags));
              };
              if (sessionId !== undefined) trace.onSession(sessionId);
            }
            return fn(trace);
          });
        });
      });
    },
    segmentCut() {},
    sessionEnded(sessionId) {
      sessions.delete(sessionId);
    },
  };
}

/** One sampled client event: its root span, and the scopes its child spans and captured errors belong to. */
class SentryEventTrace implements EventTrace {
  /** Called once the event's session is known, so later events join this trace. */
  onSession: ((sessionId: string) => void) | undefined;
  private captured = false;

  constructor(
    private readonly event: ClientEventName,
    private readonly origin: EventOrigin,
    private sessionId: string | undefined,
    private readonly root: Span,
    private readonly scope: Sentry.Scope,
    private readonly isolationScope: Sentry.Scope,
    /** The session's tags, shared with its remembered state: what one event learns, later events carry. */
    readonly tags: Record<string, Primitive>,
  ) {}

  span<T>(op: string, name: string, attributes: SpanAttributes, fn: (span: SpanHandle) => Promise<T> | T): Promise<T> {
    const parentSpan = this.parent();
    if (!parentSpan) return runUntraced(fn);
    this.learnTags(attributes);
    // The segment queue may run this from another event's async context: parent, scope and isolation scope
    // are this event's, explicitly.
    return Sentry.withIsolationScope(this.isolationScope, () =>
      Sentry.startSpan({ op, name, attributes: definedAttributes(attributes), parentSpan, scope: this.scope }, async (span) => {
        try {
          return await fn({
            setAttributes: (more) => {
              span.setAttributes(definedAttributes(more));
              this.learnTags(more);
            },
          });
        } catch (error) {
          // A refusal inside a span is the client's input, not a crash: say which.
          span.setStatus({ code: SPAN_STATUS_ERROR, message: statusFor(wireCodeOf(error)) });
          throw error;
        }
      }),
    );
  }

  setAttributes(attributes: SpanAttributes): void {
    this.root.setAttributes(definedAttributes(attributes));
  }

  setSession(sessionId: string): void {
    this.sessionId = sessionId;
    this.root.setAttribute('session.id', sessionId);
    this.onSession?.(sessionId);
  }

  refuse(code: ErrorCode): void {
    this.markFailed(code);
  }

  fail(error: unknown): void {
    const code = wireCodeOf(error);
    this.markFailed(code);
    // One captured exception per event: a later fail() for the same event repeats the first cause.
    if (this.captured) return;
    this.captured = true;
    const active = this.parent() ?? this.root;
    Sentry.withIsolationScope(this.isolationScope, () =>
      Sentry.withActiveSpan(active, () => Sentry.captureException(error, captureContext(this.event, this.origin, this.sessionId, code))),
    );
  }

  private markFailed(code: ErrorCode): void {
    this.root.setStatus({ code: SPAN_STATUS_ERROR, message: statusFor(code) });
    this.root.setAttribute('error.code', code);
    tag(this.isolationScope, { 'error.code': code });
  }

  /**
   * The span new work nests under: the span active here when it belongs to this event, else the root. Once
   * the root has ended (a segment retried by a later event) the later event's active span takes the work.
   */
  private parent(): Span | undefined {
    const active = Sentry.getActiveSpan();
    if (isOpen(active) && active !== this.root && Sentry.getRootSpan(active) === this.root) return active;
    if (isOpen(this.root)) return this.root;
    return isOpen(active) ? active : undefined;
  }

  private learnTags(attributes: SpanAttributes): void {
    for (const [attribute, name] of Object.entries(TAG_ATTRIBUTES)) {
      const value = attributes[attribute];
      if (value === undefined) continue;
      this.tags[name] = value;
      tag(this.isolationScope, { [name]: value });
    }
  }
}

/** An event of a session that is not sampled: spans cost nothing, failures are still captured. */
class UnsampledEventTrace implements EventTrace {
  private captured = false;

  constructor(
    private readonly event: ClientEventName,
    private readonly origin: EventOrigin,
    private readonly sessionId: string | undefined,
    private readonly session: SessionTrace,
    private readonly baseTags: Record<string, Primitive>,
  ) {}

  span<T>(_op: string, _name: string, attributes: SpanAttributes, fn: (span: SpanHandle) => Promise<T> | T): Promise<T> {
    for (const [attribute, name] of Object.entries(TAG_ATTRIBUTES)) {
      const value = attributes[attribute];
      if (value !== undefined) this.session.tags[name] = value;
    }
    return runUntraced(fn);
  }

  setAttributes(): void {}
  setSession(): void {}
  refuse(): void {}

  fail(error: unknown): void {
    const code = wireCodeOf(error);
    if (this.captured) return;
    this.captured = true;
    Sentry.withIsolationScope(new Sentry.Scope(), (isolationScope) => {
      tag(isolationScope, { ...this.baseTags, event: this.event, ...this.session.tags, 'error.code': code });
      Sentry.withScope((scope) => {
        scope.setPropagationContext({ ...this.session.context });
        Sentry.captureException(error, captureContext(this.event, this.origin, this.sessionId, code));
      });
    });
  }
}

function captureContext(event: ClientEventName, origin: EventOrigin, sessionId: string | undefined, code: ErrorCode) {
  return {
    tags: { 'error.code': code },
    contexts: { session: { id: sessionId ?? null, event, socket_id: origin.socketId, namespace: NAMESPACE } },
  };
}

/** Sentry telemetry when instrument.ts started Sentry, else the no-op seam (the server runs as without Sentry). */
export function createTelemetry(options: SentryTelemetryOptions = {}): Telemetry {
  return Sentry.getClient() ? createSentryTelemetry(options) : noopTelemetry;
}

/** Sends what is queued before the process exits; resolves at once when Sentry is off. */
export async function flushTelemetry(timeoutMs = 2000): Promise<void> {
  if (Sentry.getClient()) await Sentry.flush(timeoutMs);
}
