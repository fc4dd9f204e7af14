// The session lifecycle behind one facade: open or resume, append audio, end. Socket handlers parse a payload, call
// one of these and turn the outcome (or the catalogued error it throws) into an ack; they never see the store.
import { randomUUID } from 'node:crypto';
import {
  BufferFullError,
  DrainingError,
  SequenceGapError,
  SessionEndedError,
  UnknownSessionError,
} from '../errors/server-errors.js';
import type { ServerMetrics } from '../metrics/metrics.js';
import { bytesToMs, msToBytes, type SessionSettings, type TranscriptionResult } from '../protocol/index.js';
import type { AdmissionControl } from '../scheduler/admission.js';
import type { BufferStore, SessionRecord } from '../store/buffer-store.js';
import { eventSpans } from '../telemetry/event-spans.js';
import type { EventTrace, Telemetry } from '../telemetry/telemetry.js';
import type { SessionRegistry } from './session-registry.js';
import type { ResultSink } from './session-runtime.js';

export interface SessionLimits {
  /** Most untranscribed audio one session may buffer. */
  maxBufferMs: number;
}

export interface SessionsDeps {
  store: BufferStore;
  registry: SessionRegistry;
  admission: AdmissionControl;
  telemetry: Telemetry;
  metrics: ServerMetrics;
  limits: SessionLimits;
}

export interface OpenRequest {
  /** Resume this session; a new id is made when absent. */
  sessionId?: string;
  settings: SessionSettings;
}

export interface OpenOutcome {
  sessionId: string;
  resumed: boolean;
  nextSeq: number;
  sampleRate: number;
  interimIntervalMs?: number;
  /** Results a resumed client may have missed, to send right after the ack. */
  replay: TranscriptionResult[];
}

export type AppendOutcome =
  | { status: 'appended'; seq: number; bufferedMs: number; transcription: Promise<void> | undefined }
  | { status: 'duplicate'; seq: number; bufferedMs: number };

export interface EndOutcome {
  sessionId: string;
  text: string;
  segments: number;
  durationMs: number;
}

export class Sessions {
  private draining = false;

  constructor(private readonly deps: SessionsDeps) {}

  /** Sessions this process serves now. */
  get active(): number {
    return this.deps.registry.size;
  }

  /** Opens a new session or resumes a live one for the connection behind `sink`. */
  async open(request: OpenRequest, sink: ResultSink, trace: EventTrace): Promise<OpenOutcome> {
    const { store, registry, admission, metrics } = this.deps;
    const id = request.sessionId ?? randomUUID();
    trace.setSession(id);
    // New sessions are what overload and drain turn away; a live session resuming keeps going.
    const isNew = request.sessionId === undefined || (registry.find(id) === undefined && !(await store.getSession(id)));
    if (isNew) {
      if (this.draining) throw new DrainingError('this server is shutting down; reconnect and start the session on another one', { retryAfterMs: 1000 });
      const overload = admission.refusal(registry.size);
      if (overload) throw overload;
    }
    const { record, created } = await store.openSession(id, request.settings);
    if (record.ended) throw new SessionEndedError(id, false);
    const runtime = registry.attach(record, sink);
    metrics.sessionStarted(!created);
    metrics.sessionsActive(registry.size);
    const replay: TranscriptionResult[] = [];
    if (!created && record.segments > 0) {
      // A resumed client may have missed results while it was away; it keeps the first copy of each segment.
      for (const stored of await store.segmentsFrom(id, 0)) replay.push({ ...runtime.toResult(stored, 0), replayed: true });
    }
    return {
      sessionId: id,
      resumed: !created,
      nextSeq: record.nextSeq,
      sampleRate: record.settings.sample_rate,
      ...(record.settings.interim_interval_ms ? { interimIntervalMs: record.settings.interim_interval_ms } : {}),
      replay,
    };
  }

  /**
   * Appends a chunk in one store round trip. The outcome's `transcription` is the work the chunk started (a cut
   * segment or an interim), to await after the ack.
   */
  async append(sessionId: string, seq: number | undefined, chunk: Buffer, sink: ResultSink, trace: EventTrace): Promise<AppendOutcome> {
    const { store, registry, limits, metrics } = this.deps;
    const runtime = registry.find(sessionId);
    if (runtime?.isEnding) throw new SessionEndedError(sessionId, true);
    const rate = runtime?.settings.sample_rate ?? 16000;
    const appendStarted = performance.now();
    const outcome = await eventSpans.bufferChunk(trace, store.keyOf(sessionId), chunk.length, store.kind, () =>
      store.append(sessionId, seq, chunk, msToBytes(limits.maxBufferMs, rate)),
    );
    metrics.storeRoundTrip('append', (performance.now() - appendStarted) / 1000);
    switch (outcome.status) {
      case 'unknown':
        throw new UnknownSessionError(sessionId, 'not-found');
      case 'ended':
        throw new SessionEndedError(sessionId, false);
      case 'gap':
        throw new SequenceGapError(seq ?? outcome.nextSeq, outcome.nextSeq);
      case 'full':
        throw new BufferFullError(sessionId, Math.round(bytesToMs(outcome.bufferedBytes, rate)), limits.maxBufferMs);
      case 'duplicate':
        return { status: 'duplicate', seq: outcome.seq, bufferedMs: Math.round(bytesToMs(outcome.bufferedBytes, rate)) };
      case 'appended': {
        // A session this process does not hold yet (it restarted, or let the session go while idle).
        const live = runtime ?? (await this.runtimeFromStore(sessionId, sink));
        const sampleRate = live?.settings.sample_rate ?? rate;
        metrics.chunkAccepted(bytesToMs(chunk.length, sampleRate) / 1000);
        return {
          status: 'appended',
          seq: outcome.seq,
          bufferedMs: Math.round(bytesToMs(outcome.bufferedBytes, sampleRate)),
          transcription: live?.accept(chunk, outcome.receivedBytes, trace),
        };
      }
    }
  }

  /** Transcribes what is still buffered, emits the last results, ends the session and sums it up. */
  async end(sessionId: string, sink: ResultSink, trace: EventTrace): Promise<EndOutcome> {
    const { store, registry, telemetry, metrics } = this.deps;
    const runtime = registry.find(sessionId) ?? (await this.runtimeFromStore(sessionId, sink));
    if (!runtime) {
      const record = await store.getSession(sessionId);
      if (!record) throw new UnknownSessionError(sessionId, 'not-found', `no live session ${sessionId}; it never started or expired`);
      // A repeated end_session (its first ack was lost) gets the same answer.
      return this.summary(record);
    }
    // Refuse new chunks first, then read how much audio the session holds.
    runtime.beginEnding();
    try {
      const record = await store.getSession(sessionId);
      if (!record) throw new UnknownSessionError(sessionId, 'expired');
      // A failure leaves the audio buffered: the client may call end_session again.
      await runtime.finish(record.receivedBytes, trace);
    } catch (error) {
      runtime.abortEnding();
      throw error;
    }
    const ended = await store.endSession(sessionId);
    registry.remove(runtime);
    telemetry.sessionEnded(sessionId);
    metrics.sessionEnded();
    metrics.sessionsActive(registry.size);
    if (!ended) throw new UnknownSessionError(sessionId, 'expired', `session ${sessionId} expired while ending`);
    return this.summary(ended);
  }

  /** The connection behind `sink` closed. */
  disconnected(sink: ResultSink): void {
    this.deps.registry.detach(sink);
    this.deps.metrics.sessionsActive(this.deps.registry.size);
  }

  /** Why new sessions are refused now (the engine is behind), for readiness; undefined when they are welcome. */
  overloaded(): Error | undefined {
    return this.deps.admission.refusal(this.deps.registry.size);
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

  private async runtimeFromStore(sessionId: string, sink: ResultSink) {
    const record = await this.deps.store.getSession(sessionId);
    if (!record || record.ended) return undefined;
    return this.deps.registry.find(sessionId) ?? this.deps.registry.attach(record, sink);
  }

  private async summary(record: SessionRecord): Promise<EndOutcome> {
    const segments = await this.deps.store.segmentsFrom(record.id, 0);
    return {
      sessionId: record.id,
      text: segments.map((s) => s.text).join(' '),
      segments: record.segments,
      durationMs: Math.round(bytesToMs(record.receivedBytes, record.settings.sample_rate)),
    };
  }
}
