// One session's life in this process: feeds accepted audio to its segmenter, hands the cut segments to the engine
// scheduler one after another (so results are numbered and emitted in order, without gaps), and, when the session
// asked for them, transcribes the growing segment now and then for interim results.
// Longer than most modules: finals, interims and the lease all read and move the same per-session offsets (committed
// bytes, next segment number, cuts so far); split apart they would pass that state back and forth.
import type { Logger } from 'pino';
import { NOT_SPEECH, type EngineResult, type SegmentAudio, type TranscriptionEngine } from '../engines/engine.js';
import { buildPrompt } from '../engines/prompt.js';
import { EngineError, SegmentRejectedError, UnknownSessionError, StoreUnavailableError } from '../errors/server-errors.js';
import type { ServerMetrics } from '../metrics/metrics.js';
import { bytesToMs, ErrorCode, msToBytes, type SessionSettings, type TranscriptionResult, type UtteranceEnd } from '../protocol/index.js';
import type { AdmissionControl } from '../scheduler/admission.js';
import type { EngineScheduler } from '../scheduler/engine-scheduler.js';
import type { BufferStore, SegmentDetails, SegmentFailure, StoredSegment } from '../store/buffer-store.js';
import { eventSpans } from '../telemetry/event-spans.js';
import type { EventTrace, SpanHandle, Telemetry } from '../telemetry/telemetry.js';
import { Segmenter, type SegmentationSettings, type SegmentCut } from './segmenter.js';
import { hasSpeech, speechBounds } from '../audio/vad.js';
import type { SpeechDetector } from '../audio/speech-detector.js';
import { UtteranceEndDetector } from './utterance-end.js';
import { interpolateWords, sessionWords } from './word-timings.js';
import type { SessionDecoder } from './session-decoder.js';

/** Where a session's results go: the connection it is attached to now, if any. */
export interface ResultSink {
  result(result: TranscriptionResult): void;
  /** Sessions started with utterance_end_ms: that much non-speech followed speech. */
  utteranceEnd?(event: UtteranceEnd): void;
  /** A segment could not be transcribed; `error` is a server error of the catalogue (mapped to the wire by the socket layer). */
  error(sessionId: string, error: unknown): void;
}

export interface RuntimeDeps {
  store: BufferStore;
  engine: TranscriptionEngine;
  scheduler: EngineScheduler;
  admission: AdmissionControl;
  segmentation: SegmentationSettings;
  /** Decides whether a cut segment holds speech (Silero behind the energy VAD, or the energy VAD alone). */
  speech: SpeechDetector;
  telemetry: Telemetry;
  metrics: ServerMetrics;
  logger: Logger;
  /** Called when the runtime has nothing left to do and no connection: the registry may drop it. */
  onIdle(runtime: SessionRuntime): void;
  /** How long this process's claim on a session lasts; renewed before each segment goes to the engine. */
  leaseMs: number;
  /** Called when another process took the session over: this runtime has stopped and the registry drops it. */
  onTakenOver(runtime: SessionRuntime): void;
}

/** Another process claimed the session (a resume there): this one stops work on it. Never sent to a client. */
class SessionTakenOverError extends Error {
  constructor(sessionId: string) {
    super(`session ${sessionId} was taken over by another node`);
    this.name = 'SessionTakenOverError';
  }
}

interface Cut {
  endByte: number;
  /** A pause or the end of the stream cut it (not the length cap). */
  speechFinal: boolean;
  /** performance.now() when the segment was cut, for latency_ms and queue fairness. */
  cutAt: number;
  /** The event that cut it: its spans hold the transcription. */
  trace: EventTrace;
  /**
   * The engine's answer for this segment from `start`, kept until it is committed: a commit that fails (a store stall)
   * is retried with this answer, never by sending the same audio to the engine again.
   */
  answered?: { start: number; text: string; refused?: EngineError; result?: EngineResult; timings?: Pick<TranscriptionResult, 'words' | 'words_interpolated'> };
}

/** Rounds to microseconds: times are exact from sample counts, without float noise. */
export const exactMs = (bytes: number, rate: number) => Math.round(bytesToMs(bytes, rate) * 1000) / 1000;

export class SessionRuntime {
  private sink: ResultSink | undefined;
  /** end_session is finishing the session: later chunks are refused. */
  private ending = false;
  private abandoned = false;
  private readonly segmenter: Segmenter;
  private readonly queue: Cut[] = [];
  private committedBytes: number;
  /** The number the next result with text will carry (finals and the interims before them). */
  private nextSegment: number;
  private previousText = '';
  /** The pass over the segment queue now running, if any: the next pass waits for it. */
  private queueRun: Promise<void> | undefined;
  /** Until when a refused lease or commit may be this process's own late claim (see claimInDoubt()); 0 = not in doubt. */
  private ownClaimInDoubtUntil = 0;
  /** The error that stopped the last pass over the queue; the failed segment stays queued and is retried. */
  private lastFailure: Error | undefined;
  /** Interims: bytes between two of them (0 = off), where the last one ended, one in flight, cuts so far. */
  private readonly interimBytes: number;
  private interimFrom: number;
  private interimRunning = false;
  private cutCount = 0;
  private readonly utteranceEnds: UtteranceEndDetector | undefined;
  /** The fencing token of this process's claim on the session (undefined: never claimed, commits unfenced). */
  private fence: number | undefined;
  /** Formats other than pcm_s16le: the stream's decoder here, set when the session is opened on this process. */
  decoder: SessionDecoder | undefined;

  constructor(
    readonly id: string,
    readonly settings: SessionSettings,
    position: { committedBytes: number; segments: number },
    private readonly deps: RuntimeDeps,
  ) {
    this.committedBytes = position.committedBytes;
    this.nextSegment = position.segments;
    this.segmenter = new Segmenter(deps.segmentation, settings.sample_rate, position.committedBytes);
    this.interimBytes = settings.interim_interval_ms ? msToBytes(settings.interim_interval_ms, settings.sample_rate) : 0;
    this.interimFrom = position.committedBytes;
    if (settings.utterance_end_ms) this.utteranceEnds = new UtteranceEndDetector(settings.utterance_end_ms, settings.sample_rate, deps.segmentation.speechDbfs);
  }

  /** This process now owns the session with fencing token `fence`: its commits carry it. */
  claimed(fence: number | undefined): void {
    this.fence = fence;
    this.ownClaimInDoubtUntil = 0;
  }

  /**
   * This process asked the store for the session and got no answer (a stall): the claim may still land, and then
   * the session looks taken over by someone else when it is this process's own. Until the next claim settles it, a
   * refused renewal or commit keeps the segment and its answer here rather than dropping them as taken over. For
   * one lease at most: by then a claim that has not settled is someone else's, and the fencing said so truly.
   */
  claimInDoubt(): void {
    this.ownClaimInDoubtUntil = performance.now() + this.deps.leaseMs;
  }

  /** A refused lease or commit: another node's takeover, unless this process's own claim may be the newer one. */
  private lostClaim(): Error {
    if (performance.now() >= this.ownClaimInDoubtUntil) return new SessionTakenOverError(this.id);
    return new StoreUnavailableError(`session ${this.id}: this process's own claim is in doubt after a store stall; the segment waits for the resume to settle it`);
  }

  /** The fencing token of this process's claim: decoded appends carry it (src/store: DecoderWrite). */
  get claim(): number | undefined {
    return this.fence;
  }

  /** Nothing queued or being transcribed. */
  get idle(): boolean {
    return this.queueRun === undefined && this.queue.length === 0 && !this.interimRunning;
  }

  get isEnding(): boolean {
    return this.ending;
  }

  get attachedTo(): ResultSink | undefined {
    return this.sink;
  }

  /** Results go to `sink` from now on. */
  attach(sink: ResultSink): void {
    this.sink = sink;
  }

  /** The connection went away; the session keeps its state in the store and may resume. */
  detach(): void {
    this.sink = undefined;
    this.notifyIfIdle();
  }

  /** end_session starts: no more chunks. */
  beginEnding(): void {
    this.ending = true;
  }

  /** end_session failed: the session stays open and takes chunks again (unless it was abandoned meanwhile). */
  abortEnding(): void {
    if (!this.abandoned) this.ending = false;
  }

  /** True once abandon() ran: the session was ended without its work, and this runtime does nothing more. */
  get isAbandoned(): boolean {
    return this.abandoned;
  }

  /**
   * The session is ended without waiting for its work (idle time-out while the engine fails or hangs): nothing more
   * is queued or sent. Work still running finishes into a fenced commit (the ender claims the session first).
   */
  abandon(): void {
    this.abandoned = true;
    this.ending = true;
    this.queue.length = 0;
    this.sink = undefined;
  }

  /**
   * Feeds an accepted chunk ending at absolute offset `endByte`. Returns the promise of the work it started (a
   * segment's transcription, or an interim), so the caller's event span stays open for it; otherwise undefined.
   */
  accept(chunk: Uint8Array, endByte: number, trace: EventTrace): Promise<void> | undefined {
    if (this.utteranceEnds) {
      for (const endMs of this.utteranceEnds.feed(chunk, endByte)) this.sink?.utteranceEnd?.({ session_id: this.id, end_ms: endMs });
    }
    const cuts = this.segmenter.cut(chunk, endByte);
    if (cuts.length > 0) return this.enqueue(cuts, trace);
    if (this.interimBytes > 0) return this.maybeInterim(endByte, trace);
    return undefined;
  }

  /** Cuts all remaining audio (end of session) and waits for every segment; throws when one fails. */
  async finish(receivedBytes: number, trace: EventTrace): Promise<void> {
    await this.enqueue(this.segmenter.flushCuts(receivedBytes), trace);
    if (this.lastFailure) throw this.lastFailure;
  }

  toResult(stored: StoredSegment, latencyMs: number): TranscriptionResult {
    const rate = this.settings.sample_rate;
    return {
      // First: what the store kept can add to a result, never change its identity or times.
      ...stored.details,
      session_id: this.id,
      segment: stored.segment,
      text: stored.text,
      is_final: true,
      start_ms: exactMs(stored.startByte, rate),
      end_ms: exactMs(stored.endByte, rate),
      latency_ms: latencyMs,
    };
  }

  private enqueue(cuts: SegmentCut[], trace: EventTrace): Promise<void> {
    const cutAt = performance.now();
    for (const { endByte, speechFinal } of cuts) this.queue.push({ endByte, speechFinal, cutAt, trace });
    if (cuts.length > 0) {
      this.cutCount++;
      this.interimFrom = cuts[cuts.length - 1]!.endByte;
      this.deps.telemetry.segmentCut(this.id);
    }
    return this.runQueue();
  }

  /** Runs the queue head to tail, one segment at a time; a new pass waits for the running one. */
  private runQueue(): Promise<void> {
    const previous = this.queueRun ?? Promise.resolve();
    const run = previous.then(() => this.processQueue());
    const tracked = run.finally(() => {
      if (this.queueRun !== tracked) return;
      this.queueRun = undefined;
      this.notifyIfIdle();
    });
    this.queueRun = tracked;
    return tracked;
  }

  private async processQueue(): Promise<void> {
    this.lastFailure = undefined;
    while (this.queue.length > 0) {
      const cut = this.queue[0]!;
      try {
        await this.transcribe(cut);
        this.queue.shift();
      } catch (error) {
        if (error instanceof SessionTakenOverError) {
          // The node that resumed the session cuts and transcribes from the committed offset: nothing here is owed.
          this.queue.length = 0;
          // An end_session still waiting here fails (retryable); retried, it claims the session back first.
          this.lastFailure = error;
          this.deps.logger.info({ session_id: this.id }, 'session taken over by another node; stopped work on it here');
          this.deps.onTakenOver(this);
          return;
        }
        this.lastFailure = error as Error;
        this.report(error, cut.trace);
        return;
      }
    }
  }

  private async transcribe(cut: Cut): Promise<void> {
    const { store, segmentation, metrics } = this.deps;
    const start = this.committedBytes;
    const end = cut.endByte;
    if (end <= start) return;
    const rate = this.settings.sample_rate;
    let refused: EngineError | undefined;
    let result: EngineResult | undefined;
    let timings: Pick<TranscriptionResult, 'words' | 'words_interpolated'> | undefined;
    const stored = await eventSpans.transcribe(cut.trace, 'final', this.spanAttributes(start, end), async (span) => {
      // Only the commit of this answer failed before: commit it again, under the current fence.
      const answered = cut.answered?.start === start ? cut.answered : undefined;
      const pcm = answered ? Buffer.alloc(0) : await eventSpans.readSegment(cut.trace, end - start, store.kind, () => store.readAudio(this.id, start, end));
      let text = answered?.text ?? '';
      if (answered) {
        ({ refused, result, timings } = answered);
        span.setAttributes({ 'segment.commit_retry': true });
      } else if (await this.holdsSpeech(pcm, span)) {
        // One round trip per segment renews the lease, and a session resumed elsewhere is never sent from here.
        if (this.fence !== undefined && !(await store.renewLease(this.id, this.fence, this.deps.leaseMs))) throw this.lostClaim();
        this.deps.admission.segmentCut(this.id);
        const request = this.request(pcm);
        const messageId = `${this.id}:${start}`;
        // The hand-off is the queue's producer span (marked before the scheduler may start the request, so the
        // attempts are its siblings), each engine attempt once started its consumer span.
        const publishedAt = await eventSpans.publish(cut.trace, messageId, pcm.length, () => performance.now());
        try {
          result = await this.deps.scheduler.runFinal(this.id, cut.cutAt, (attempt) => {
            span.setAttributes({ 'segment.queue_ms': Math.round(attempt.queueMs), 'segment.retries': attempt.retry });
            const receive = { receiveLatencyMs: performance.now() - publishedAt, retry: attempt.retry };
            return eventSpans.process(cut.trace, messageId, pcm.length, receive, () => this.runEngine(cut.trace, request));
          });
          text = result.text;
          this.recordEngineOutcome(result, span);
          if (text && this.settings.word_timestamps) timings = this.wordsOf(result, pcm, start, end);
          metrics.audioTranscribed(bytesToMs(end - start, rate) / 1000);
        } catch (error) {
          // Refused for good (the provider's 4xx, a local engine's permanent failure): retrying cannot help, and
          // holding the segment at the head of the queue would stall every later one. It is committed as failed.
          if (!(error instanceof EngineError) || error.retryable) throw error;
          refused = error;
        }
      }
      if (!answered) cut.answered = { start, text, refused, result, timings };
      const failure: SegmentFailure | undefined = refused ? { code: ErrorCode.ENGINE_REJECTED, reason: refused.reason } : undefined;
      const details = { ...this.extrasOf(result, timings), speech_final: cut.speechFinal };
      const commitStarted = performance.now();
      const fence = this.fence;
      let outcome = await store.commitSegment(this.id, start, end, text, fence, failure, details);
      // This process claimed the session again (the client resumed here) while the commit was on its way.
      if (outcome.status === 'fenced' && this.fence !== fence) outcome = await store.commitSegment(this.id, start, end, text, this.fence, failure, details);
      metrics.storeRoundTrip('commit', (performance.now() - commitStarted) / 1000);
      if (outcome.status === 'fenced') throw this.lostClaim();
      if (outcome.status === 'unknown') throw new UnknownSessionError(this.id, 'expired', `session ${this.id} expired while its audio was being transcribed`);
      this.committedBytes = outcome.record.committedBytes;
      this.nextSegment = outcome.record.segments;
      const segment = outcome.status === 'committed' ? outcome.segment : undefined;
      span.setAttributes({ 'segment.index': segment?.segment, 'result.text_length': text.length });
      return segment;
    });
    if (stored?.failed) {
      this.reportRejected(stored, refused, cut.trace);
      return;
    }
    if (stored) {
      this.previousText = stored.text;
      const latencyMs = performance.now() - cut.cutAt;
      metrics.resultEmitted('final', latencyMs / 1000);
      this.sink?.result(this.toResult(stored, Math.round(latencyMs)));
    }
  }

  /** What a final or interim carries beyond its text: the engine that made it, its language, word timings. */
  private extrasOf(result: EngineResult | undefined, timings: Pick<TranscriptionResult, 'words' | 'words_interpolated'> | undefined): Omit<SegmentDetails, 'speech_final'> {
    return {
      engine: result?.engine ?? this.deps.engine.name,
      ...(result?.language ? { language: result.language } : {}),
      ...timings,
    };
  }

  /** Word timings in session time: the engine's, else interpolated over the segment's speech (and marked so). */
  private wordsOf(result: EngineResult, pcm: Buffer, start: number, end: number): Pick<TranscriptionResult, 'words' | 'words_interpolated'> {
    const rate = this.settings.sample_rate;
    const startMs = exactMs(start, rate);
    if (result.words && result.words.length > 0) return { words: sessionWords(result.words, startMs, exactMs(end, rate)) };
    const speech = speechBounds(pcm, rate, this.deps.segmentation.speechDbfs) ?? { from: 0, to: pcm.length };
    return { words: interpolateWords(result.text, exactMs(start + speech.from, rate), exactMs(start + speech.to, rate)), words_interpolated: true };
  }

  /**
   * Whether a segment goes to the engine: the speech detector hears speech in it. Sound that is not speech (noise,
   * music, breathing) is counted as dropped, as the engine's own non-speech answers are; silence is not counted.
   */
  private async holdsSpeech(pcm: Buffer, span: SpanHandle): Promise<boolean> {
    const sound = await this.deps.speech.classify(pcm, this.settings.sample_rate);
    if (sound !== 'not_speech') return sound === 'speech';
    this.deps.metrics.transcriptionDropped(NOT_SPEECH);
    span.setAttributes({ 'transcription.dropped': 1, 'transcription.dropped_reasons': NOT_SPEECH, 'transcription.speech_detector': this.deps.speech.name });
    return false;
  }

  /** Output the engine dropped as not speech is counted (metrics and the ai span); the engine used goes on the span. */
  private recordEngineOutcome(result: EngineResult, span: { setAttributes(attributes: Record<string, string | number | boolean | undefined>): void }): void {
    const dropped = result.dropped ?? [];
    for (const reason of dropped) this.deps.metrics.transcriptionDropped(reason);
    span.setAttributes({
      'engine.used': result.engine ?? this.deps.engine.name,
      ...(dropped.length > 0
        ? { 'transcription.dropped': dropped.length, 'transcription.dropped_reasons': [...new Set(dropped)].join(',') }
        : {}),
    });
  }

  /** Transcribes the growing segment so far, when due, a slot is free and nothing of this session is in flight. */
  private maybeInterim(endByte: number, trace: EventTrace): Promise<void> | undefined {
    if (endByte - this.interimFrom < this.interimBytes) return undefined;
    if (this.interimRunning || this.ending || this.queueRun !== undefined || this.queue.length > 0) return undefined;
    const { store, scheduler, segmentation, metrics } = this.deps;
    if (!scheduler.askInterimRoom()) return undefined;
    const start = this.committedBytes;
    const newFrom = this.interimFrom;
    const generation = this.cutCount;
    this.interimRunning = true;
    const askedAt = performance.now();
    const work = eventSpans.transcribe(trace, 'interim', this.spanAttributes(start, endByte), async (span) => {
      const pcm = await eventSpans.readSegment(trace, endByte - start, store.kind, () => store.readAudio(this.id, start, endByte));
      // Silence gets no interim: only the audio since the last one is looked at.
      this.interimFrom = endByte;
      if (!hasSpeech(pcm.subarray(Math.max(0, newFrom - start)), this.settings.sample_rate, segmentation.speechDbfs)) return;
      const request = this.request(pcm);
      const running = scheduler.tryInterim(this.id, () => this.runEngine(trace, request));
      if (!running) {
        span.setAttributes({ 'interim.skipped': 'engine busy' });
        return;
      }
      const result = await running;
      const text = result.text;
      // A cut since the request started makes this interim stale: its final is on its way.
      if (generation !== this.cutCount || this.ending || !text) {
        span.setAttributes({ 'interim.dropped': true });
        return;
      }
      const latencyMs = performance.now() - askedAt;
      metrics.resultEmitted('interim', latencyMs / 1000);
      span.setAttributes({ 'segment.index': this.nextSegment, 'result.text_length': text.length });
      const rate = this.settings.sample_rate;
      const timings = this.settings.word_timestamps ? this.wordsOf(result, pcm, start, endByte) : undefined;
      this.sink?.result({
        ...this.extrasOf(result, timings),
        session_id: this.id,
        segment: this.nextSegment,
        text,
        is_final: false,
        start_ms: exactMs(start, rate),
        end_ms: exactMs(endByte, rate),
        latency_ms: Math.round(latencyMs),
      });
    });
    return work
      .catch((error: unknown) => {
        // An interim is a bonus: its failure is logged, never sent; the final will retry the audio.
        this.deps.logger.debug({ session_id: this.id, err: error }, 'interim transcription failed');
      })
      .finally(() => {
        this.interimRunning = false;
        this.notifyIfIdle();
      });
  }

  private request(pcm: Buffer): SegmentAudio {
    return {
      pcm,
      sampleRate: this.settings.sample_rate,
      language: this.settings.language,
      prompt: buildPrompt(this.settings.keyterms, this.settings.prompt ?? (this.previousText || undefined)),
      model: this.settings.model,
      ...(this.settings.word_timestamps ? { wordTimestamps: true } : {}),
    };
  }

  /** One engine attempt as the scheduler starts it; a local engine's run gets a span of its own. */
  private async runEngine(trace: EventTrace, request: SegmentAudio): Promise<EngineResult> {
    const { engine } = this.deps;
    const run = () => engine.transcribe(request);
    const result = engine.tracesOwnRequests ? await run() : await eventSpans.engineRun(trace, engine.name, run);
    return { ...result, text: result.text.trim() };
  }

  private spanAttributes(start: number, end: number) {
    const rate = this.settings.sample_rate;
    return {
      'session.id': this.id,
      'segment.start_ms': exactMs(start, rate),
      'segment.audio_ms': exactMs(end - start, rate),
      'engine.name': this.deps.engine.name,
      'engine.model': this.settings.model ?? this.deps.engine.model,
      'engine.language': this.settings.language,
    };
  }

  private notifyIfIdle(): void {
    if (!this.sink && !this.ending && this.idle) this.deps.onIdle(this);
  }

  /** The error a refused (failed) stored segment is reported with: to its owner now, or on a resume's replay. */
  rejectionOf(stored: StoredSegment, cause?: unknown): SegmentRejectedError {
    const rate = this.settings.sample_rate;
    const reason = stored.failed?.reason ?? 'not transcribed';
    return new SegmentRejectedError(this.id, stored.segment, exactMs(stored.startByte, rate), exactMs(stored.endByte, rate), reason, { cause });
  }

  private reportRejected(stored: StoredSegment, cause: unknown, trace: EventTrace): void {
    const rejected = this.rejectionOf(stored, cause);
    // The full detail (endpoint, request id) reaches the log and Sentry as the cause; the client gets the reason only.
    trace.fail(rejected);
    this.deps.logger.warn({ session_id: this.id, segment: stored.segment, err: cause }, 'segment refused by the engine; committed as not transcribed');
    this.sink?.error(this.id, rejected);
  }

  private report(error: unknown, trace: EventTrace): void {
    trace.fail(error);
    this.deps.logger.warn({ session_id: this.id, err: error }, 'segment transcription failed; its audio stays buffered');
    this.sink?.error(this.id, error);
  }
}
