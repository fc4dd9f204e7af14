// The one client of the /transcription protocol (Node and browser): a small facade over three parts, as
// socket.io-client splits Manager from Socket: the connection, the session lifecycle (start, resume, end) and the chunk sender; results
// come out in segment order.
import { ErrorCode } from '../protocol/errors.js';
import { NAMESPACE } from '../protocol/events.js';
import type { AudioChunkAccepted, AudioFormat, EndSessionAccepted, StartSessionAccepted, TranscriptionErrorEvent, TranscriptionResult } from '../protocol/index.js';
import type { RetryPolicy } from './backoff.js';
import { ChunkSender } from './chunk-sender.js';
import { Connection } from './connection.js';
import { TypedEmitter } from './emitter.js';
import { ClientErrorCode, TranscriptionClientError } from './errors.js';
import { asClientError } from './refusals.js';
import { SegmentOrder } from './segment-order.js';
import { SessionLifecycle } from './session-lifecycle.js';
import type { ClientStats, ConnectionState, SessionInfo, StartOptions, TranscriptionClientEvents, TranscriptionClientOptions } from './types.js';
import { Pauses } from './waiters.js';

export class TranscriptionClient extends TypedEmitter<TranscriptionClientEvents> {
  private readonly connection: Connection;
  private readonly lifecycle: SessionLifecycle;
  private readonly sender: ChunkSender;
  private readonly segments: SegmentOrder;
  private readonly pauses = new Pauses();
  private closed = false;
  /** The running session's format: only pcm_s16le chunks must hold whole 16-bit samples. */
  private format: AudioFormat = 'pcm_s16le';
  private endPromise: Promise<EndSessionAccepted> | undefined;
  /** Results that overtook the start_session answer: they wait until the session id is known. */
  private earlyResults: TranscriptionResult[] = [];
  private readonly counters = { results: 0, interims: 0 };

  constructor(options: TranscriptionClientOptions) {
    super();
    const base = options.url.replace(/\/+$/, '');
    const reconnect = {
      delayMs: options.reconnect?.delayMs ?? 500,
      maxDelayMs: options.reconnect?.maxDelayMs ?? 5000,
      randomization: options.reconnect?.randomization ?? 0.5,
      attempts: options.reconnect?.attempts ?? 10,
    };
    const retry: RetryPolicy = {
      attempts: options.retry?.attempts ?? 5,
      backoff: { delayMs: options.retry?.delayMs ?? 250, maxDelayMs: options.retry?.maxDelayMs ?? 5000, randomization: 0.5 },
      bufferFullLimitMs: options.retry?.bufferFullLimitMs ?? 60_000,
      busyLimitMs: options.retry?.busyLimitMs ?? 120_000,
    };
    this.connection = new Connection(
      { ...options, endpoint: base.endsWith(NAMESPACE) ? base : base + NAMESPACE, reconnect },
      {
        state: (state) => this.emit('state', state),
        connected: () => this.lifecycle.onConnected(),
        disconnected: () => {
          this.lifecycle.onDisconnected();
          this.sender.supersede();
        },
        lost: (error) => this.lifecycle.fail(error),
        result: (result) => this.onResult(result),
        transcriptionError: (event) => this.onTranscriptionError(event),
        utteranceEnd: (event) => this.emit('utteranceEnd', event),
        notice: (notice) => this.emit('notice', notice),
        wanted: () => this.lifecycle.running,
        sessionId: () => this.lifecycle.info.id,
      },
    );
    this.sender = new ChunkSender(
      this.connection,
      { ackTimeoutMs: options.ackTimeoutMs ?? 5000, maxInFlight: Math.max(1, options.maxInFlight ?? 32), retry },
      {
        target: () => this.lifecycle.chunkTarget,
        sessionId: () => this.lifecycle.info.id,
        ack: (ack) => this.emit('ack', ack),
        error: (error) => this.emit('error', error),
        fail: (error) => this.lifecycle.fail(error),
      },
    );
    this.lifecycle = new SessionLifecycle(
      this.connection,
      this.sender,
      this.pauses,
      { ackTimeoutMs: options.ackTimeoutMs ?? 5000, endTimeoutMs: options.endTimeoutMs ?? 60_000, retry },
      {
        opened: (session) => {
          // The server no longer had the session and opened a fresh one: its segments count from the start again.
          if (session.reopened && !session.resumed) this.segments.reset();
          const early = this.earlyResults;
          this.earlyResults = [];
          for (const result of early) this.onResult(result);
          this.emit('session', session);
        },
        ended: () => this.segments.flush(),
        error: (error) => this.emit('error', error),
      },
    );
    this.segments = new SegmentOrder(
      (result) => {
        this.counters.results += 1;
        this.emit('result', result);
      },
      {
        firstSegment: options.firstSegment ?? 0,
        gapTimeoutMs: options.segmentGapTimeoutMs ?? 10_000,
        interim: (result) => {
          this.counters.interims += 1;
          this.emit('interim', result);
        },
      },
    );
  }

  get state(): ConnectionState {
    return this.connection.state;
  }

  /** The current session: its id once the server has accepted it, and the resume token to keep with that id. */
  get session(): SessionInfo {
    return this.lifecycle.info;
  }

  /** Connects (or waits for the running reconnection); rejects with CONNECT_REFUSED, DISCONNECTED or CLOSED. */
  async connect(): Promise<void> {
    await this.connection.wait();
  }

  /**
   * Opens a session (or resumes `sessionId`). Chunks may be sent as soon as this is called; they are numbered
   * from the server's next_seq once it answers.
   */
  async start(options: StartOptions = {}): Promise<StartSessionAccepted> {
    if (this.closed) throw this.closedError();
    if (this.lifecycle.running) {
      throw new TranscriptionClientError(ClientErrorCode.SESSION_ACTIVE, 'A session is already running: end() it before starting another.');
    }
    this.earlyResults = [];
    this.endPromise = undefined;
    this.segments.reset();
    this.connection.markHealthy();
    this.format = options.format ?? 'pcm_s16le';
    this.lifecycle.begin(options);
    try {
      const accepted = await this.lifecycle.open();
      // Only a session that is ending can open without an answer, and this one is just starting.
      if (!accepted) throw new TranscriptionClientError(ErrorCode.SESSION_ENDED, 'The session has already ended.');
      return accepted;
    } catch (error) {
      const failure = asClientError(error, this.lifecycle.info.id);
      this.lifecycle.fail(failure, false);
      throw failure;
    }
  }

  /**
   * Queues one chunk of the session's format (mono 16-bit little-endian PCM by default; G.711 bytes; the next bytes of
   * an Ogg or WebM Opus stream, cut anywhere); resolves when the server has accepted it. The bytes are
   * copied, so the caller may reuse its buffer.
   */
  sendChunk(pcm: Uint8Array | Int16Array | ArrayBuffer): Promise<AudioChunkAccepted> {
    const refusal = this.refusal();
    if (refusal) return Promise.reject(refusal);
    if (this.lifecycle.phase === 'ending') {
      return Promise.reject(
        new TranscriptionClientError(ErrorCode.SESSION_ENDED, 'end() was called: no more audio can be sent in this session.', {
          sessionId: this.lifecycle.info.id,
        }),
      );
    }
    const bytes = copyBytes(pcm);
    if (bytes.byteLength === 0 || (this.format === 'pcm_s16le' && bytes.byteLength % 2 !== 0)) {
      return Promise.reject(
        new TranscriptionClientError(
          ErrorCode.INVALID_AUDIO,
          `A chunk must hold whole 16-bit samples (an even, non-zero number of bytes); got ${bytes.byteLength} bytes.`,
          { retryable: false },
        ),
      );
    }
    return this.sender.add(bytes);
  }

  /** Waits until every chunk is accepted, then ends the session; resolves with the session's full text. */
  end(): Promise<EndSessionAccepted> {
    if (this.closed) return Promise.reject(this.closedError());
    if (this.endPromise) return this.endPromise;
    const refusal = this.refusal('No session is running.');
    if (refusal) return Promise.reject(refusal);
    this.endPromise = this.lifecycle.finish().then(
      (accepted) => {
        this.endPromise = undefined;
        return accepted;
      },
      (error: unknown) => {
        this.endPromise = undefined;
        const failure = asClientError(error, this.lifecycle.info.id);
        this.lifecycle.fail(failure, false);
        throw failure;
      },
    );
    return this.endPromise;
  }

  stats(): ClientStats {
    return { ...this.sender.stats(), ...this.counters, reconnects: this.connection.reconnects };
  }

  /** Disconnects for good; unfinished work rejects with CLOSED. */
  close(): void {
    if (this.closed) return;
    const error = this.closedError();
    this.closed = true;
    this.lifecycle.fail(error, false);
    this.pauses.cancelAll(error);
    this.segments.reset();
    this.connection.close(error);
  }

  /** Why audio or end() cannot be taken now, if they cannot. */
  private refusal(noSession = 'Call start() before sending audio.'): TranscriptionClientError | undefined {
    if (this.closed) return this.closedError();
    const failed = this.lifecycle.failed;
    if (failed) return failed;
    const phase = this.lifecycle.phase;
    if (phase === 'none' || phase === 'ended') return new TranscriptionClientError(ClientErrorCode.NO_SESSION, noSession);
    return undefined;
  }

  private onResult(result: TranscriptionResult): void {
    const { phase, id } = this.lifecycle.info;
    if (phase === 'starting' && id === undefined) {
      this.earlyResults.push(result);
      return;
    }
    if (result.session_id !== id || phase === 'none' || phase === 'failed') return;
    this.segments.push(result);
  }

  private onTranscriptionError(event: TranscriptionErrorEvent): void {
    if (event.session_id !== this.lifecycle.info.id) return;
    this.emit(
      'error',
      new TranscriptionClientError(event.code, event.message, {
        retryable: event.retryable,
        sessionId: event.session_id,
        segment: event.segment,
        retryAfterMs: event.retry_after_ms,
      }),
    );
    // A refused segment has no final: later results must not wait for it. The session goes on (not fatal).
    if (event.code === ErrorCode.ENGINE_REJECTED && event.segment !== undefined) this.segments.skip(event.segment);
  }

  private closedError(): TranscriptionClientError {
    return new TranscriptionClientError(ClientErrorCode.CLOSED, 'The client was closed.', { retryable: false, sessionId: this.lifecycle.info.id });
  }
}

/** A private copy of the caller's bytes: Node's Buffer#slice would share memory, so copy through the ArrayBuffer. */
function copyBytes(pcm: Uint8Array | Int16Array | ArrayBuffer): Uint8Array {
  if (pcm instanceof ArrayBuffer) return new Uint8Array(pcm.slice(0));
  return new Uint8Array(pcm.buffer.slice(pcm.byteOffset, pcm.byteOffset + pcm.byteLength));
}
