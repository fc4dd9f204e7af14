// The /transcription namespace: handshake checks (src/auth), one bound handler per client event, cleanup on disconnect.
import type { Namespace, Server } from 'socket.io';
import { grantOf, type Middleware } from '../auth/handshake-auth.js';
import { allowanceFor } from '../limits/connection-allowance.js';
import { throttleConnection, type ThrottleSettings } from '../limits/connection-throttle.js';
import { ErrorCode, NAMESPACE, type ClientToServerEvents, type HandshakeAuth, type ServerToClientEvents } from '../protocol/index.js';
import type { ResultSink } from '../sessions/session-runtime.js';
import type { EventOrigin } from '../telemetry/telemetry.js';
import { toWireError } from '../errors/wire-errors.js';
import { audioChunk } from './audio-chunk.js';
import { endSession } from './end-session.js';
import { bindHandler, type HandlerContext } from './handler.js';
import { startSession } from './start-session.js';

/** Who may connect (the handshake middleware, in order) and what each connection may hold. */
export interface HandshakeAccess {
  handshake: Middleware[];
  allowance: { maxSessionsPerConnection: number; maxChunksInFlight: number } & Partial<ThrottleSettings>;
}

/**
 * A refused ack's retry hint (0 when it gives none), undefined when the event was accepted. Every refusal counts
 * for the flood guard, not only RATE_LIMITED: a flood of SEQ_GAP or TOO_MANY_SESSIONS costs a read and an answer each.
 */
function refusalRetry(response: unknown): number | undefined {
  const refused = response as { ok?: boolean; error?: { retry_after_ms?: number } };
  return refused.ok === false ? (refused.error?.retry_after_ms ?? 0) : undefined;
}

export function registerTranscriptionNamespace(io: Server, context: HandlerContext, access: HandshakeAccess): void {
  const namespace: Namespace<ClientToServerEvents, ServerToClientEvents> = io.of(NAMESPACE);

  for (const middleware of access.handshake) namespace.use(middleware);

  namespace.on('connection', (socket) => {
    const auth = (socket.handshake.auth ?? {}) as HandshakeAuth;
    // Only the trace headers reach telemetry: never the token.
    const origin: EventOrigin = {
      socketId: socket.id,
      traceHeaders:
        typeof auth['sentry-trace'] === 'string'
          ? { sentryTrace: auth['sentry-trace'], baggage: typeof auth.baggage === 'string' ? auth.baggage : undefined }
          : undefined,
    };
    const sink: ResultSink = {
      result: (result) => socket.emit('transcription_result', result),
      utteranceEnd: (event) => socket.emit('utterance_end', event),
      error: (sessionId, error) => socket.emit('transcription_error', { session_id: sessionId, ...toWireError(error) }),
    };
    // What this connection may hold: the server's limits, lowered by its client token's.
    const allowance = allowanceFor(grantOf(socket), access.allowance);
    context.metrics.connectionOpened();
    // A connection that keeps sending past its refusals stops being read, then is closed (src/limits/flood-guard.ts).
    const throttle = throttleConnection(
      socket,
      { maxChunksInFlight: allowance.maxInFlight, floodPauseMs: access.allowance.floodPauseMs ?? 0, floodMaxPauses: access.allowance.floodMaxPauses ?? 0 },
      () => allowance.inFlight,
      context.logger,
    );
    const answered = throttle && ((response: unknown) => throttle.answered(refusalRetry(response)));
    bindHandler(socket, 'start_session', startSession, origin, sink, context, allowance, answered);
    bindHandler(socket, 'audio_chunk', audioChunk, origin, sink, context, allowance, answered);
    bindHandler(socket, 'end_session', endSession, origin, sink, context, allowance, answered);
    socket.on('disconnect', () => {
      context.sessions.disconnected(sink);
      context.metrics.connectionClosed();
    });
  });
}
