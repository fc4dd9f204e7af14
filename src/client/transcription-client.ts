// The one client of the /transcription protocol (Node and browser): one session at a time, numbered chunks
// kept until acknowledged, resume and resend after reconnects, and results in segment order.
import { io as defaultIo, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import { ErrorCode } from '../protocol/errors.js';
import { NAMESPACE } from '../protocol/events.js';
import type {
  Ack,
  AudioChunkAccepted,
  ClientToServerEvents,
  EndSessionAccepted,
  HandshakeAuth,
  ProtocolErrorBody,
  ServerToClientEvents,
  StartSessionAccepted,
  StartSessionRequest,
  TranscriptionErrorEvent,
  TranscriptionResult,
} from '../protocol/index.js';
import { backoffDelay, Waiters, type BackoffOptions } from './backoff.js';
import { ChunkQueue, type PendingChunk } from './chunk-queue.js';
import { TypedEmitter } from './emitter.js';
import { ClientErrorCode, TranscriptionClientError } from './errors.js';
import { LatencyTracker } from './latency.js';
import { SegmentOrder } from './segment-order.js';
import type {
  ClientStats,
  ConnectionState,
  SessionPhase,
  StartOptions,
  TranscriptionClientEvents,
  TranscriptionClientOptions,
} from './types.js';

type TranscriptionSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** Refusals that mean the session itself is gone; any other non-retryable refusal concerns one chunk only. */
const SESSION_FATAL: ReadonlySet<string> = new Set([ErrorCode.UNKNOWN_SESSION, ErrorCode.SESSION_ENDED]);

export class TranscriptionClient extends TypedEmitter<TranscriptionClientEvents> {
  private readonly endpoint: string;
  private readonly ackTimeoutMs: number;
  private readonly endTimeoutMs: number;
  private readonly maxInFlight: number;
  private readonly reconnectBackoff: BackoffOptions & { attempts: number };
  private readonly retryBackoff: BackoffOptions & { attempts: number };
  private readonly bufferFullLimitMs: number;

  private socket: TranscriptionSocket | undefined;
  private connectionState: ConnectionState = 'idle';
  private closed = false;
  /** Incremented on every successful connect: a reply from an older connection must not change this one. */
  private connection = 0;
  /** Consecutive server-side disconnects while a session runs; they are reconnected by hand, within limits. */
  private kicks = 0;
  private kickTimer: ReturnType<typeof setTimeout> | undefined;
  private lastConnectError: Error | undefined;
  /** socket.io stopped reconnecting (attempts used up): the next connect() must start it again. */
  private gaveUp = false;

  private phase: SessionPhase = 'none';
  private sessionId: string | undefined;
  /** The session's proof of ownership (from its first ack): sent when resuming on a new connection. */
  private resumeToken: string | undefined;
  private startRequest: Omit<StartSessionRequest, 'session_id'> = {};
  private sampleRate: number | undefined;
  /** The server has answered start_session at least once for this session. */
  private established = false;
  /** start_session has been accepted on the current connection, so chunks may flow. */
  private ready = false;
  private opening = false;
  private failure: TranscriptionClientError | undefined;
  private earlyResults: TranscriptionResult[] = [];
  private endPromise: Promise<EndSessionAccepted> | undefined;

  /** Unacknowledged chunks, contiguous by seq: acceptance is cumulative because the server takes seqs in order. */
  private readonly chunks = new ChunkQueue();
  /** Next seq to transmit in the current epoch. */
  private cursor = 0;
  /** Bumped whenever in-flight transmissions are superseded (resend, pause, disconnect): their failures are ignored. */
  private epoch = 0;
  private inFlight = 0;
  private holdTimer: ReturnType<typeof setTimeout> | undefined;

  private readonly connected = new Waiters<TranscriptionSocket>();
  private readonly readyWaiters = new Waiters<void>();
  private readonly sleepers = new Set<{ timer: ReturnType<typeof setTimeout>; reject: (e: unknown) => void }>();

  private readonly latency = new LatencyTracker();
  private readonly segments: SegmentOrder;
  private bufferedMs = 0;
  private readonly counters = { sent: 0, resent: 0, duplicates: 0, reconnects: 0, results: 0 };

  constructor(private readonly options: TranscriptionClientOptions) {
    super();
    const base = options.url.replace(/\/+$/, '');
    this.endpoint = base.endsWith(NAMESPACE) ? base : base + NAMESPACE;
    this.ackTimeoutMs = options.ackTimeoutMs ?? 5000;
    this.endTimeoutMs = options.endTimeoutMs ?? 60_000;
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 32);
    this.reconnectBackoff = {
      delayMs: options.reconnect?.delayMs ?? 500,
      maxDelayMs: options.reconnect?.maxDelayMs ?? 5000,
      randomization: options.reconnect?.randomization ?? 0.5,
      attempts: options.reconnect?.attempts ?? 10,
    };
    this.retryBackoff = {
      delayMs: options.retry?.delayMs ?? 250,
      maxDelayMs: options.retry?.maxDelayMs ?? 5000,
      randomization: 0.5,
      attempts: options.retry?.attempts ?? 5,
    };
    this.bufferFullLimitMs = options.retry?.bufferFullLimitMs ?? 60_000;
    this.segments = new SegmentOrder(
      (result) => {
        this.counters.results += 1;
        this.emit('result', result);
      },
      { firstSegment: options.firstSegment ?? 0, gapTimeoutMs: options.segmentGapTimeoutMs ?? 10_000 },
    );
  }

  get state(): ConnectionState {
    return this.connectionState;
  }

  /** The current session's id once the server has accepted it. */
  get session(): { id: string | undefined; sampleRate: number | undefined; phase: SessionPhase } {
    return { id: this.sessionId, sampleRate: this.sampleRate, phase: this.phase };
  }

  /** Connects (or waits for the running reconnection); rejects with CONNECT_REFUSED, DISCONNECTED or CLOSED. */
  async connect(): Promise<void> {
    await this.waitForConnection();
  }

  /**
   * Opens a session (or resumes `sessionId`). Chunks may be sent as soon as this is called; they are numbered
   * from the server's next_seq once it answers.
   */
  async start(options: StartOptions = {}): Promise<StartSessionAccepted> {
    this.assertOpen();
    if (this.phase === 'starting' || this.phase === 'active' || this.phase === 'ending') {
      throw new TranscriptionClientError(ClientErrorCode.SESSION_ACTIVE, 'A session is already running: end() it before starting another.');
    }
    this.resetSession();
    this.phase = 'starting';
    this.sessionId = options.sessionId;
    this.resumeToken = options.resumeToken;
    this.startRequest = definedOnly({
      sample_rate: options.sampleRate,
      language: options.language,
      prompt: options.prompt,
      model: options.model,
    });
    try {
      const accepted = await this.openSession();
      // Only a session that is ending can open without an answer, and this one is just starting.
      if (!accepted) throw new TranscriptionClientError(ErrorCode.SESSION_ENDED, 'The session has already ended.');
      return accepted;
    } catch (error) {
      const failure = asClientError(error, this.sessionId);
      this.failSession(failure, false);
      throw failure;
    }
  }

  /**
   * Queues one chunk of mono 16-bit little-endian PCM; resolves when the server has accepted it. The bytes are
   * copied, so the caller may reuse its buffer.
   */
  sendChunk(pcm: Uint8Array | Int16Array | ArrayBuffer): Promise<AudioChunkAccepted> {
    if (this.closed) return Promise.reject(this.closedError());
    if (this.phase === 'failed' && this.failure) return Promise.reject(this.failure);
    if (this.phase === 'none' || this.phase === 'ended') {
      return Promise.reject(new TranscriptionClientError(ClientErrorCode.NO_SESSION, 'Call start() before sending audio.'));
    }
    if (this.phase === 'ending') {
      return Promise.reject(
        new TranscriptionClientError(ErrorCode.SESSION_ENDED, 'end() was called: no more audio can be sent in this session.', {
          sessionId: this.sessionId,
        }),
      );
    }
    const bytes = copyBytes(pcm);
    if (bytes.byteLength === 0 || bytes.byteLength % 2 !== 0) {
      return Promise.reject(
        new TranscriptionClientError(
          ErrorCode.INVALID_AUDIO,
          `A chunk must hold whole 16-bit samples (an even, non-zero number of bytes); got ${bytes.byteLength} bytes.`,
          { retryable: false },
        ),
      );
    }
    const accepted = this.chunks.add(bytes);
    this.counters.sent += 1;
    this.pump();
    return accepted;
  }

  /** Waits until every chunk is accepted, then ends the session; resolves with the session's full text. */
  end(): Promise<EndSessionAccepted> {
    if (this.closed) return Promise.reject(this.closedError());
    if (this.endPromise) return this.endPromise;
    if (this.phase === 'failed' && this.failure) return Promise.reject(this.failure);
    if (this.phase === 'none' || this.phase === 'ended') {
      return Promise.reject(new TranscriptionClientError(ClientErrorCode.NO_SESSION, 'No session is running.'));
    }
    this.endPromise = this.finish().then(
      (accepted) => {
        this.endPromise = undefined;
        return accepted;
      },
      (error: unknown) => {
        this.endPromise = undefined;
        const failure = asClientError(error, this.sessionId);
        this.failSession(failure, false);
        throw failure;
      },
    );
    return this.endPromise;
  }

  stats(): ClientStats {
    const latency = this.latency.summary();
    return {
      ...this.counters,
      ...this.chunks.counts,
      unacked: this.chunks.size,
      p50AckMs: latency.p50,
      p95AckMs: latency.p95,
      p99AckMs: latency.p99,
      maxAckMs: latency.max,
      bufferedMs: this.bufferedMs,
    };
  }

  /** Disconnects for good; unfinished work rejects with CLOSED. */
  close(): void {
    if (this.closed) return;
    const error = this.closedError();
    this.closed = true;
    this.failSession(error, false);
    this.connected.rejectAll(error);
    for (const sleeper of this.sleepers) {
      clearTimeout(sleeper.timer);
      sleeper.reject(error);
    }
    this.sleepers.clear();
    if (this.kickTimer) clearTimeout(this.kickTimer);
    this.segments.reset();
    const socket = this.socket;
    this.socket = undefined;
    if (socket) {
      socket.removeAllListeners();
      socket.io.removeAllListeners();
      socket.disconnect();
    }
    this.setState('closed');
  }

  // ---- connection ----

  private ensureSocket(): TranscriptionSocket {
    if (this.socket) return this.socket;
    const ioFn = this.options.io ?? defaultIo;
    const auth: HandshakeAuth = definedOnly({
      token: this.options.token,
      'sentry-trace': this.options.sentryTrace,
      baggage: this.options.baggage,
    });
    const socket: TranscriptionSocket = ioFn(this.endpoint, {
      autoConnect: false,
      // Each client gets its own connection: load tests open many, and sharing one would share its failures.
      forceNew: true,
      reconnection: true,
      reconnectionDelay: this.reconnectBackoff.delayMs,
      reconnectionDelayMax: this.reconnectBackoff.maxDelayMs,
      randomizationFactor: this.reconnectBackoff.randomization,
      reconnectionAttempts: this.reconnectBackoff.attempts,
      auth,
      ...this.options.socketOptions,
    });
    socket.on('connect', () => this.onConnect());
    socket.on('disconnect', (reason) => this.onDisconnect(reason));
    socket.on('connect_error', (error) => this.onConnectError(error));
    socket.on('transcription_result', (result) => this.onResult(result));
    socket.on('transcription_error', (event) => this.onTranscriptionError(event));
    socket.io.on('reconnect_attempt', () => this.setState('reconnecting'));
    socket.io.on('reconnect_failed', () => {
      this.gaveUp = true;
      this.onConnectionGivenUp(
        `Could not ${this.connection === 0 ? 'connect' : 'reconnect'} to ${this.endpoint} after ` +
          `${this.reconnectBackoff.attempts} attempts` +
          (this.lastConnectError ? ` (last error: ${connectErrorText(this.lastConnectError)}).` : '.'),
      );
    });
    this.socket = socket;
    return socket;
  }

  private waitForConnection(): Promise<TranscriptionSocket> {
    if (this.closed) return Promise.reject(this.closedError());
    const socket = this.ensureSocket();
    if (socket.connected) return Promise.resolve(socket);
    if ((!socket.active || this.gaveUp) && this.kickTimer === undefined) {
      this.gaveUp = false;
      this.setState(this.connection === 0 ? 'connecting' : 'reconnecting');
      socket.connect();
    }
    return this.connected.wait();
  }

  private onConnect(): void {
    const socket = this.socket;
    if (!socket) return;
    this.connection += 1;
    if (this.connection > 1) this.counters.reconnects += 1;
    this.lastConnectError = undefined;
    this.setState('connected');
    this.connected.resolveAll(socket);
    // A session that was running resumes by itself; one still starting is handled by its own start() call.
    if ((this.phase === 'active' || this.phase === 'ending') && !this.opening) {
      this.openSession().catch((error: unknown) => this.failSession(asClientError(error, this.sessionId)));
    }
  }

  private onDisconnect(reason: string): void {
    this.ready = false;
    this.supersedeInFlight();
    if (this.closed) return;
    const sessionRunning = this.phase === 'starting' || this.phase === 'active' || this.phase === 'ending';
    if (reason === 'io server disconnect') {
      // socket.io does not reconnect after a server-side disconnect; a running session must not be lost to one.
      if (sessionRunning) this.scheduleKickReconnect();
      else this.setState('disconnected');
    } else if (reason === 'io client disconnect') {
      this.setState('disconnected');
    } else {
      this.setState('reconnecting');
    }
  }

  private scheduleKickReconnect(): void {
    this.kicks += 1;
    if (this.kicks > this.reconnectBackoff.attempts) {
      this.onConnectionGivenUp(`The server kept closing the connection (${this.kicks - 1} reconnections).`);
      return;
    }
    this.setState('reconnecting');
    this.kickTimer = setTimeout(() => {
      this.kickTimer = undefined;
      if (!this.closed) this.socket?.connect();
    }, backoffDelay(this.kicks, this.reconnectBackoff));
  }

  private onConnectError(error: Error): void {
    this.lastConnectError = error;
    const socket = this.socket;
    // An inactive socket after connect_error means the server's middleware refused us: socket.io will not retry.
    if (socket && !socket.active) {
      const refused = new TranscriptionClientError(
        ClientErrorCode.CONNECT_REFUSED,
        error.message,
        { retryable: false, cause: error },
      );
      this.setState('disconnected');
      this.connected.rejectAll(refused);
      this.failSession(refused);
    }
  }

  private onConnectionGivenUp(message: string): void {
    const error = new TranscriptionClientError(ClientErrorCode.DISCONNECTED, message, {
      retryable: true,
      sessionId: this.sessionId,
      cause: this.lastConnectError,
    });
    this.setState('disconnected');
    this.connected.rejectAll(error);
    this.failSession(error);
  }

  private setState(state: ConnectionState): void {
    if (this.connectionState === state || this.connectionState === 'closed') return;
    this.connectionState = state;
    this.emit('state', state);
  }

  // ---- session ----

  /**
   * Sends start_session until it is accepted on the live connection, riding out disconnects (not counted) and
   * timeouts or retryable refusals (counted, with backoff); the accepted answer is applied in the same tick.
   */
  private async openSession(): Promise<StartSessionAccepted | undefined> {
    this.opening = true;
    try {
      let retries = 0;
      for (;;) {
        this.assertSessionRunning();
        const socket = await this.waitForConnection();
        this.assertSessionRunning();
        const connection = this.connection;
        const payload: StartSessionRequest = { ...this.startRequest };
        if (this.sessionId !== undefined) payload.session_id = this.sessionId;
        if (this.resumeToken !== undefined) payload.resume_token = this.resumeToken;
        let failure: TranscriptionClientError;
        try {
          // socket.io's typings lose the ack type once timeout() is applied: restate it.
          const response: Ack<StartSessionAccepted> = await socket.timeout(this.ackTimeoutMs).emitWithAck('start_session', payload);
          this.assertSessionRunning();
          if (response.ok) {
            // Keep the id even if this connection is gone: the next start_session then resumes instead of forking.
            this.sessionId = response.session_id;
            if (response.resume_token !== undefined) this.resumeToken = response.resume_token;
            if (!this.isCurrent(connection)) continue;
            const accepted = stripOk(response);
            this.applyStart(accepted);
            return accepted;
          }
          failure = refusalError(response.error, this.sessionId);
          if (failure.code === ErrorCode.SESSION_ENDED && this.phase === 'ending' && this.chunks.size === 0) {
            // end_session reached the server but its answer was lost with the connection: asking again (on
            // this connection, without a start) returns the same summary.
            if (!this.isCurrent(connection)) continue;
            this.ready = true;
            this.readyWaiters.resolveAll();
            return undefined;
          }
          if (!failure.retryable) throw failure;
        } catch (error) {
          if (error instanceof TranscriptionClientError) throw error;
          if (!this.isCurrent(connection)) continue;
          failure = new TranscriptionClientError(
            ClientErrorCode.ACK_TIMEOUT,
            `The server did not answer start_session within ${this.ackTimeoutMs} ms.`,
            { retryable: true, sessionId: this.sessionId, cause: error },
          );
        }
        retries += 1;
        if (retries > this.retryBackoff.attempts) throw failure;
        this.emit('error', failure);
        await this.sleep(backoffDelay(retries, this.retryBackoff));
      }
    } finally {
      this.opening = false;
    }
  }

  /** Takes the server's next_seq as the truth: what it has is settled, what it lacks is sent again in order. */
  private applyStart(accepted: StartSessionAccepted): void {
    const nextSeq = accepted.next_seq;
    const reopened = this.established;
    this.sampleRate = accepted.sample_rate;
    if (!this.established) {
      // Chunks queued before the first answer were numbered provisionally from 0.
      this.chunks.renumberFrom(nextSeq);
      this.established = true;
      this.phase = 'active';
    } else {
      if (!accepted.resumed) {
        // The server no longer had the session and opened a fresh one: its segments count from the start again.
        this.segments.reset();
      }
      this.chunks.acceptThrough(nextSeq - 1, undefined, this.bufferedMs);
      const first = this.chunks.first?.seq ?? this.chunks.nextSeq;
      if (first > nextSeq) {
        const lost = first - nextSeq;
        this.chunks.renumberFrom(nextSeq);
        this.emit(
          'error',
          new TranscriptionClientError(
            ClientErrorCode.AUDIO_LOST,
            `The server resumed the session at chunk ${nextSeq} but had already acknowledged ${lost} later chunk(s); that audio is lost.`,
            { retryable: false, sessionId: this.sessionId, expectedSeq: nextSeq },
          ),
        );
      }
    }
    // With nothing pending, new chunks continue from the server's count, whatever this client numbered before.
    if (this.chunks.size === 0) this.chunks.renumberFrom(nextSeq);
    this.ready = true;
    this.clearHold();
    this.resendFrom(nextSeq);
    const early = this.earlyResults;
    this.earlyResults = [];
    for (const result of early) this.onResult(result);
    this.emit('session', { ...accepted, reopened });
    this.readyWaiters.resolveAll();
  }

  private async finish(): Promise<EndSessionAccepted> {
    if (this.phase === 'starting') await this.readyWaiters.wait();
    this.phase = 'ending';
    let retries = 0;
    for (;;) {
      if (this.chunks.size > 0) await this.chunks.drained.wait();
      this.assertSessionRunning();
      if (!this.ready) await this.readyWaiters.wait();
      const socket = this.socket;
      if (!socket || !socket.connected) continue;
      const connection = this.connection;
      let failure: TranscriptionClientError;
      try {
        const response: Ack<EndSessionAccepted> = await socket
          .timeout(this.endTimeoutMs)
          .emitWithAck('end_session', { session_id: this.sessionId! });
        this.assertSessionRunning();
        if (response.ok) {
          this.segments.flush();
          this.phase = 'ended';
          this.ready = false;
          return stripOk(response);
        }
        failure = refusalError(response.error, this.sessionId);
        if (!failure.retryable) throw failure;
      } catch (error) {
        if (error instanceof TranscriptionClientError) throw error;
        // Lost with the connection: the session resumes on the next one and end_session is asked again.
        if (!this.isCurrent(connection)) continue;
        throw new TranscriptionClientError(
          ClientErrorCode.ACK_TIMEOUT,
          `The server did not finish the session within ${this.endTimeoutMs} ms.`,
          { retryable: false, sessionId: this.sessionId, cause: error },
        );
      }
      retries += 1;
      if (retries > this.retryBackoff.attempts) throw failure;
      this.emit('error', failure);
      await this.sleep(backoffDelay(retries, this.retryBackoff));
    }
  }

  /** Rejects everything still waiting on the session; `report` also emits the error for listeners. */
  private failSession(error: TranscriptionClientError, report = true): void {
    if (this.phase === 'none' || this.phase === 'ended' || this.phase === 'failed') return;
    this.phase = 'failed';
    this.failure = error;
    this.ready = false;
    this.clearHold();
    this.supersedeInFlight();
    this.chunks.failAll(error);
    this.readyWaiters.rejectAll(error);
    if (report) this.emit('error', error);
  }

  private resetSession(): void {
    this.phase = 'none';
    this.sessionId = undefined;
    this.resumeToken = undefined;
    this.sampleRate = undefined;
    this.established = false;
    this.ready = false;
    this.failure = undefined;
    this.kicks = 0;
    this.earlyResults = [];
    this.endPromise = undefined;
    this.chunks.reset();
    this.cursor = 0;
    this.clearHold();
    this.supersedeInFlight();
    this.segments.reset();
  }

  private onResult(result: TranscriptionResult): void {
    if (this.phase === 'starting' && this.sessionId === undefined) {
      // Results may overtake the start_session answer; they wait until the session id is known.
      this.earlyResults.push(result);
      return;
    }
    if (result.session_id !== this.sessionId || this.phase === 'none' || this.phase === 'failed') return;
    this.segments.push(result);
  }

  private onTranscriptionError(event: TranscriptionErrorEvent): void {
    if (event.session_id !== this.sessionId) return;
    this.emit(
      'error',
      new TranscriptionClientError(event.code, event.message, {
        retryable: event.retryable,
        sessionId: event.session_id,
        segment: event.segment,
      }),
    );
  }

  // ---- chunks ----

  /** Transmits pending chunks from the cursor while the session is open here and the window allows. */
  private pump(): void {
    const socket = this.socket;
    if (!socket?.connected || !this.ready || this.holdTimer !== undefined || this.sessionId === undefined) return;
    if (this.phase !== 'active' && this.phase !== 'ending') return;
    const first = this.chunks.first?.seq;
    if (first === undefined) return;
    if (this.cursor < first) this.cursor = first;
    while (this.inFlight < this.maxInFlight) {
      const chunk = this.chunks.at(this.cursor);
      if (!chunk) break;
      this.cursor += 1;
      this.transmit(socket, this.sessionId, chunk);
    }
  }

  private transmit(socket: TranscriptionSocket, sessionId: string, chunk: PendingChunk): void {
    const epoch = this.epoch;
    const seq = chunk.seq;
    if (chunk.transmissions > 0) this.counters.resent += 1;
    chunk.transmissions += 1;
    this.inFlight += 1;
    const sentAt = performance.now();
    socket
      .timeout(this.ackTimeoutMs)
      .emitWithAck('audio_chunk', { session_id: sessionId, seq, chunk: chunk.pcm })
      .then(
        (response: Ack<AudioChunkAccepted>) => this.onChunkAnswer(chunk, seq, epoch, sentAt, response),
        (error: unknown) => this.onChunkUnanswered(chunk, seq, epoch, error),
      )
      .catch((error: unknown) => this.failSession(asClientError(error, this.sessionId)))
      .finally(() => this.pump());
  }

  private onChunkAnswer(chunk: PendingChunk, seq: number, epoch: number, sentAt: number, response: Ack<AudioChunkAccepted>): void {
    if (epoch === this.epoch) this.inFlight -= 1;
    const live = this.chunks.isLive(chunk, seq);
    if (response.ok) {
      const latencyMs = performance.now() - sentAt;
      this.latency.record(latencyMs);
      this.bufferedMs = response.buffered_ms;
      this.kicks = 0;
      if (!live) return;
      const duplicate = response.duplicate === true;
      if (duplicate) this.counters.duplicates += 1;
      this.chunks.acceptThrough(seq, stripOk(response), this.bufferedMs);
      this.emit('ack', { seq, latencyMs, bufferedMs: response.buffered_ms, duplicate });
      return;
    }
    // A refusal of a superseded transmission is answered by the newer one, which the server sees later.
    if (!live || epoch !== this.epoch) return;
    const error = response.error;
    if (error.code === ErrorCode.SEQ_GAP) {
      this.onSeqGap(chunk, error);
    } else if (error.code === ErrorCode.BUFFER_FULL) {
      const now = performance.now();
      chunk.fullSince ??= now;
      if (now - chunk.fullSince > this.bufferFullLimitMs) {
        this.failSession(
          new TranscriptionClientError(error.code, `${error.message} Still refused after ${this.bufferFullLimitMs} ms.`, {
            retryable: false,
            sessionId: this.sessionId,
            seq,
          }),
        );
        return;
      }
      chunk.fullRefusals += 1;
      // Later chunks in flight would only be refused as gaps: pause everything and resend from this one.
      this.hold(backoffDelay(chunk.fullRefusals, this.retryBackoff), seq);
    } else if (error.retryable) {
      if (!this.countRetry(chunk, refusalError(error, this.sessionId, seq))) return;
      this.hold(backoffDelay(chunk.retries, this.retryBackoff), seq);
    } else if (SESSION_FATAL.has(error.code)) {
      this.failSession(refusalError(error, this.sessionId, seq));
    } else {
      this.dropChunk(chunk, refusalError(error, this.sessionId, seq));
    }
  }

  private onChunkUnanswered(chunk: PendingChunk, seq: number, epoch: number, cause: unknown): void {
    // Superseded (by a disconnect, a pause or a resend): whatever replaced this transmission carries on.
    if (epoch !== this.epoch) return;
    this.inFlight -= 1;
    if (!this.chunks.isLive(chunk, seq)) return;
    const timeout = new TranscriptionClientError(
      ClientErrorCode.ACK_TIMEOUT,
      `The server did not acknowledge chunk ${seq} within ${this.ackTimeoutMs} ms.`,
      { retryable: true, sessionId: this.sessionId, seq, cause },
    );
    if (!this.countRetry(chunk, timeout)) return;
    this.resendFrom(seq);
  }

  /** The server expects an earlier seq: it has everything before it; resend from there in order. */
  private onSeqGap(chunk: PendingChunk, error: ProtocolErrorBody): void {
    const expected = error.expected_seq ?? this.chunks.first?.seq ?? chunk.seq;
    this.chunks.acceptThrough(expected - 1, undefined, this.bufferedMs);
    const first = this.chunks.first;
    if (!first) return;
    if (first.seq > expected) {
      const lost = first.seq - expected;
      this.chunks.renumberFrom(expected);
      this.emit(
        'error',
        new TranscriptionClientError(
          ClientErrorCode.AUDIO_LOST,
          `The server expects chunk ${expected} but had acknowledged ${lost} later chunk(s); that audio is lost.`,
          { retryable: false, sessionId: this.sessionId, expectedSeq: expected },
        ),
      );
    }
    const target = this.chunks.first!;
    if (!this.countRetry(target, refusalError(error, this.sessionId, target.seq))) return;
    this.resendFrom(target.seq);
  }

  /** Counts one retry of `chunk`; past the limit the session fails with `error` and false is returned. */
  private countRetry(chunk: PendingChunk, error: TranscriptionClientError): boolean {
    chunk.retries += 1;
    if (chunk.retries <= this.retryBackoff.attempts) return true;
    this.failSession(
      new TranscriptionClientError(error.code, `${error.message} Gave up after ${this.retryBackoff.attempts} retries.`, {
        retryable: false,
        sessionId: this.sessionId,
        seq: chunk.seq,
        expectedSeq: error.expectedSeq,
        cause: error,
      }),
    );
    return false;
  }

  /** A chunk the server will never take (bad audio, too large): reject it and carry on without it. */
  private dropChunk(chunk: PendingChunk, error: TranscriptionClientError): void {
    if (!this.chunks.drop(chunk, error)) return;
    this.emit('error', error);
    this.resendFrom(chunk.seq);
  }

  /** Supersedes every transmission in flight and sends again, in order, from `seq`. */
  private resendFrom(seq: number): void {
    this.supersedeInFlight();
    this.cursor = seq;
    this.pump();
  }

  private hold(delayMs: number, seq: number): void {
    this.supersedeInFlight();
    this.cursor = seq;
    this.clearHold();
    this.holdTimer = setTimeout(() => {
      this.holdTimer = undefined;
      this.pump();
    }, delayMs);
  }

  private clearHold(): void {
    if (this.holdTimer !== undefined) clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
  }

  private supersedeInFlight(): void {
    this.epoch += 1;
    this.inFlight = 0;
  }

  // ---- helpers ----

  private isCurrent(connection: number): boolean {
    return connection === this.connection && this.socket?.connected === true;
  }

  private assertOpen(): void {
    if (this.closed) throw this.closedError();
  }

  private assertSessionRunning(): void {
    this.assertOpen();
    if (this.phase === 'failed' && this.failure) throw this.failure;
    if (this.phase !== 'starting' && this.phase !== 'active' && this.phase !== 'ending') {
      throw new TranscriptionClientError(ClientErrorCode.NO_SESSION, 'The session is no longer running.');
    }
  }

  private closedError(): TranscriptionClientError {
    return new TranscriptionClientError(ClientErrorCode.CLOSED, 'The client was closed.', { retryable: false, sessionId: this.sessionId });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const sleeper = {
        timer: setTimeout(() => {
          this.sleepers.delete(sleeper);
          resolve();
        }, ms),
        reject,
      };
      this.sleepers.add(sleeper);
    });
  }
}

/** socket.io's transport errors hide the useful part (e.g. ECONNREFUSED) in `description`. */
function connectErrorText(error: Error): string {
  const description = (error as { description?: unknown }).description;
  return description instanceof Error ? `${error.message}: ${description.message}` : error.message;
}

function refusalError(body: ProtocolErrorBody, sessionId: string | undefined, seq?: number): TranscriptionClientError {
  return new TranscriptionClientError(body.code, body.message, {
    retryable: body.retryable,
    sessionId,
    seq,
    expectedSeq: body.expected_seq,
  });
}

function asClientError(error: unknown, sessionId: string | undefined): TranscriptionClientError {
  if (error instanceof TranscriptionClientError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new TranscriptionClientError(ErrorCode.INTERNAL_ERROR, `Unexpected client failure: ${message}`, {
    retryable: false,
    sessionId,
    cause: error,
  });
}

/** The accepted payload without the `ok` flag, as the client's promises resolve with. */
function stripOk<T extends { ok: true }>(response: T): Omit<T, 'ok'> {
  const { ok: _ok, ...rest } = response;
  return rest;
}

function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** A private copy of the caller's bytes: Node's Buffer#slice would share memory, so copy through the ArrayBuffer. */
function copyBytes(pcm: Uint8Array | Int16Array | ArrayBuffer): Uint8Array {
  if (pcm instanceof ArrayBuffer) return new Uint8Array(pcm.slice(0));
  return new Uint8Array(pcm.buffer.slice(pcm.byteOffset, pcm.byteOffset + pcm.byteLength));
}
