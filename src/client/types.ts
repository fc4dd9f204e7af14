// The client's public option, event and statistics shapes, kept apart so the client module holds only behaviour.
import type { ManagerOptions, SocketOptions, io } from 'socket.io-client';
import type { AudioFormat, ServerNotice, StartSessionAccepted, TranscriptionResult, UtteranceEnd } from '../protocol/index.js';
import type { TranscriptionClientError } from './errors.js';

export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'disconnected' | 'closed';

export interface ReconnectOptions {
  /** First delay before reconnecting, in milliseconds (default 500). */
  delayMs?: number;
  /** Longest delay between reconnection attempts (default 5000). */
  maxDelayMs?: number;
  /** 0 to 1: random spread of each delay (default 0.5). */
  randomization?: number;
  /** Attempts before the client gives up and fails the session with DISCONNECTED (default 10; Infinity = never). */
  attempts?: number;
}

export interface RetryOptions {
  /** Retries of one chunk (or of start/end) after timeouts and retryable refusals, before failing (default 5). */
  attempts?: number;
  /** First retry delay after a retryable refusal such as BUFFER_FULL, in milliseconds (default 250). */
  delayMs?: number;
  /** Longest retry delay (default 5000). */
  maxDelayMs?: number;
  /**
   * BUFFER_FULL is backpressure (the server is transcribing what it has), so it is retried for a time rather than
   * a count: how long one chunk may keep being refused before the session fails (default 60000).
   */
  bufferFullLimitMs?: number;
  /**
   * OVERLOADED and RATE_LIMITED refusals are retried after the server's retry_after_ms, uncounted: how long one
   * request (start_session, a chunk, end_session) may keep being refused so before it fails (default 120000).
   */
  busyLimitMs?: number;
}

/** Returns a fresh handshake token; called before every connection attempt, so short-lived tokens never go stale. */
export type TokenSource = () => string | Promise<string>;

export interface TranscriptionClientOptions {
  /** Server origin, e.g. "http://localhost:3000"; the /transcription namespace is added. */
  url: string;
  /**
   * Sent as handshake auth.token; required when the server sets AUTH_TOKEN or asks for short-lived tokens. A
   * function is called before each connection and reconnection for a fresh one (e.g. from POST /v1/tokens).
   */
  token?: string | TokenSource;
  /** Sentry trace propagation headers, sent in the handshake so server spans join the caller's trace. */
  sentryTrace?: string;
  baggage?: string;
  /** How long to wait for a chunk or start_session ack (default 5000). */
  ackTimeoutMs?: number;
  /** How long to wait for the end_session ack, which comes after the last segments are transcribed (default 60000). */
  endTimeoutMs?: number;
  /** Chunks sent but not yet acknowledged at one time (default 32). */
  maxInFlight?: number;
  reconnect?: ReconnectOptions;
  retry?: RetryOptions;
  /** First segment number of a new session (default 0). */
  firstSegment?: number;
  /** How long a result waits for a missing earlier segment before it is delivered anyway (default 10000). */
  segmentGapTimeoutMs?: number;
  /** Passed to socket.io-client, e.g. { transports: ['websocket'] }; overrides the client's own choices. */
  socketOptions?: Partial<ManagerOptions & SocketOptions>;
  /** The socket.io-client `io` function, for bundles that provide their own copy. */
  io?: typeof io;
}

export interface StartOptions {
  /** Resume this session if it is live on the server (or create it under this id). */
  sessionId?: string;
  /**
   * What the chunks are (default pcm_s16le): mulaw / alaw (G.711, one byte a sample), ogg_opus / webm_opus (the
   * consecutive bytes of one Ogg or WebM Opus stream, as opusenc or MediaRecorder write it). See docs/protocol.md.
   */
  format?: AudioFormat;
  /**
   * Hz of the PCM or G.711 you will send (server default 16000, G.711 8000); for Opus, the rate the server decodes to
   * (default 16000).
   */
  sampleRate?: number;
  language?: string;
  prompt?: string;
  model?: string;
  /**
   * With `sessionId`: the `resume_token` of that session's first start (see `session.resumeToken`), proof that this
   * client owns it. Servers that issue no tokens need none.
   */
  resumeToken?: string;
  /** Ask for interim results: guesses at the current segment, emitted as 'interim' until its final 'result'. */
  interimResults?: boolean;
  /** How often an interim comes, in ms of new speech (the server's default when left out). */
  interimIntervalMs?: number;
  /** Finals carry `words` with their times. */
  wordTimestamps?: boolean;
  /** Emit 'utteranceEnd' once this much non-speech (ms, at least 500) follows speech. */
  utteranceEndMs?: number;
  /** Words and names to favour (at most 50, each at most 50 characters). */
  keyterms?: string[];
}

/** The current session as the client knows it. */
export interface SessionInfo {
  /** Known once the server has accepted the session. */
  id: string | undefined;
  sampleRate: number | undefined;
  phase: SessionPhase;
  /** The secret the server gave the session at its start; keep it with `id` to resume from elsewhere. */
  resumeToken: string | undefined;
}

/** One acknowledged chunk. */
export interface ChunkAck {
  seq: number;
  /** Round trip of the transmission that was acknowledged, in milliseconds. */
  latencyMs: number;
  bufferedMs: number;
  duplicate: boolean;
}

/** start_session was accepted, first or again after a reconnect. */
export interface SessionOpened extends StartSessionAccepted {
  /** True when this is the client re-opening its session after a reconnect. */
  reopened: boolean;
}

export interface TranscriptionClientEvents {
  /** Final results (`is_final: true`), each segment once, in segment order. */
  result: TranscriptionResult;
  /** Interim results of the segment in progress (`is_final: false`): each replaces the last, until that segment's 'result'. */
  interim: TranscriptionResult;
  /** Sessions started with utteranceEndMs: the speaker stopped; `end_ms` is where the speech ended (audio time). */
  utteranceEnd: UtteranceEnd;
  /** The server announced it is going away (SERVER_DRAINING): the client reconnects after `retry_after_ms` and resumes. */
  notice: ServerNotice;
  error: TranscriptionClientError;
  state: ConnectionState;
  ack: ChunkAck;
  session: SessionOpened;
}

export interface ClientStats {
  /** Chunks handed to sendChunk and numbered. */
  sent: number;
  /** Chunks the server has accepted. */
  acked: number;
  /** Chunks kept for resending until the server accepts them. */
  unacked: number;
  /** Transmissions beyond the first, after timeouts, gaps, refusals and reconnects. */
  resent: number;
  /** Acks that said the server already had the chunk. */
  duplicates: number;
  /** Chunks rejected to the caller. */
  failed: number;
  /** Successful connections after the first. */
  reconnects: number;
  /** Results delivered through the 'result' event. */
  results: number;
  /** Interim results delivered through the 'interim' event. */
  interims: number;
  p50AckMs: number | undefined;
  p95AckMs: number | undefined;
  p99AckMs: number | undefined;
  maxAckMs: number | undefined;
  /** The server's latest report of audio accepted but not yet transcribed. */
  bufferedMs: number;
}

export type SessionPhase = 'none' | 'starting' | 'active' | 'ending' | 'ended' | 'failed';
