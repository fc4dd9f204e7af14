// The session lifecycle behind one facade: open or resume, append audio, end. Socket handlers parse a payload, call
// one of these and turn the outcome (or the catalogued error it throws) into an ack; they never see the store.
// Longer than most modules because it is the one place each lifecycle rule is checked (ownership, limits, drain,
// admission, lease) in the order that makes refusals cheap; the rules themselves live in their own modules.
import { randomUUID } from 'node:crypto';
import { newResumeToken, resumeTokenMatches } from '../auth/resume-token.js';
import { AudioDecodeError } from '../audio/codecs/index.js';
import {
  AudioDecodeFailedError,
  BufferFullError,
  DrainingError,
  EngineError,
  SegmentRejectedError,
  SequenceGapError,
  SessionEndedError,
  TooManySessionsError,
  UnknownSessionError,
} from '../errors/server-errors.js';
import type { StreamLimits } from '../limits/stream-limits.js';
import type { ServerMetrics } from '../metrics/metrics.js';
import { bytesToMs, ErrorCode, msToBytes, type SessionSettings, type TranscriptionResult, type UntranscribedStretch } from '../protocol/index.js';
import type { AdmissionControl } from '../scheduler/admission.js';
import type { AppendOutcome as StoreAppendOutcome, BufferStore, DecoderWrite, SessionRecord } from '../store/buffer-store.js';
import { eventSpans } from '../telemetry/event-spans.js';
import type { EventTrace, Telemetry } from '../telemetry/telemetry.js';
import { needsDecoder, SessionDecoder } from './session-decoder.js';
import type { SessionRegistry } from './session-registry.js';
import { exactMs, type ResultSink, type SessionRuntime } from './session-runtime.js';

export interface SessionLimits {
  /** Most untranscribed audio one session may buffer. */
  maxBufferMs: number;
  /** How long this process's claim on a session lasts unless renewed (SESSION_LEASE_MS). */
  leaseMs: number;
}

export interface SessionsDeps {
  store: BufferStore;
  registry: SessionRegistry;
  /** Whether this process can take a new session now: its session cap, its event loop and the engine's admission. */
  capacity: Pick<AdmissionControl, 'refusal'>;
  telemetry: Telemetry;
  metrics: ServerMetrics;
  limits: SessionLimits;
  /** Audio rate, audio per session and idleness, checked before the store (src/limits). */
  streamLimits: StreamLimits;
}

/** What the connection asking may hold (from MAX_SESSIONS_PER_CONNECTION and its client token). */
export interface OpenAllowance {
  maxSessions: number;
  /** The setting that set maxSessions, named in the refusal. */
  maxSessionsSource: string;
  /** The token's max_session_ms, lowering MAX_SESSION_MS. */
  maxSessionMs?: number;
}

export interface OpenRequest {
  /** Resume this session; a new id is made when absent. */
  sessionId?: string;
  /** Proof of ownership to resume `sessionId` from a connection that does not hold it. */
  resumeToken?: string;
  settings: SessionSettings;
  allowance: OpenAllowance;
}

export interface OpenOutcome {
  sessionId: string;
  resumed: boolean;
  nextSeq: number;
  sampleRate: number;
  interimIntervalMs?: number;
  /** New sessions only: the secret that proves ownership on a later resume (only its hash is stored). */
  resumeToken?: string;
  /** Results a resumed client may have missed, to send right after the ack, in segment order; a refused segment is its ENGINE_REJECTED error. */
  replay: Array<TranscriptionResult | SegmentRejectedError>;
}

export type AppendOutcome =
  | { status: 'appended'; seq: number; bufferedMs: number; transcription: Promise<void> | undefined }
  | { status: 'duplicate'; seq: number; bufferedMs: number };

export interface EndOutcome {
  sessionId: string;
  text: string;
  segments: number;
  durationMs: number;
  /** Stretches of audio that have no transcript (refused by the engine, or left when an idle session was ended). */
  untranscribed: UntranscribedStretch[];
}

/** Where an idle session's results go once its connection has left: nowhere. */
const NOBODY: ResultSink = { result: () => {}, error: () => {} };

/** What a resend of an acknowledged decoded chunk appends: nothing (the store answers it as a duplicate). */
const NO_AUDIO = Buffer.alloc(0);

/** Ended sessions remembered per connection, so a repeated end_session gets its summary again. */
const ENDED_REMEMBERED = 16;

export class Sessions {
  private draining = false;
  /**
   * Sessions each connection owned that have ended (by its end_session, or by the server while it owned them): only
   * that connection may ask for their summary again. Dropped with the connection.
   */
  private readonly endedBy = new Map<ResultSink, string[]>();

  constructor(private readonly deps: SessionsDeps) {}

  /**
   * True when the connection behind `sink` owns live session `sessionId` (opened or resumed it, and nobody resumed it
   * since). A cheap check for the per-chunk path, before any parsing or store work.
   */
  owns(sessionId: string, sink: ResultSink): boolean {
    return this.deps.registry.find(sessionId)?.attachedTo === sink;
  }

  /** The audio format of a session this process serves (what its chunks must be), if it serves it. */
  formatOf(sessionId: string): SessionSettings['format'] | undefined {
    return this.deps.registry.find(sessionId)?.settings.format;
  }

  /** True when the connection behind `sink` owned `sessionId` when it ended: it is told SESSION_ENDED, not UNKNOWN_SESSION. */
  ownedWhenEnded(sessionId: string, sink: ResultSink): boolean {
    return this.endedBy.get(sink)?.includes(sessionId) ?? false;
  }

  /**
   * Opens a new session or resumes one for the connection behind `sink`. Resuming from a connection that does not
   * hold the session needs its resume token; without it the session is "unknown", exactly like one that does not exist.
   */
  async open(request: OpenRequest, sink: ResultSink, trace: EventTrace): Promise<OpenOutcome> {
    const { store, registry, capacity, metrics, streamLimits } = this.deps;
    const id = request.sessionId ?? randomUUID();
    trace.setSession(id);
    const heldHere = request.sessionId !== undefined && this.owns(id, sink);
    let isNew = request.sessionId === undefined;
    if (request.sessionId !== undefined && !heldHere) {
      const existing = await store.getSession(id);
      const proven = this.ownedWhenEnded(id, sink) || resumeTokenMatches(existing?.resumeTokenHash, request.resumeToken);
      if (existing && !proven) throw new UnknownSessionError(id, 'not-found');
      if (existing?.ended) {
        this.rememberEnded(sink, id);
        throw new SessionEndedError(id, false);
      }
      isNew = existing === undefined;
    }
    if (!heldHere && registry.countAttached(sink) >= request.allowance.maxSessions) {
      throw new TooManySessionsError(
        `this connection already has ${registry.countAttached(sink)} open session(s), the most allowed (${request.allowance.maxSessionsSource}=${request.allowance.maxSessions}); end one first`,
      );
    }
    // New sessions are what overload and drain turn away; a live session resuming keeps going.
    if (isNew) {
      if (this.draining) throw new DrainingError('this server is shutting down; reconnect and start the session on another one');
      const overload = capacity.refusal(registry.size);
      if (overload) throw overload;
    }
    const resume = isNew ? newResumeToken() : undefined;
    const { record, created } = await store.openSession(id, request.settings, resume?.hash);
    // Another connection created this id between the look-up and now: it is theirs.
    if (resume && !created && record.resumeTokenHash !== resume.hash) throw new UnknownSessionError(id, 'not-found');
    if (record.ended) throw new SessionEndedError(id, false);
    // One node serves a session at a time: this claim takes it over from any other, whose late commits now fail.
    const fence = await store.claimSession(id, this.deps.limits.leaseMs).catch((error: unknown) => {
      // Unanswered, the claim may still land: the runtime here must not take its own claim for another node's.
      registry.find(id)?.claimInDoubt();
      throw error;
    });
    const runtime = registry.attach(record, sink);
    runtime.claimed(fence);
    if (needsDecoder(record.settings.format) && !runtime.decoder) {
      // Made here from the store's state: fresh for a new session, continuing the stream for one resumed on this process.
      const decoder = new SessionDecoder(record.settings.format, record.settings.sample_rate, () => store.readDecoder(id));
      runtime.decoder = decoder;
      await decoder.exclusive(() => decoder.ready());
    }
    streamLimits.track(id, {
      receivedMs: bytesToMs(record.receivedBytes, record.settings.sample_rate),
      ...(request.allowance.maxSessionMs === undefined ? {} : { maxSessionMs: request.allowance.maxSessionMs }),
    });
    metrics.sessionStarted(!created);
    metrics.sessionsActive(registry.size);
    const replay: OpenOutcome['replay'] = [];
    if (!created && record.segments > 0) {
      // A resumed client may have missed results while it was away; it keeps the first copy of each segment.
      for (const stored of await store.segmentsFrom(id, 0)) replay.push(stored.failed ? runtime.rejectionOf(stored) : { ...runtime.toResult(stored, 0), replayed: true });
    }
    return {
      sessionId: id,
      resumed: !created,
      nextSeq: record.nextSeq,
      sampleRate: record.settings.sample_rate,
      ...(record.settings.interim_interval_ms ? { interimIntervalMs: record.settings.interim_interval_ms } : {}),
      ...(created && resume ? { resumeToken: resume.token } : {}),
      replay,
    };
  }

  /**
   * Appends a chunk in one store round trip. The outcome's `transcription` is the work the chunk started (a cut
   * segment or an interim), to await after the ack.
   */
  async append(sessionId: string, seq: number | undefined, chunk: Buffer, sink: ResultSink, trace: EventTrace): Promise<AppendOutcome> {
    const runtime = this.deps.registry.find(sessionId);
    // Only the connection holding the session may feed it; to anyone else it does not exist.
    if (!runtime || runtime.attachedTo !== sink) {
      if (this.ownedWhenEnded(sessionId, sink)) throw new SessionEndedError(sessionId, false);
      throw new UnknownSessionError(sessionId, 'not-found');
    }
    if (runtime.isEnding) throw new SessionEndedError(sessionId, true);
    const decoder = runtime.decoder;
    if (!decoder) return this.buffer(runtime, seq, chunk, undefined, trace);
    return decoder.exclusive(() => this.appendDecoded(runtime, decoder, seq, chunk, trace));
  }

  /**
   * A decoded format's chunk: checked against the seq the decoder continues at (a resend of an acknowledged chunk is
   * a duplicate, never decoded again), decoded, and appended with the decoder's new state in one fenced store step.
   */
  private async appendDecoded(runtime: SessionRuntime, decoder: SessionDecoder, seq: number | undefined, chunk: Buffer, trace: EventTrace): Promise<AppendOutcome> {
    const nextSeq = await decoder.ready();
    const at = seq ?? nextSeq;
    if (at < nextSeq) return this.buffer(runtime, at, NO_AUDIO, undefined, trace);
    if (at > nextSeq) throw new SequenceGapError(at, nextSeq);
    const pcm = await eventSpans.decodeChunk(trace, decoder.format, chunk.length, (span) => {
      const started = performance.now();
      try {
        const decoded = decoder.decode(chunk);
        span.setAttributes({ 'audio.decoded_bytes': decoded.length, 'audio.decode_ms': performance.now() - started });
        return decoded;
      } catch (error) {
        if (!(error instanceof AudioDecodeError)) throw error;
        throw new AudioDecodeFailedError(`chunk ${at} is not ${describeFormat(decoder.format)}: ${error.message}; it was not buffered, and the session goes on with the next bytes of the stream`);
      }
    });
    let outcome: AppendOutcome | undefined;
    try {
      outcome = await this.buffer(runtime, at, pcm, { continuation: decoder.continuation(), fence: runtime.claim }, trace);
    } finally {
      // Not appended (refused, or the store failed): the state here ran ahead of the store's and is rebuilt from it.
      if (outcome?.status === 'appended') decoder.appended();
      else decoder.discard();
    }
    return outcome;
  }

  /** Appends PCM in one store round trip (with a decoded format's state); the outcome as the socket layer needs it. */
  private async buffer(runtime: SessionRuntime, seq: number | undefined, chunk: Buffer, decoded: DecoderWrite | undefined, trace: EventTrace): Promise<AppendOutcome> {
    const { store, limits, metrics, streamLimits } = this.deps;
    const sessionId = runtime.id;
    const rate = runtime.settings.sample_rate;
    const audioMs = bytesToMs(chunk.length, rate);
    // Rate and duration before the store: a refused chunk costs no round trip and changes nothing.
    const refusal = streamLimits.admit(sessionId, audioMs);
    if (refusal) throw refusal;
    let receivedMs: number | undefined;
    let outcome;
    try {
      const appendStarted = performance.now();
      outcome = await eventSpans.bufferChunk(trace, store.keyOf(sessionId), chunk.length, store.kind, (): Promise<StoreAppendOutcome> =>
        store.append(sessionId, seq, chunk, msToBytes(limits.maxBufferMs, rate), decoded),
      );
      metrics.storeRoundTrip('append', (performance.now() - appendStarted) / 1000);
      if (outcome.status === 'appended') receivedMs = bytesToMs(outcome.receivedBytes, rate);
    } finally {
      streamLimits.settle(sessionId, audioMs, receivedMs);
    }
    switch (outcome.status) {
      case 'unknown':
        throw new UnknownSessionError(sessionId, 'not-found');
      case 'fenced':
        throw new UnknownSessionError(sessionId, 'not-found', `session ${sessionId} was resumed elsewhere; this connection no longer holds it`);
      case 'ended':
        throw new SessionEndedError(sessionId, false);
      case 'gap':
        throw new SequenceGapError(seq ?? outcome.nextSeq, outcome.nextSeq);
      case 'full':
        throw new BufferFullError(sessionId, Math.round(bytesToMs(outcome.bufferedBytes, rate)), limits.maxBufferMs);
      case 'duplicate':
        return { status: 'duplicate', seq: outcome.seq, bufferedMs: Math.round(bytesToMs(outcome.bufferedBytes, rate)) };
      case 'appended': {
        metrics.chunkAccepted(audioMs / 1000);
        return {
          status: 'appended',
          seq: outcome.seq,
          bufferedMs: Math.round(bytesToMs(outcome.bufferedBytes, rate)),
          transcription: runtime.accept(chunk, outcome.receivedBytes, trace),
        };
      }
    }
  }

  /** Transcribes what is still buffered, emits the last results, ends the session and sums it up. */
  async end(sessionId: string, sink: ResultSink, trace: EventTrace): Promise<EndOutcome> {
    const { store, registry } = this.deps;
    const runtime = registry.find(sessionId);
    if (!runtime || runtime.attachedTo !== sink) {
      // A repeated end_session (its first ack was lost) gets the same answer, if this connection owned the session.
      const record = this.ownedWhenEnded(sessionId, sink) ? await store.getSession(sessionId) : undefined;
      if (!record) throw new UnknownSessionError(sessionId, 'not-found');
      return this.summary(record);
    }
    return this.finish(runtime, sink, trace);
  }

  private async finish(runtime: SessionRuntime, sink: ResultSink, trace: EventTrace): Promise<EndOutcome> {
    const { store } = this.deps;
    const sessionId = runtime.id;
    // Refuse new chunks first, then read how much audio the session holds.
    runtime.beginEnding();
    try {
      if (runtime.decoder) await this.flushDecoder(runtime, runtime.decoder, trace);
      const record = await store.getSession(sessionId);
      if (!record) throw new UnknownSessionError(sessionId, 'expired');
      // A failure leaves the audio buffered: the client may call end_session again.
      await runtime.finish(record.receivedBytes, trace);
      // The idle time-out gave up waiting and ended the session itself.
      if (runtime.isAbandoned) throw new SessionEndedError(sessionId, false);
    } catch (error) {
      runtime.abortEnding();
      throw error;
    }
    const ended = await store.endSession(sessionId);
    this.forgetEnded(runtime, sink);
    if (!ended) throw new UnknownSessionError(sessionId, 'expired', `session ${sessionId} expired while ending`);
    return this.summary(ended);
  }

  /** End of stream: the decoder's last samples are appended, then its state here is let go. */
  private async flushDecoder(runtime: SessionRuntime, decoder: SessionDecoder, trace: EventTrace): Promise<void> {
    const { store } = this.deps;
    await decoder.exclusive(async () => {
      try {
        const nextSeq = await decoder.ready();
        const pcm = decoder.flush();
        if (pcm.length === 0) return;
        const write = { continuation: decoder.continuation(), fence: runtime.claim };
        const outcome = await eventSpans.bufferChunk(trace, store.keyOf(runtime.id), pcm.length, store.kind, () =>
          store.append(runtime.id, nextSeq, pcm, Number.MAX_SAFE_INTEGER, write),
        );
        if (outcome.status === 'fenced') throw new UnknownSessionError(runtime.id, 'not-found', `session ${runtime.id} was resumed elsewhere; this connection no longer holds it`);
      } finally {
        // Flushed: should the end fail and chunks follow, they continue from the store's state.
        decoder.discard();
      }
    });
  }

  /**
   * Ends a session that received no chunk for SESSION_IDLE_TIMEOUT_MS: its remaining audio is transcribed, the
   * results and a SESSION_ENDED notice go to its owner if connected, and the store marks it ended. Always ends it,
   * whatever the engine does: when the last segments fail, or are still running after another `idleMs`, the session
   * is ended without them and the summary lists that audio as untranscribed.
   */
  async endIdle(sessionId: string, idleMs: number): Promise<void> {
    const { registry, store, telemetry, streamLimits } = this.deps;
    let runtime = registry.find(sessionId);
    if (!runtime) {
      // Its owner left and the runtime was let go; the store still holds the session and its audio.
      const record = await store.getSession(sessionId);
      if (!record || record.ended) return;
      runtime = registry.attach(record, NOBODY);
      try {
        runtime.claimed(await store.claimSession(sessionId, this.deps.limits.leaseMs));
      } catch (error) {
        registry.remove(runtime);
        throw error;
      }
    }
    if (runtime.isEnding) {
      // Its own end_session is running: should that fail, the sweep looks at the session again after another time-out.
      const record = await store.getSession(sessionId);
      if (record && !record.ended) streamLimits.track(sessionId, { receivedMs: bytesToMs(record.receivedBytes, record.settings.sample_rate) });
      return;
    }
    // Its connection may have left while the runtime still had work (the runtime stays until that work is done).
    const owner = runtime.attachedTo ?? NOBODY;
    const live = runtime;
    await telemetry.event('end_session', { socketId: 'idle-timeout' }, sessionId, async (trace) => {
      const finishing = this.finish(live, owner, trace);
      let cause: unknown;
      try {
        if ((await settledWithin(finishing, idleMs)) === 'done') return;
        cause = new EngineError(`segments still being transcribed ${idleMs} ms after the idle time-out`, { reason: 'still being transcribed when the session was ended' });
      } catch (error) {
        cause = error;
      }
      // The abandoned finish settles later into a fenced commit or a failure that is no longer anyone's.
      finishing.catch(() => {});
      await this.endAbandoned(live, owner, cause);
    });
    owner.error(sessionId, new SessionEndedError(sessionId, false, `session ${sessionId} was ended after ${idleMs} ms without audio (SESSION_IDLE_TIMEOUT_MS); call end_session for its transcript, or start a new session`));
  }

  /** The session is over here: out of the registry and the limits, told to telemetry, remembered as ended. */
  private forgetEnded(runtime: SessionRuntime, sink: ResultSink): void {
    const { registry, telemetry, metrics, streamLimits } = this.deps;
    registry.remove(runtime);
    streamLimits.forget(runtime.id);
    this.rememberEnded(sink, runtime.id);
    telemetry.sessionEnded(runtime.id);
    metrics.sessionEnded();
    metrics.sessionsActive(registry.size);
  }

  /**
   * Ends a session without the work it still has (its engine failed or hangs): released here first, whatever the
   * store answers, then its remaining audio is committed as untranscribed and the session ended in the store.
   */
  private async endAbandoned(runtime: SessionRuntime, sink: ResultSink, cause: unknown): Promise<void> {
    const { store } = this.deps;
    const sessionId = runtime.id;
    runtime.abandon();
    this.forgetEnded(runtime, sink);
    // A newer claim fences the abandoned work: a commit still on its way writes nothing.
    const fence = await store.claimSession(sessionId, this.deps.limits.leaseMs);
    const record = await store.getSession(sessionId);
    if (record && !record.ended && record.receivedBytes > record.committedBytes) {
      const why = cause instanceof EngineError ? cause.reason : 'the session could not be finished';
      const reason = `not transcribed before the idle time-out ended the session: ${why}`;
      await store.commitSegment(sessionId, record.committedBytes, record.receivedBytes, '', fence, { code: ErrorCode.ENGINE_ERROR, reason });
    }
    await store.endSession(sessionId);
  }

  /** The connection behind `sink` closed. */
  disconnected(sink: ResultSink): void {
    this.endedBy.delete(sink);
    this.deps.registry.detach(sink);
    this.deps.metrics.sessionsActive(this.deps.registry.size);
  }

  /** Why new sessions are refused now (the engine is behind), for readiness; undefined when they are welcome. */
  overloaded(): Error | undefined {
    return this.deps.capacity.refusal(this.deps.registry.size);
  }

  /** Stop taking new sessions (shutdown); running ones go on. */
  startDraining(): void {
    this.draining = true;
  }

  /** Resolves once no session of this process has work queued or running. */
  async settled(): Promise<void> {
    for (;;) {
      const busy = [...this.deps.registry.all()].filter((runtime) => !runtime.idle);
      if (busy.length === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  private rememberEnded(sink: ResultSink, sessionId: string): void {
    // No connection will ask: remembering for nobody would only grow the map.
    if (sink === NOBODY) return;
    let ids = this.endedBy.get(sink);
    if (!ids) this.endedBy.set(sink, (ids = []));
    if (ids.includes(sessionId)) return;
    ids.push(sessionId);
    if (ids.length > ENDED_REMEMBERED) ids.shift();
  }

  private async summary(record: SessionRecord): Promise<EndOutcome> {
    const segments = await this.deps.store.segmentsFrom(record.id, 0);
    const rate = record.settings.sample_rate;
    return {
      sessionId: record.id,
      text: segments
        .filter((s) => !s.failed)
        .map((s) => s.text)
        .join(' '),
      segments: record.segments,
      durationMs: Math.round(bytesToMs(record.receivedBytes, rate)),
      untranscribed: segments.flatMap((s) =>
        s.failed ? [{ segment: s.segment, start_ms: exactMs(s.startByte, rate), end_ms: exactMs(s.endByte, rate), code: s.failed.code, reason: s.failed.reason }] : [],
      ),
    };
  }
}

function describeFormat(format: string): string {
  switch (format) {
    case 'mulaw':
    case 'alaw':
      return `G.711 ${format === 'mulaw' ? 'μ-law' : 'A-law'}`;
    case 'ogg_opus':
      return 'the next bytes of an Ogg Opus stream';
    case 'webm_opus':
      return 'the next bytes of a WebM stream with an Opus track';
    default:
      return format;
  }
}

/** 'done' when `work` settles within `ms` (rethrowing its failure), 'late' when it is still running. */
async function settledWithin(work: Promise<unknown>, ms: number): Promise<'done' | 'late'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), ms);
  });
  try {
    return await Promise.race([work.then(() => 'done' as const), late]);
  } finally {
    clearTimeout(timer);
  }
}
