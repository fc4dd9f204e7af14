// Runs each client event inside its telemetry span and turns every outcome into exactly one ack.
import type { Logger } from 'pino';
import type { Socket } from 'socket.io';
import type { Config } from '../config/config.js';
import type { ClientEventName, ClientToServerEvents, ServerToClientEvents } from '../protocol/index.js';
import type { SessionRegistry } from '../sessions/session-registry.js';
import type { ResultSink } from '../sessions/session-runtime.js';
import type { BufferStore } from '../store/buffer-store.js';
import type { EventOrigin, EventTrace, Telemetry } from '../telemetry/telemetry.js';
import { isClientFault, refused, toProtocolError } from './refusal.js';

export type TranscriptionSocket = Socket<ClientToServerEvents, ServerToClientEvents>;

/** What every handler may use; built once by the composition root. */
export interface HandlerContext {
  config: Config;
  store: BufferStore;
  registry: SessionRegistry;
  telemetry: Telemetry;
  logger: Logger;
}

type AckOf<E extends ClientEventName> = Parameters<Parameters<ClientToServerEvents[E]>[1]>[0];

export interface EventCall<E extends ClientEventName> {
  trace: EventTrace;
  /** Sends the ack; work after it (transcription) still belongs to the event's span. */
  reply: (response: AckOf<E>) => void;
  sink: ResultSink;
  context: HandlerContext;
}

/** A handler validates its own payload (it arrives as the client sent it) and throws ProtocolError to refuse. */
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
): void {
  // Listen untyped: clients may send anything, including no payload or no ack callback.
  (socket as unknown as { on(event: string, listener: (...args: unknown[]) => void): void }).on(event, (...args: unknown[]) => {
    const last = args[args.length - 1];
    const ack = typeof last === 'function' ? (last as (response: unknown) => void) : undefined;
    const payload = ack ? (args.length > 1 ? args[0] : undefined) : args[0];
    let replied = false;
    const reply = (response: AckOf<E>) => {
      if (replied) return;
      replied = true;
      ack?.(response);
    };
    void context.telemetry
      .event(event, origin, sessionIdOf(payload), async (trace) => {
        try {
          await handler(payload, { trace, reply, sink, context });
        } catch (error) {
          const refusal = toProtocolError(error);
          if (isClientFault(refusal.code)) trace.refuse(refusal.code);
          else {
            trace.fail(error, refusal.code);
            context.logger.error({ event, session_id: sessionIdOf(payload), err: error }, 'event failed');
          }
          reply(refused(refusal) as AckOf<E>);
        }
      })
      .catch((error: unknown) => context.logger.error({ event, err: error }, 'telemetry failed around an event'));
  });
}
