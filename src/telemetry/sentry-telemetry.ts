// The telemetry seam on Sentry: each client event is a root span (transaction, op "websocket") in its own
// isolation scope; a session's events form one trace per segment, each trace linked to the one before, all under
// one sampling decision (the server's, unless SENTRY_TRUST_CLIENT_SAMPLING lets a client's trace decide); failures
// are captured.
// Longer than most modules: the sampled and unsampled event traces and the per-session trace state share private
// helpers that Sentry's scope rules make easy to get subtly wrong when spread over files.
import { randomUUID } from 'node:crypto';
import * as Sentry from '@sentry/node';
import { wireCodeOf } from '../errors/wire-errors.js';
import type { ServerMetrics } from '../metrics/metrics.js';
import { ERROR_CATALOGUE, NAMESPACE, type ClientEventName, type ErrorCode } from '../protocol/index.js';
import { onTelemetryDropped } from './dropped-telemetry.js';
import { sessionSampler } from './sampler.js';
import { loadSentrySettings } from './sentry-config.js';
import { noopTelemetry, runUntraced, type EventOrigin, type EventTrace, type SpanAttributes, type SpanHandle, type Telemetry } from './telemetry.js';

type Span = Sentry.Span;
type SpanContext = ReturnType<Span['spanContext']>;
type PropagationContext = ReturnType<Sentry.Scope['getPropagationContext']>;
type Primitive = string | number | boolean;

const TRANSACTION_NAMES: Record<ClientEventName, string> = {
  start_session: 'start_session_handler',
  audio_chunk: 'audio_chunk_handler',
  end_session: 'end_session_handler',
};

/** Span attributes whose values are few (engine, model, language): also set as tags, so they can be filtered on. */
const TAG_ATTRIBUTES: ReadonlyArray<readonly [attribute: string, tag: string]> = [
  ['engine.name', 'engine'],
  ['engine.model', 'model'],
  ['engine.language', 'language'],
];

const SPAN_STATUS_ERROR = 2;

/** What this process remembers of a session so that later events join its current trace. */
interface SessionTrace {
  /** Where every later event starts from: the current trace's id, parent span and sampling decision. */
  context: PropagationContext;
  sampled: boolean;
  /** Low-cardinality facts learnt from its spans (engine, model, language), tagged on later events too. */
  tags: Record<string, Primitive>;
  /** The first transaction of the current trace: the next trace's root links to it. */
  traceRoot: SpanContext | undefined;
  /** Traces of the session so far, the current one included. */
  traces: number;
  /** A segment was cut in the current trace: the session's next event starts a new trace. */
  cut: boolean;
}

/** Marks a span link as pointing at the trace before this one (Sentry's trace view follows it). */
const PREVIOUS_TRACE = { 'sentry.link.type': 'previous_trace' } as const;

export interface SentryTelemetryOptions {
  /** Tags every event carries, e.g. the engine and its default model. */
  tags?: Record<string, Primitive>;
  /** Sessions remembered at once; the least recently active are forgotten first (ones that never ended). */
  maxSessions?: number;
  /** Told of every item Sentry's transport drops (see dropped-telemetry.ts). */
  metrics?: Pick<ServerMetrics, 'telemetryDropped'>;
  /** SENTRY_TRUST_CLIENT_SAMPLING: a client's sentry-trace decides its session's sampling (default: only links it). */
  trustClientSampling?: boolean;
  /** A session's sample_rand (sampler.ts sessionSampler); default: keyed at random for this process. */
  sampleRand?: (sessionId: string) => number;
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

/** Sentry's canonical span status for a protocol code (the catalogue's), so the Performance views count them right. */
function statusFor(code: string | undefined): string {
  return code && code in ERROR_CATALOGUE ? ERROR_CATALOGUE[code as ErrorCode].spanStatus : 'internal_error';
}


/** Where the later events of `root`'s trace start from: hung under it, with its sampling decision. */
function under(root: Span): PropagationContext {
  return Sentry.continueTrace({ sentryTrace: Sentry.spanToTraceHeader(root), baggage: Sentry.spanToBaggageHeader(root) }, () => ({
    ...Sentry.getCurrentScope().getPropagationContext(),
  }));
}

/** A span that has not ended yet (a sampled span stops recording when it ends). */
function isOpen(span: Span | undefined): span is Span {
  return span !== undefined && span.isRecording();
}

export function createSentryTelemetry(options: SentryTelemetryOptions = {}): Telemetry {
  const baseTags: Record<string, Primitive> = { namespace: NAMESPACE, ...options.tags };
  const maxSessions = options.maxSessions ?? 10_000;
  const sessions = new Map<string, SessionTrace>();
  const metrics = options.metrics;
  const trustClientSampling = options.trustClientSampling ?? false;
  const sessionSampleRand = options.sampleRand ?? sessionSampler(undefined);
  if (metrics) onTelemetryDropped((reason, category, count) => metrics.telemetryDropped(reason, category, count));

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

  /**
   * The first event of a session: the client's trace when it sent one, else a new trace; sampled by the session id's
   * keyed hash (or at random before the server names the session), unless a trusted client's trace decided.
   */
  function firstContext(origin: EventOrigin, sessionId: string | undefined): PropagationContext {
    const sampleRand = sessionId ? sessionSampleRand(sessionId) : Math.random();
    const headers = origin.traceHeaders;
    if (headers?.sentryTrace) {
      const client = Sentry.continueTrace({ sentryTrace: headers.sentryTrace, baggage: headers.baggage }, () => ({
        ...Sentry.getCurrentScope().getPropagationContext(),
      }));
      if (trustClientSampling) return client;
      // Linked, not obeyed: the client's trace id and parent span, without its sampled flag or its baggage (whose
      // sample_rand and sample_rate the client chooses too); the SDK then builds the server's own sampling context.
      return { traceId: client.traceId, ...(client.parentSpanId ? { parentSpanId: client.parentSpanId } : {}), sampleRand };
    }
    return { traceId: randomUUID().replace(/-/g, ''), sampleRand };
  }

  /**
   * Later events of the first trace continue a trusted client's trace as given, or hang under the session's first
   * transaction (which is the client span's child when the client sent a trace), with the server's decision.
   */
  function sessionFrom(root: Span, origin: EventOrigin, first: PropagationContext, tags: Record<string, Primitive>): SessionTrace {
    const sampled = root.spanContext().traceFlags === 1;
    const context = origin.traceHeaders?.sentryTrace && trustClientSampling ? first : under(root);
    return { context, sampled, tags, traceRoot: sampled ? root.spanContext() : undefined, traces: 1, cut: false };
  }

  /**
   * A new trace for a sampled session's next segment: a fresh trace id, the session's sampling decision kept as a
   * parent's would be (whatever the rate says now, and also when the client's trace decided it), and the same
   * dynamic sampling context apart from the trace id, so Sentry extrapolates it like the first.
   */
  function nextTrace(session: SessionTrace): PropagationContext {
    const traceId = randomUUID().replace(/-/g, '');
    const dsc = session.context.dsc ? { ...session.context.dsc, trace_id: traceId } : undefined;
    return { traceId, sampleRand: session.context.sampleRand, sampled: true, ...(dsc ? { dsc } : {}) };
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
          // The first event after a cut opens the session's next trace, linked to the current one's root.
          const previous = known?.cut ? known.traceRoot : undefined;
          scope.setPropagationContext({ ...(previous ? nextTrace(known!) : known ? known.context : first!) });
          const attributes: Record<string, Primitive> = { 'websocket.event': event, 'socket.id': origin.socketId };
          if (sessionId !== undefined) attributes['session.id'] = sessionId;
          // Which of the session's traces this is, counted from 0: the order of the previous_trace links.
          attributes['session.trace_index'] = known ? (previous ? known.traces : known.traces - 1) : 0;
          const links = previous ? [{ context: previous, attributes: PREVIOUS_TRACE }] : undefined;
          return Sentry.startSpan({ name, op: 'websocket', attributes, links }, (root) => {
            if (previous) {
              // Synchronously, before any other event of the session starts: they all join this trace.
              known!.context = under(root);
              known!.traceRoot = root.spanContext();
              known!.traces++;
              known!.cut = false;
            }
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
    segmentCut(sessionId) {
      // Not a use of the session: its recency is left as it is.
      const known = sessions.get(sessionId);
      if (known) known.cut = true;
    },
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
  /** This event's child spans that are running, oldest first. */
  private readonly running: Span[] = [];

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
        this.running.push(span);
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
        } finally {
          this.running.splice(this.running.indexOf(span), 1);
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
   * The span new work nests under: the span active here when it belongs to this event; in another event's
   * context (the engine scheduler starts a queued segment from whichever request freed its slot) this event's
   * latest running span; else the root. Once the root has ended (a segment retried by a later event) the later
   * event's active span takes the work.
   */
  private parent(): Span | undefined {
    const active = Sentry.getActiveSpan();
    const ours = isOpen(active) && Sentry.getRootSpan(active) === this.root;
    if (ours && active !== this.root) return active;
    if (!ours) {
      for (let index = this.running.length - 1; index >= 0; index--) if (isOpen(this.running[index])) return this.running[index];
    }
    if (isOpen(this.root)) return this.root;
    return isOpen(active) ? active : undefined;
  }

  private learnTags(attributes: SpanAttributes): void {
    for (const [attribute, name] of TAG_ATTRIBUTES) {
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
    for (const [attribute, name] of TAG_ATTRIBUTES) {
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
  if (!Sentry.getClient()) return noopTelemetry;
  // instrument.ts validated these settings before Sentry started.
  const settings = loadSentrySettings();
  return createSentryTelemetry({ trustClientSampling: settings.trustClientSampling, sampleRand: sessionSampler(settings.samplingSecret), ...options });
}

/** Sends what is queued before the process exits; resolves at once when Sentry is off. */
export async function flushTelemetry(timeoutMs = 2000): Promise<void> {
  if (Sentry.getClient()) await Sentry.flush(timeoutMs);
}
