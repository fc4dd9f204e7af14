// Graceful drain of one serving process: refuse new work at once, let in-flight segments finish (bounded), then tell
// every client to reconnect elsewhere and close its connection, so the load balancer sends it to another node.
import type { Logger } from 'pino';
import type { Server, Socket } from 'socket.io';
import { connectError, type Middleware } from '../auth/handshake-auth.js';
import { DRAIN_RETRY_AFTER_MS } from '../errors/server-errors.js';
import { ConnectErrorCode, ErrorCode, NAMESPACE, ProtocolError, type ClientEventName, type ServerNotice } from '../protocol/index.js';

export { DRAIN_RETRY_AFTER_MS };

/**
 * Whether this process drains, and the handshake middleware refusing new connections meanwhile. Built before the app
 * so that middleware runs first: a refused client's one-time token is not redeemed, and works on the next node.
 */
export interface DrainGate {
  readonly draining: boolean;
  /** The first handshake middleware: SERVER_DRAINING while draining, before any credential is looked at. */
  readonly handshake: Middleware;
  close(): void;
}

export function createDrainGate(): DrainGate {
  let draining = false;
  return {
    get draining() {
      return draining;
    },
    handshake: (_socket, next) => {
      if (!draining) return next();
      next(connectError(ConnectErrorCode.SERVER_DRAINING, `${ConnectErrorCode.SERVER_DRAINING}: this node is shutting down; connect again to reach another node`, DRAIN_RETRY_AFTER_MS));
    },
    close() {
      draining = true;
    },
  };
}

export interface DrainOptions {
  io: Server;
  /** Its handshake middleware must be the namespace's first (see createDrainGate). */
  gate: DrainGate;
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
 * SERVER_DRAINING (by the gate) and start_session / audio_chunk / end_session are answered SERVER_DRAINING (a refused chunk stays
 * unacknowledged in the client, which resends it after resuming elsewhere: nothing accepted is lost, and nothing is cut
 * into a segment here that the next node would transcribe again).
 */
export function createDrain({ io, gate, graceMs, stopTakingWork, idle, logger }: DrainOptions): Drain {
  let done: Promise<void> | undefined;
  const namespace = io.of(NAMESPACE);

  namespace.on('connection', (socket: Socket) => {
    socket.use(([event, , ...rest], next) => {
      if (!gate.draining || !REFUSED_WHILE_DRAINING.has(event)) return next();
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
      return gate.draining;
    },
    drain() {
      if (!gate.draining) stopTakingWork();
      gate.close();
      done ??= run();
      return done;
    },
  };
}
