// Graceful drain of one serving process: refuse new work at once, let in-flight segments finish (bounded), then tell
// every client to reconnect elsewhere and close its connection, so the load balancer sends it to another node.
import type { Logger } from 'pino';
import type { Server, Socket } from 'socket.io';
import {
  ConnectErrorCode,
  ErrorCode,
  NAMESPACE,
  ProtocolError,
  type ClientEventName,
  type ConnectErrorData,
  type ServerNotice,
} from '../protocol/index.js';

/** How long a client is asked to wait before reconnecting: long enough for the LB to see /readyz fail, not more. */
export const DRAIN_RETRY_AFTER_MS = 500;

export interface DrainOptions {
  io: Server;
  /** Longest wait for in-flight work before clients are disconnected anyway (SHUTDOWN_GRACE_MS). */
  graceMs: number;
  /** Stops the sessions taking new work (new sessions are refused from now on). */
  stopTakingWork: () => void;
  /** Resolves when no segment is being transcribed or committed in this process. */
  idle: () => Promise<void>;
  logger: Logger;
}

export interface Drain {
  readonly draining: boolean;
  /** Starts draining (idempotent) and resolves once every client has been told and disconnected. */
  drain(): Promise<void>;
}

/** Events refused while draining: each would start work this process may not finish; the client retries them elsewhere. */
const REFUSED_WHILE_DRAINING: ReadonlySet<string> = new Set<ClientEventName>(['start_session', 'audio_chunk', 'end_session']);

function drainingError(): ProtocolError {
  return new ProtocolError(ErrorCode.SERVER_DRAINING, 'This node is shutting down: reconnect and resume the session; the load balancer picks another node.', {
    retry_after_ms: DRAIN_RETRY_AFTER_MS,
  });
}

/**
 * Installs the drain guards on the /transcription namespace: while draining, handshakes are refused with
 * SERVER_DRAINING and start_session / audio_chunk / end_session are answered SERVER_DRAINING (a refused chunk stays
 * unacknowledged in the client, which resends it after resuming elsewhere: nothing accepted is lost, and nothing is cut
 * into a segment here that the next node would transcribe again).
 */
export function createDrain({ io, graceMs, stopTakingWork, idle, logger }: DrainOptions): Drain {
  let draining = false;
  let done: Promise<void> | undefined;
  const namespace = io.of(NAMESPACE);

  namespace.use((_socket, next) => {
    if (!draining) return next();
    const error = new Error(`${ConnectErrorCode.SERVER_DRAINING}: this node is shutting down; connect again to reach another node`) as Error & {
      data: ConnectErrorData;
    };
    error.data = { code: ConnectErrorCode.SERVER_DRAINING, retry_after_ms: DRAIN_RETRY_AFTER_MS };
    next(error);
  });
  namespace.on('connection', (socket: Socket) => {
    socket.use(([event, , ...rest], next) => {
      if (!draining || !REFUSED_WHILE_DRAINING.has(event)) return next();
      const ack = rest.at(-1);
      if (typeof ack === 'function') ack({ ok: false, error: drainingError().toBody() });
    });
  });

  async function run(): Promise<void> {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      idle().then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), graceMs);
      }),
    ]);
    clearTimeout(timer);
    const sockets = [...namespace.sockets.values()];
    logger.info(
      { waited_ms: Math.round(performance.now() - started), in_flight_finished: finished, clients: sockets.length },
      finished ? 'drain: in-flight segments finished; telling clients to reconnect' : `drain: SHUTDOWN_GRACE_MS (${graceMs} ms) passed; telling clients to reconnect`,
    );
    const notice: ServerNotice = { code: 'SERVER_DRAINING', message: drainingError().message, retry_after_ms: DRAIN_RETRY_AFTER_MS };
    const closed = sockets.map(
      (socket) =>
        new Promise<void>((resolve) => {
          const conn = socket.conn;
          socket.emit('server_notice', notice);
          conn.once('close', () => resolve());
          // Closing the transport (not socket.disconnect()) reads as a lost connection to any Socket.IO client, which
          // reconnects by itself; engine.io sends the queued notice before it closes.
          conn.close();
        }),
    );
    await Promise.race([Promise.all(closed), new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
  }

  return {
    get draining() {
      return draining;
    },
    drain() {
      if (!draining) stopTakingWork();
      draining = true;
      done ??= run();
      return done;
    },
  };
}
