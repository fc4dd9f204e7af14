// The /transcription namespace: handshake auth, one bound handler per client event, cleanup on disconnect.
import { timingSafeEqual } from 'node:crypto';
import type { Namespace, Server } from 'socket.io';
import { NAMESPACE, type ClientToServerEvents, type HandshakeAuth, type ServerToClientEvents } from '../protocol/index.js';
import type { ResultSink } from '../sessions/session-runtime.js';
import type { EventOrigin } from '../telemetry/telemetry.js';
import { toWireError } from '../errors/wire-errors.js';
import { audioChunk } from './audio-chunk.js';
import { endSession } from './end-session.js';
import { bindHandler, type HandlerContext } from './handler.js';
import { startSession } from './start-session.js';

function tokenMatches(expected: string, given: unknown): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Who may connect: today one shared AUTH_TOKEN, when set. */
export interface HandshakeAccess {
  authToken: string | undefined;
}

export function registerTranscriptionNamespace(io: Server, context: HandlerContext, access: HandshakeAccess): void {
  const namespace: Namespace<ClientToServerEvents, ServerToClientEvents> = io.of(NAMESPACE);

  const { authToken } = access;
  if (authToken) {
    namespace.use((socket, next) => {
      const auth = (socket.handshake.auth ?? {}) as HandshakeAuth;
      if (tokenMatches(authToken, auth.token)) return next();
      next(new Error('UNAUTHORIZED: pass the server AUTH_TOKEN as auth.token in the Socket.IO handshake'));
    });
  }

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
      error: (sessionId, error) => socket.emit('transcription_error', { session_id: sessionId, ...toWireError(error) }),
    };
    context.metrics.connectionOpened();
    bindHandler(socket, 'start_session', startSession, origin, sink, context);
    bindHandler(socket, 'audio_chunk', audioChunk, origin, sink, context);
    bindHandler(socket, 'end_session', endSession, origin, sink, context);
    socket.on('disconnect', () => {
      context.sessions.disconnected(sink);
      context.metrics.connectionClosed();
    });
  });
}
