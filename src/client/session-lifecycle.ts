// The client's session part: start (or resume) and end one session over whatever connection is up, its phase, and
// what identifies it (id and resume token), so a reconnect resumes the same session instead of forking a new one.
import { ErrorCode } from '../protocol/errors.js';
import type { Ack, EndSessionAccepted, StartSessionAccepted, StartSessionRequest } from '../protocol/index.js';
import type { RetryPolicy } from './backoff.js';
import type { ChunkSender } from './chunk-sender.js';
import type { Connection } from './connection.js';
import { ClientErrorCode, TranscriptionClientError } from './errors.js';
import { definedOnly } from './handshake-auth.js';
import { asClientError } from './refusals.js';
import { ASK_AGAIN, askUntilAnswered, type SessionRequestContext } from './session-request.js';
import type { SessionInfo, SessionOpened, SessionPhase, StartOptions } from './types.js';
import { Waiters, type Pauses } from './waiters.js';

export interface SessionHooks {
  /** start_session was accepted, first or again after a reconnect: chunks may flow. */
  opened(session: SessionOpened): void;
  /** end_session was accepted: no more results will come. */
  ended(): void;
  error(error: TranscriptionClientError): void;
}

export interface SessionSettings {
  ackTimeoutMs: number;
  endTimeoutMs: number;
  retry: RetryPolicy;
}

export class SessionLifecycle {
  private phase_: SessionPhase = 'none';
  private id: string | undefined;
  private resumeToken: string | undefined;
  private sampleRate: number | undefined;
  private request: Omit<StartSessionRequest, 'session_id' | 'resume_token'> = {};
  /** The server has answered start_session at least once for this session. */
  private established = false;
  /** start_session has been accepted on the current connection, so chunks may flow. */
  private ready = false;
  private opening = false;
  private failure: TranscriptionClientError | undefined;
  private readonly readyWaiters = new Waiters<void>();
  private readonly requests: SessionRequestContext;

  constructor(
    private readonly connection: Connection,
    private readonly sender: ChunkSender,
    pauses: Pauses,
    private readonly settings: SessionSettings,
    private readonly hooks: SessionHooks,
  ) {
    this.requests = { connection, pauses, retry: settings.retry, sessionId: () => this.id, report: (error) => hooks.error(error) };
  }

  get phase(): SessionPhase {
    return this.phase_;
  }

  get info(): SessionInfo {
    return { id: this.id, sampleRate: this.sampleRate, phase: this.phase_, resumeToken: this.resumeToken };
  }

  get failed(): TranscriptionClientError | undefined {
    return this.phase_ === 'failed' ? this.failure : undefined;
  }

  get running(): boolean {
    return this.phase_ === 'starting' || this.phase_ === 'active' || this.phase_ === 'ending';
  }

  /** The session id while chunks may flow on the live connection. */
  get chunkTarget(): string | undefined {
    return this.ready && (this.phase_ === 'active' || this.phase_ === 'ending') ? this.id : undefined;
  }

  /** Forgets the previous session and takes the new one's settings; open() then asks the server. */
  begin(options: StartOptions): void {
    this.reset();
    this.phase_ = 'starting';
    this.id = options.sessionId;
    this.resumeToken = options.sessionId === undefined ? undefined : options.resumeToken;
    this.request = definedOnly({
      format: options.format,
      sample_rate: options.sampleRate,
      language: options.language,
      prompt: options.prompt,
      model: options.model,
      interim_results: options.interimResults,
      interim_interval_ms: options.interimResults ? options.interimIntervalMs : undefined,
      word_timestamps: options.wordTimestamps,
      utterance_end_ms: options.utteranceEndMs,
      keyterms: options.keyterms,
    });
  }

  /**
   * Sends start_session until it is accepted on the live connection; the answer is applied in the same tick. Resolves
   * undefined only when the session turned out to have ended already (end_session's answer was lost).
   */
  async open(): Promise<StartSessionAccepted | undefined> {
    this.opening = true;
    try {
      return await askUntilAnswered<StartSessionAccepted, StartSessionAccepted | undefined>(
        {
          check: () => this.assertRunning(),
          ready: () => this.connection.wait(),
          send: (socket) => {
            const payload: StartSessionRequest = { ...this.request };
            if (this.id !== undefined) payload.session_id = this.id;
            if (this.id !== undefined && this.resumeToken !== undefined) payload.resume_token = this.resumeToken;
            // socket.io's typings lose the ack type once timeout() is applied: restate it.
            const answer: Promise<Ack<StartSessionAccepted>> = socket.timeout(this.settings.ackTimeoutMs).emitWithAck('start_session', payload);
            return answer;
          },
          accepted: (accepted, current) => {
            // Keep the id (and token) even if this connection is gone: the next start_session then resumes, not forks.
            this.id = accepted.session_id;
            if (accepted.resume_token !== undefined) this.resumeToken = accepted.resume_token;
            if (!current) return ASK_AGAIN;
            this.apply(accepted);
            return accepted;
          },
          refused: (error, current) => {
            if (error.code !== ErrorCode.SESSION_ENDED || this.phase_ !== 'ending' || this.sender.size > 0) return undefined;
            // end_session reached the server but its answer was lost with the connection: asking again (on this
            // connection, without a start) returns the same summary.
            if (!current) return ASK_AGAIN;
            this.markReady();
            return { result: undefined };
          },
          unanswered: (cause) =>
            new TranscriptionClientError(ClientErrorCode.ACK_TIMEOUT, `The server did not answer start_session within ${this.settings.ackTimeoutMs} ms.`, {
              retryable: true,
              sessionId: this.id,
              cause,
            }),
        },
        this.requests,
      );
    } finally {
      this.opening = false;
    }
  }

  /** Waits until every chunk is accepted, then asks end_session until it is answered. */
  async finish(): Promise<EndSessionAccepted> {
    if (this.phase_ === 'starting') await this.readyWaiters.wait();
    this.phase_ = 'ending';
    return askUntilAnswered<EndSessionAccepted, EndSessionAccepted>(
      {
        check: () => this.assertRunning(),
        ready: async () => {
          for (;;) {
            if (this.sender.size > 0) await this.sender.drained.wait();
            this.assertRunning();
            if (!this.ready) await this.readyWaiters.wait();
            const socket = this.connection.live;
            if (socket && this.sender.size === 0) return socket;
          }
        },
        send: (socket) => {
          const answer: Promise<Ack<EndSessionAccepted>> = socket.timeout(this.settings.endTimeoutMs).emitWithAck('end_session', { session_id: this.id! });
          return answer;
        },
        accepted: (ended) => {
          this.hooks.ended();
          this.phase_ = 'ended';
          this.ready = false;
          return ended;
        },
        unanswered: (cause) =>
          new TranscriptionClientError(ClientErrorCode.ACK_TIMEOUT, `The server did not finish the session within ${this.settings.endTimeoutMs} ms.`, {
            retryable: false,
            sessionId: this.id,
            cause,
          }),
      },
      this.requests,
    );
  }

  /** A connection is up: a session that was running resumes by itself; one still starting has its own open() call. */
  onConnected(): void {
    if ((this.phase_ === 'active' || this.phase_ === 'ending') && !this.opening) {
      this.open().catch((error: unknown) => this.fail(asClientError(error, this.id)));
    }
  }

  onDisconnected(): void {
    this.ready = false;
  }

  /** Rejects everything still waiting on the session; `report` also emits the error for listeners. */
  fail(error: TranscriptionClientError, report = true): void {
    if (!this.running) return;
    this.phase_ = 'failed';
    this.failure = error;
    this.ready = false;
    this.sender.failAll(error);
    this.readyWaiters.rejectAll(error);
    if (report) this.hooks.error(error);
  }

  assertRunning(): void {
    if (this.phase_ === 'failed' && this.failure) throw this.failure;
    if (!this.running) throw new TranscriptionClientError(ClientErrorCode.NO_SESSION, 'The session is no longer running.');
  }

  private reset(): void {
    this.phase_ = 'none';
    this.id = undefined;
    this.resumeToken = undefined;
    this.sampleRate = undefined;
    this.established = false;
    this.ready = false;
    this.failure = undefined;
    this.sender.reset();
  }

  /** Takes the server's answer as the truth: its next_seq decides what is settled and what is sent again. */
  private apply(accepted: StartSessionAccepted): void {
    const reopened = this.established;
    this.sampleRate = accepted.sample_rate;
    if (!reopened) {
      this.established = true;
      this.phase_ = 'active';
    }
    this.ready = true;
    this.sender.resumeAt(accepted.next_seq, !reopened);
    this.hooks.opened({ ...accepted, reopened });
    this.readyWaiters.resolveAll();
  }

  private markReady(): void {
    this.ready = true;
    this.readyWaiters.resolveAll();
  }
}
