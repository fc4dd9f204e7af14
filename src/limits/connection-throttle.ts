// Throttles one Socket.IO connection at its transport: a ReadBudget (packets per loop turn) and a FloodGuard, whose
// pauses stop reading the connection's WebSocket; when the guard gives up the client gets a server_notice FLOODING,
// then Socket.IO's disconnect, then the TCP connection is dropped.
import type { Logger } from 'pino';
import type { Socket } from 'socket.io';
import type { ServerNotice } from '../protocol/index.js';
import { FloodGuard, realClock, type Clock } from './flood-guard.js';
import { ReadBudget } from './read-budget.js';
import { transportReads } from './transport-reads.js';

export interface ThrottleSettings {
  maxChunksInFlight: number;
  /** 0 = no throttle at all (refusals only, as before). */
  floodPauseMs: number;
  floodMaxPauses: number;
}

/** A connection refused nothing for this long is trusted again; a closed flooder is asked to stay away as long. */
export const FLOOD_CALM_MS = 10_000;
/** Packets of one connection handled per loop turn: the client library's window (32) goes through in one. */
export const READS_PER_TURN = 32;
/** The notice and Socket.IO's disconnect packet reach the client long before the TCP connection is dropped. */
const CLOSE_GRACE_MS = 1000;

export function floodingNotice(pauses: number): ServerNotice {
  return {
    code: 'FLOODING',
    message: `this connection kept sending past refused events (RATE_LIMITED, SEQ_GAP, …; paused ${pauses} times); it is closed. Wait for each event's ack, and for retry_after_ms, before sending more`,
    retry_after_ms: FLOOD_CALM_MS,
  };
}

export interface ConnectionThrottle {
  readonly guard: FloodGuard;
  /** After every ack: the refusal's retry hint (0 without one), or undefined when the event was accepted. */
  answered(retryAfterMs: number | undefined): void;
}

export function throttleConnection(
  socket: Socket,
  settings: ThrottleSettings,
  inFlight: () => number,
  logger: Logger,
  clock: Clock = realClock,
): ConnectionThrottle | undefined {
  if (settings.floodPauseMs <= 0) return undefined;
  const reads = transportReads(socket);
  const guard = new FloodGuard(
    { maxInFlight: settings.maxChunksInFlight, firstPauseAfter: Math.min(READS_PER_TURN, settings.maxChunksInFlight), pauseMs: settings.floodPauseMs, maxPauses: settings.floodMaxPauses, calmMs: FLOOD_CALM_MS },
    {
      pause: () => {
        reads.pause('flood');
      },
      resume: () => reads.resume('flood'),
      inFlight,
      disconnect: (pauses) => {
        logger.warn({ socket_id: socket.id, address: socket.handshake.address, pauses }, 'closing a connection that kept sending past refused events');
        // Not another byte of the flood is read: the notice goes out, the connection is dropped.
        reads.pause('flood');
        reads.terminateAfter(CLOSE_GRACE_MS);
        socket.emit('server_notice', floodingNotice(pauses));
        socket.disconnect(true);
      },
    },
    clock,
  );
  const budget = new ReadBudget(READS_PER_TURN, () => reads.pause('turn'), () => reads.resume('turn'));
  socket.use((_packet, next) => {
    budget.take();
    next();
  });
  socket.once('disconnect', () => {
    // Closed by the server while paused (drain, our own close): the client's close frame would never be read.
    if (guard.paused) reads.terminateAfter(CLOSE_GRACE_MS);
    guard.close();
  });
  return { guard, answered: (retryAfterMs) => guard.answered({ retryAfterMs, backlogged: budget.backlogged() }) };
}
