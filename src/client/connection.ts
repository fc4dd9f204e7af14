// The client's connection: one socket.io socket to /transcription, its state, reconnects (socket.io's own, and by hand
// after a server-side close or a drain notice), a fresh handshake token per attempt, and refused handshakes.
// Slightly over 300 lines: one state machine, kept whole so its transitions read in one place.
import { io as defaultIo, type Socket } from 'socket.io-client';
import { ConnectErrorCode } from '../protocol/errors.js';
import type {
  ClientToServerEvents,
  ServerNotice,
  ServerToClientEvents,
  TranscriptionErrorEvent,
  TranscriptionResult,
  UtteranceEnd,
} from '../protocol/index.js';
import { backoffDelay, retryAfterDelay, type BackoffOptions } from './backoff.js';
import { ClientErrorCode, TranscriptionClientError } from './errors.js';
import { connectErrorText, handshakeAuth, refusalOf } from './handshake-auth.js';
import type { ConnectionState, TranscriptionClientOptions } from './types.js';
import { Waiters } from './waiters.js';

export type TranscriptionSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** What the connection tells the rest of the client. */
export interface ConnectionHooks {
  state(state: ConnectionState): void;
  /** A connection (the first or a later one) is up. */
  connected(): void;
  /** The connection went down: nothing in flight on it will be answered. */
  disconnected(): void;
  /** No connection will come back by itself (refused, or the attempts are used up). */
  lost(error: TranscriptionClientError): void;
  result(result: TranscriptionResult): void;
  transcriptionError(event: TranscriptionErrorEvent): void;
  /** Sessions started with utteranceEndMs: the speaker stopped. */
  utteranceEnd?(event: UtteranceEnd): void;
  notice(notice: ServerNotice): void;
  /** True while a session runs: only then is a server-side close answered by reconnecting. */
  wanted(): boolean;
  /** For the errors this part reports. */
  sessionId(): string | undefined;
}

export type ConnectionOptions = Pick<TranscriptionClientOptions, 'token' | 'sentryTrace' | 'baggage' | 'socketOptions' | 'io'> & {
  endpoint: string;
  reconnect: BackoffOptions & { attempts: number };
};

/** Handshake refusals worth another try after a pause (through the load balancer, maybe to another node). */
const RETRY_LATER: ReadonlySet<string> = new Set([ConnectErrorCode.SERVER_DRAINING, ConnectErrorCode.TOO_MANY_CONNECTIONS, ConnectErrorCode.RATE_LIMITED]);

export class Connection {
  private socket: TranscriptionSocket | undefined;
  private current: ConnectionState = 'idle';
  private closedBy: TranscriptionClientError | undefined;
  /** Incremented on every successful connect: a reply from an older connection must not change this one. */
  private count = 0;
  /** Consecutive reconnects by hand after server-side closes; an answered request starts the count again. */
  private kicks = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  /** A drain notice came: when to move to another node, and the timer that moves if the node has not closed by then. */
  private drainAt: number | undefined;
  private drainTimer: ReturnType<typeof setTimeout> | undefined;
  private lastConnectError: Error | undefined;
  /** socket.io stopped reconnecting (attempts used up): the next wait() must start it again. */
  private gaveUp = false;
  /** Set while this client closes the socket itself before a planned reconnect. */
  private leaving = false;
  private freshTokenTried = false;
  private readonly waiters = new Waiters<TranscriptionSocket>();

  constructor(
    private readonly options: ConnectionOptions,
    private readonly hooks: ConnectionHooks,
  ) {}

  get state(): ConnectionState {
    return this.current;
  }

  /** Which connection is up (0 before the first): compare with isCurrent() after an await. */
  get id(): number {
    return this.count;
  }

  /** Successful connections after the first. */
  get reconnects(): number {
    return Math.max(0, this.count - 1);
  }

  /** The socket while it is connected. */
  get live(): TranscriptionSocket | undefined {
    return this.socket?.connected ? this.socket : undefined;
  }

  isCurrent(id: number): boolean {
    return id === this.count && this.socket?.connected === true;
  }

  /** The server answered a request: its earlier closes were not a loop, so count them afresh. */
  markHealthy(): void {
    this.kicks = 0;
  }

  /** Connects (or waits for the reconnection under way); rejects with CONNECT_REFUSED, DISCONNECTED or CLOSED. */
  wait(): Promise<TranscriptionSocket> {
    if (this.closedBy) return Promise.reject(this.closedBy);
    const socket = this.ensureSocket();
    if (socket.connected) return Promise.resolve(socket);
    if ((!socket.active || this.gaveUp) && this.reconnectTimer === undefined) {
      this.gaveUp = false;
      this.setState(this.count === 0 ? 'connecting' : 'reconnecting');
      socket.connect();
    }
    return this.waiters.wait();
  }

  /** SERVER_DRAINING: leave this node now and come back after `delayMs`; the load balancer picks another node. */
  moveAway(delayMs: number): void {
    if (this.closedBy) return;
    this.clearDrain();
    this.reconnectLater(delayMs, false);
  }

  /** Disconnects for good; waiters reject with `error`. */
  close(error: TranscriptionClientError): void {
    if (this.closedBy) return;
    this.closedBy = error;
    this.waiters.rejectAll(error);
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.clearDrain();
    const socket = this.socket;
    this.socket = undefined;
    if (socket) {
      socket.removeAllListeners();
      socket.io.removeAllListeners();
      socket.disconnect();
    }
    this.setState('closed');
  }

  private ensureSocket(): TranscriptionSocket {
    if (this.socket) return this.socket;
    const { reconnect } = this.options;
    const socket: TranscriptionSocket = (this.options.io ?? defaultIo)(this.options.endpoint, {
      autoConnect: false,
      // Each client gets its own connection: load tests open many, and sharing one would share its failures.
      forceNew: true,
      reconnection: true,
      reconnectionDelay: reconnect.delayMs,
      reconnectionDelayMax: reconnect.maxDelayMs,
      randomizationFactor: reconnect.randomization,
      reconnectionAttempts: reconnect.attempts,
      auth: handshakeAuth(this.options, () => this.socket?.active === true, (error) => this.onTokenFailure(error)),
      ...this.options.socketOptions,
    });
    socket.on('connect', () => this.onConnect());
    socket.on('disconnect', (reason) => this.onDisconnect(reason));
    socket.on('connect_error', (error) => this.onConnectError(error));
    socket.on('transcription_result', (result) => this.hooks.result(result));
    socket.on('transcription_error', (event) => this.hooks.transcriptionError(event));
    socket.on('utterance_end', (event) => this.hooks.utteranceEnd?.(event));
    socket.on('server_notice', (notice) => this.onNotice(notice));
    socket.io.on('reconnect_attempt', () => this.setState('reconnecting'));
    socket.io.on('reconnect_failed', () => {
      this.gaveUp = true;
      this.giveUp(`Could not ${this.count === 0 ? 'connect' : 'reconnect'} to ${this.options.endpoint} after ${reconnect.attempts} attempts`);
    });
    this.socket = socket;
    return socket;
  }

  private onConnect(): void {
    if (!this.socket) return;
    this.count += 1;
    this.lastConnectError = undefined;
    this.freshTokenTried = false;
    this.setState('connected');
    this.waiters.resolveAll(this.socket);
    this.hooks.connected();
  }

  private onDisconnect(reason: string): void {
    this.hooks.disconnected();
    if (this.closedBy || this.leaving) return;
    if (this.drainAt !== undefined) {
      // The node said it was going: this close is the move it announced, not a failure.
      const remaining = Math.max(0, this.drainAt - performance.now());
      this.clearDrain();
      this.reconnectLater(remaining, false);
    } else if (reason === 'io server disconnect') {
      // socket.io does not reconnect after a server-side disconnect; a running session must not be lost to one.
      if (this.hooks.wanted()) this.reconnectLater(undefined, true);
      else this.setState('disconnected');
    } else if (reason === 'io client disconnect') {
      this.setState('disconnected');
    } else {
      this.setState('reconnecting');
    }
  }

  private onNotice(notice: ServerNotice): void {
    this.hooks.notice(notice);
    const delay = retryAfterDelay(notice.retry_after_ms ?? 0);
    this.clearDrain();
    this.drainAt = performance.now() + delay;
    const id = this.count;
    // Normally the node closes the connection first; if it has not by then, leave anyway.
    this.drainTimer = setTimeout(() => {
      this.drainTimer = undefined;
      this.drainAt = undefined;
      if (this.isCurrent(id)) this.reconnectLater(0, false);
    }, delay);
  }

  private onConnectError(error: Error): void {
    this.lastConnectError = error;
    const socket = this.socket;
    // An inactive socket after connect_error means the server's middleware refused us: socket.io will not retry.
    if (!socket || socket.active) return;
    const { code, retryAfterMs } = refusalOf(error);
    if (code && RETRY_LATER.has(code) && (this.waiters.size > 0 || this.hooks.wanted())) {
      this.reconnectLater(retryAfterMs === undefined ? undefined : retryAfterDelay(retryAfterMs), true);
      return;
    }
    if (code === ConnectErrorCode.TOKEN_EXPIRED && typeof this.options.token === 'function' && !this.freshTokenTried) {
      // The token expired between minting and the handshake: one more attempt, with a fresh one.
      this.freshTokenTried = true;
      socket.connect();
      return;
    }
    const message = !code || error.message.includes(code) ? error.message : `${code}: ${error.message}`;
    this.refuse(
      new TranscriptionClientError(ClientErrorCode.CONNECT_REFUSED, `The server refused the connection (${message}).`, {
        retryable: false,
        sessionId: this.hooks.sessionId(),
        detail: code,
        retryAfterMs,
        cause: error,
      }),
    );
  }

  private onTokenFailure(error: unknown): void {
    if (this.closedBy) return;
    this.lastConnectError = error instanceof Error ? error : new Error(String(error));
    this.stopSocket();
    this.refuse(
      new TranscriptionClientError(ClientErrorCode.CONNECT_REFUSED, `The token function failed, so no connection was attempted: ${this.lastConnectError.message}`, {
        retryable: false,
        sessionId: this.hooks.sessionId(),
        cause: error,
      }),
    );
  }

  /**
   * Reconnects by hand after `delayMs`. Counted reconnects (server-side closes, handshakes turned away) wait at least
   * the backoff and are limited to `reconnect.attempts` in a row; planned moves (drain) are neither.
   */
  private reconnectLater(delayMs: number | undefined, counted: boolean): void {
    let wait = delayMs ?? 0;
    if (counted) {
      this.kicks += 1;
      if (this.kicks > this.options.reconnect.attempts) {
        this.giveUp(`The server kept closing or turning away the connection (${this.kicks - 1} reconnections)`);
        return;
      }
      wait = Math.max(wait, backoffDelay(this.kicks, this.options.reconnect));
    }
    // socket.io must not reconnect on its own meanwhile (after a transport close it would, at once).
    this.stopSocket();
    this.setState('reconnecting');
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.closedBy) this.socket?.connect();
    }, wait);
  }

  private stopSocket(): void {
    this.leaving = true;
    try {
      this.socket?.disconnect();
    } finally {
      this.leaving = false;
    }
  }

  private giveUp(message: string): void {
    const last = this.lastConnectError;
    const error = new TranscriptionClientError(
      ClientErrorCode.DISCONNECTED,
      `${message}${last ? ` (last error: ${connectErrorText(last)}).` : '.'}`,
      { retryable: true, sessionId: this.hooks.sessionId(), cause: last },
    );
    this.setState('disconnected');
    this.waiters.rejectAll(error);
    this.hooks.lost(error);
  }

  private refuse(error: TranscriptionClientError): void {
    this.setState('disconnected');
    this.waiters.rejectAll(error);
    this.hooks.lost(error);
  }

  private clearDrain(): void {
    if (this.drainTimer !== undefined) clearTimeout(this.drainTimer);
    this.drainTimer = undefined;
    this.drainAt = undefined;
  }

  private setState(state: ConnectionState): void {
    if (this.current === state || this.current === 'closed') return;
    this.current = state;
    this.hooks.state(state);
  }
}
