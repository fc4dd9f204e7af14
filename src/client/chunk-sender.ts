// The client's chunk sender: the window of unacknowledged chunks, what it does with each answer (or its absence),
// and resending from the server's count after a reconnect or a gap, saying so when audio was lost.
import { ErrorCode } from '../protocol/errors.js';
import type { Ack, AudioChunkAccepted, ProtocolErrorBody } from '../protocol/index.js';
import { backoffDelay, type RetryPolicy } from './backoff.js';
import { ChunkQueue, type PendingChunk } from './chunk-queue.js';
import type { Connection, TranscriptionSocket } from './connection.js';
import { ClientErrorCode, TranscriptionClientError } from './errors.js';
import { LatencyTracker } from './latency.js';
import { asClientError, refusalAction, refusalError, stripOk } from './refusals.js';
import type { ChunkAck } from './types.js';

export interface ChunkSenderHooks {
  /** The session id while chunks may flow (its start accepted on the live connection); undefined otherwise. */
  target(): string | undefined;
  /** The session id for errors, whether or not chunks may flow. */
  sessionId(): string | undefined;
  ack(ack: ChunkAck): void;
  /** A problem the session rides out: a chunk rejected, audio lost. */
  error(error: TranscriptionClientError): void;
  /** The session cannot go on. */
  fail(error: TranscriptionClientError): void;
}

export interface ChunkSenderSettings {
  ackTimeoutMs: number;
  maxInFlight: number;
  retry: RetryPolicy;
}

export class ChunkSender {
  /** Unacknowledged chunks, contiguous by seq: acceptance is cumulative because the server takes seqs in order. */
  private readonly chunks = new ChunkQueue();
  /** Next seq to transmit in the current epoch. */
  private cursor = 0;
  /** Bumped whenever in-flight transmissions are superseded (resend, pause, disconnect): their failures are ignored. */
  private epoch = 0;
  private inFlight = 0;
  private holdTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly latency = new LatencyTracker();
  /** The server's latest report of audio accepted but not yet transcribed. */
  bufferedMs = 0;
  readonly counters = { sent: 0, resent: 0, duplicates: 0 };

  constructor(
    private readonly connection: Connection,
    private readonly settings: ChunkSenderSettings,
    private readonly hooks: ChunkSenderHooks,
  ) {}

  get size(): number {
    return this.chunks.size;
  }

  /** Resolves whenever no chunk is waiting; rejects when the session fails. */
  get drained(): ChunkQueue['drained'] {
    return this.chunks.drained;
  }

  stats() {
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

  /** Numbers `pcm`, keeps it until the server accepts it, and sends it when the window allows. */
  add(pcm: Uint8Array): Promise<AudioChunkAccepted> {
    const accepted = this.chunks.add(pcm);
    this.counters.sent += 1;
    this.pump();
    return accepted;
  }

  /**
   * The session (re)opened at the server's `nextSeq`: what the server has is settled, what it lacks is sent again in
   * order. Before the first answer, chunks were numbered provisionally from 0.
   */
  resumeAt(nextSeq: number, firstAnswer: boolean): void {
    if (firstAnswer) this.chunks.renumberFrom(nextSeq);
    else this.settleBefore(nextSeq, `The server resumed the session at chunk ${nextSeq}`);
    // With nothing pending, new chunks continue from the server's count, whatever this client numbered before.
    if (this.chunks.size === 0) this.chunks.renumberFrom(nextSeq);
    this.clearHold();
    this.resendFrom(nextSeq);
  }

  /** The connection went away: whatever was in flight will not be answered; the session's reopening resends it. */
  supersede(): void {
    this.epoch += 1;
    this.inFlight = 0;
  }

  /** Rejects every pending chunk with `error`. */
  failAll(error: TranscriptionClientError): void {
    this.clearHold();
    this.supersede();
    this.chunks.failAll(error);
  }

  /** Forgets everything for a new session (callers fail pending chunks first). */
  reset(): void {
    this.chunks.reset();
    this.cursor = 0;
    this.clearHold();
    this.supersede();
  }

  /** Transmits pending chunks from the cursor while the session is open here and the window allows. */
  pump(): void {
    const socket = this.connection.live;
    const sessionId = this.hooks.target();
    if (!socket || sessionId === undefined || this.holdTimer !== undefined) return;
    const first = this.chunks.first?.seq;
    if (first === undefined) return;
    if (this.cursor < first) this.cursor = first;
    while (this.inFlight < this.settings.maxInFlight) {
      const chunk = this.chunks.at(this.cursor);
      if (!chunk) break;
      this.cursor += 1;
      this.transmit(socket, sessionId, chunk);
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
      .timeout(this.settings.ackTimeoutMs)
      .emitWithAck('audio_chunk', { session_id: sessionId, seq, chunk: chunk.pcm })
      .then(
        (response: Ack<AudioChunkAccepted>) => this.onAnswer(chunk, seq, epoch, sentAt, response),
        (error: unknown) => this.onUnanswered(chunk, seq, epoch, error),
      )
      .catch((error: unknown) => this.hooks.fail(asClientError(error, this.hooks.sessionId())))
      .finally(() => this.pump());
  }

  private onAnswer(chunk: PendingChunk, seq: number, epoch: number, sentAt: number, response: Ack<AudioChunkAccepted>): void {
    if (epoch === this.epoch) this.inFlight -= 1;
    const live = this.chunks.isLive(chunk, seq);
    if (response.ok) {
      const latencyMs = performance.now() - sentAt;
      this.latency.record(latencyMs);
      this.bufferedMs = response.buffered_ms;
      this.connection.markHealthy();
      if (!live) return;
      const duplicate = response.duplicate === true;
      if (duplicate) this.counters.duplicates += 1;
      this.chunks.acceptThrough(seq, stripOk(response), this.bufferedMs);
      this.hooks.ack({ seq, latencyMs, bufferedMs: response.buffered_ms, duplicate });
      return;
    }
    // A refusal of a superseded transmission is answered by the newer one, which the server sees later.
    if (!live || epoch !== this.epoch) return;
    const error = response.error;
    if (error.code === ErrorCode.SEQ_GAP) return this.onSeqGap(chunk, error);
    const action = refusalAction(error);
    const failure = refusalError(error, this.hooks.sessionId(), seq);
    switch (action.kind) {
      case 'move':
        // The node is draining: the session resumes on the next connection, and this chunk goes again there.
        this.connection.moveAway(action.delayMs);
        return;
      case 'busy':
        return this.waitOut(chunk, failure, action.delayMs);
      case 'retry':
        if (this.countRetry(chunk, failure)) this.hold(backoffDelay(chunk.retries, this.settings.retry.backoff), seq);
        return;
      case 'session-gone':
        return this.hooks.fail(failure);
      case 'refused':
        return this.dropChunk(chunk, failure);
    }
  }

  private onUnanswered(chunk: PendingChunk, seq: number, epoch: number, cause: unknown): void {
    // Superseded (by a disconnect, a pause or a resend): whatever replaced this transmission carries on.
    if (epoch !== this.epoch) return;
    this.inFlight -= 1;
    if (!this.chunks.isLive(chunk, seq)) return;
    const timeout = new TranscriptionClientError(
      ClientErrorCode.ACK_TIMEOUT,
      `The server did not acknowledge chunk ${seq} within ${this.settings.ackTimeoutMs} ms.`,
      { retryable: true, sessionId: this.hooks.sessionId(), seq, cause },
    );
    if (this.countRetry(chunk, timeout)) this.resendFrom(seq);
  }

  /** The server expects an earlier seq: it has everything before it; resend from there in order. */
  private onSeqGap(chunk: PendingChunk, error: ProtocolErrorBody): void {
    const expected = error.expected_seq ?? this.chunks.first?.seq ?? chunk.seq;
    this.settleBefore(expected, `The server expects chunk ${expected}`);
    const target = this.chunks.first;
    if (!target) return;
    if (this.countRetry(target, refusalError(error, this.hooks.sessionId(), target.seq))) this.resendFrom(target.seq);
  }

  /** The server has every chunk before `expected`; if it had acknowledged later ones it no longer has, that audio is lost. */
  private settleBefore(expected: number, situation: string): void {
    this.chunks.acceptThrough(expected - 1, undefined, this.bufferedMs);
    const first = this.chunks.first;
    if (!first || first.seq <= expected) return;
    const lost = first.seq - expected;
    this.chunks.renumberFrom(expected);
    this.hooks.error(
      new TranscriptionClientError(
        ClientErrorCode.AUDIO_LOST,
        `${situation} but had already acknowledged ${lost} later chunk(s); that audio is lost.`,
        { retryable: false, sessionId: this.hooks.sessionId(), expectedSeq: expected },
      ),
    );
  }

  /**
   * Busy refusals (BUFFER_FULL, OVERLOADED, RATE_LIMITED) are waited out: after the server's retry_after_ms when it
   * gave one, else a backoff, for a time rather than a count of retries.
   */
  private waitOut(chunk: PendingChunk, failure: TranscriptionClientError, delayMs: number | undefined): void {
    const { bufferFullLimitMs, busyLimitMs, backoff } = this.settings.retry;
    const limitMs = failure.code === ErrorCode.BUFFER_FULL ? bufferFullLimitMs : busyLimitMs;
    const now = performance.now();
    chunk.busySince ??= now;
    if (now - chunk.busySince > limitMs) {
      this.hooks.fail(
        new TranscriptionClientError(failure.code, `${failure.message} Still refused after ${limitMs} ms.`, {
          retryable: false,
          sessionId: failure.sessionId,
          seq: chunk.seq,
        }),
      );
      return;
    }
    chunk.busyRefusals += 1;
    // Later chunks in flight would only be refused as gaps: pause everything and resend from this one.
    this.hold(delayMs ?? backoffDelay(chunk.busyRefusals, backoff), chunk.seq);
  }

  /** Counts one retry of `chunk`; past the limit the session fails with `error` and false is returned. */
  private countRetry(chunk: PendingChunk, error: TranscriptionClientError): boolean {
    const { attempts } = this.settings.retry;
    chunk.retries += 1;
    if (chunk.retries <= attempts) return true;
    this.hooks.fail(
      new TranscriptionClientError(error.code, `${error.message} Gave up after ${attempts} retries.`, {
        retryable: false,
        sessionId: this.hooks.sessionId(),
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
    this.hooks.error(error);
    this.resendFrom(chunk.seq);
  }

  /** Supersedes every transmission in flight and sends again, in order, from `seq`. */
  private resendFrom(seq: number): void {
    this.supersede();
    this.cursor = seq;
    this.pump();
  }

  private hold(delayMs: number, seq: number): void {
    this.supersede();
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
}
