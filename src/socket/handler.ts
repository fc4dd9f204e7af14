// Runs each client event inside its telemetry span and turns every outcome into exactly one ack.
import type { Logger } from 'pino';
import type { Socket } from 'socket.io';
import { toWireError } from '../errors/wire-errors.js';
import type { ConnectionAllowance } from '../limits/connection-allowance.js';
import type { ServerMetrics } from '../metrics/metrics.js';
import { isClientFault, type ClientEventName, type ClientToServerEvents, type Refused, type ServerToClientEvents } from '../protocol/index.js';
import type { ModelPolicy } from '../sessions/allowed-models.js';
import type { ResultSink } from '../sessions/session-runtime.js';
import type { Sessions } from '../sessions/sessions.js';
import type { EventOrigin, EventTrace, Telemetry } from '../telemetry/telemetry.js';

export type TranscriptionSocket = Socket<ClientToServerEvents, ServerToClientEvents>;

/** What every handler may use; built once by the composition root. */
export interface HandlerContext {
  sessions: Sessions;
  /** Largest audio_chunk accepted, in bytes. */
  maxChunkBytes: number;
  /** Interim results: the interval when a session asks for them without one, and the bounds a session may ask. */
  interim: { defaultMs: number; minMs: number; maxMs: number };
  /** Models sessions may use (ALLOWED_MODELS, or the engine's own). */
  models: ModelPolicy;
  telemetry: Telemetry;
  metrics: ServerMetrics;
  logger: Logger;
}

type AckOf<E extends ClientEventName> = Parameters<Parameters<ClientToServerEvents[E]>[1]>[0];

export interface EventCall<E extends ClientEventName> {
  trace: EventTrace;
  /** Sends the ack; work after it (transcription) still belongs to the event's span. */
  reply: (response: AckOf<E>) => void;
  /** Where this connection's results go. */
  sink: ResultSink;
  /** What this connection may hold (server limits lowered by its client token). */
  allowance: ConnectionAllowance;
  context: HandlerContext;
}

/** A handler validates its own payload (it arrives as the client sent it) and throws to refuse. */
export type EventHandler<E extends ClientEventName> = (payload: unknown, call: EventCall<E>) => Promise<void>;

function sessionIdOf(payload: unknown): string | undefined {
  const id = (payload as { session_id?: unknown } | null)?.session_id;
  return typeof id === 'string' ? id : undefined;
}

export function bindHandler<E extends ClientEventName>(
  socket: TranscriptionSocket,
  event: E,
  handler: EventHandler<E>,
  origin: EventOrigin,
  sink: ResultSink,
  context: HandlerContext,
  allowance: ConnectionAllowance,
  /** Told of every ack sent (the flood guard watches audio_chunk refusals). */
  onAnswered?: (response: AckOf<E>) => void,
): void {
  const { telemetry, metrics, logger } = context;
  // Listen untyped: clients may send anything, including no payload or no ack callback.
  (socket as unknown as { on(event: string, listener: (...args: unknown[]) => void): void }).on(event, (...args: unknown[]) => {
    const receivedAt = performance.now();
    const last = args[args.length - 1];
    const ack = typeof last === 'function' ? (last as (response: unknown) => void) : undefined;
    const payload = ack ? (args.length > 1 ? args[0] : undefined) : args[0];
    let replied = false;
    const reply = (response: AckOf<E>) => {
      if (replied) return;
      replied = true;
      const refusal = (response as { ok: boolean }).ok ? undefined : (response as Refused).error.code;
      metrics.eventHandled(event, (performance.now() - receivedAt) / 1000, refusal);
      ack?.(response);
      onAnswered?.(response);
    };
    void telemetry
      .event(event, origin, sessionIdOf(payload), async (trace) => {
        try {
          await handler(payload, { trace, reply, sink, allowance, context });
        } catch (error) {
          const refusal = toWireError(error, event);
          if (isClientFault(refusal.code)) trace.refuse(refusal.code);
          else {
            trace.fail(error);
            logger.error({ event, session_id: sessionIdOf(payload), err: error }, 'event failed');
          }
          reply({ ok: false, error: refusal } as AckOf<E>);
        }
      })
      .catch((error: unknown) => logger.error({ event, err: error }, 'telemetry failed around an event'));
  });
}
