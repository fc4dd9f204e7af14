// One session's life in this process: feeds accepted audio to its segmenter and transcribes the cut
// segments one after another, in order, so results are numbered and emitted without gaps.
import type pLimit from 'p-limit';
import type { Logger } from 'pino';
import type { SegmentAudio, TranscriptionEngine } from '../engines/engine.js';
import { EngineError } from '../engines/engine.js';
import {
  bytesToMs,
  ErrorCode,
  ProtocolError,
  type SessionSettings,
  type TranscriptionErrorEvent,
  type TranscriptionResult,
} from '../protocol/index.js';
import type { BufferStore, StoredSegment } from '../store/buffer-store.js';
import type { EventTrace } from '../telemetry/telemetry.js';
import { Segmenter, type SegmentationSettings } from './segmenter.js';
import { hasSpeech } from './vad.js';

/** Where a session's results go: the socket it is attached to now, if any. */
export interface ResultSink {
  result(result: TranscriptionResult): void;
  error(error: TranscriptionErrorEvent): void;
}

export interface RuntimeDeps {
  store: BufferStore;
  engine: TranscriptionEngine;
  /** Shared by all sessions: caps concurrent engine calls. */
  engineLimit: ReturnType<typeof pLimit>;
  segmentation: SegmentationSettings;
  logger: Logger;
}

interface Cut {
  endByte: number;
  /** performance.now() when the segment was cut, for latency_ms. */
  cutAt: number;
  /** The event that cut it: its spans hold the transcription. */
  trace: EventTrace;
}

/** Rounds to microseconds: times are exact from sample counts, without float noise. */
const exactMs = (bytes: number, rate: number) => Math.round(bytesToMs(bytes, rate) * 1000) / 1000;

export class SessionRuntime {
  sink: ResultSink | undefined;
  /** Set by end_session: later chunks are refused, the session is being finished. */
  closing = false;
  private readonly segmenter: Segmenter;
  private readonly queue: Cut[] = [];
  private committedBytes: number;
  private previousText = '';
  private draining: Promise<void> | undefined;
  /** The error that stopped the last drain; the failed segment stays queued and is retried. */
  private lastFailure: Error | undefined;

  constructor(
    readonly id: string,
    readonly settings: SessionSettings,
    committedBytes: number,
    private readonly deps: RuntimeDeps,
  ) {
    this.committedBytes = committedBytes;
    this.segmenter = new Segmenter(deps.segmentation, settings.sample_rate, committedBytes);
  }

  get idle(): boolean {
    return this.draining === undefined && this.queue.length === 0;
  }

  /**
   * Feeds an accepted chunk ending at absolute offset `endByte`. When it completes a segment, returns the
   * promise of its transcription (the caller's event span stays open for it); otherwise undefined.
   */
  accept(chunk: Uint8Array, endByte: number, trace: EventTrace): Promise<void> | undefined {
    const cuts = this.segmenter.feed(chunk, endByte);
    if (cuts.length === 0) return undefined;
    return this.enqueue(cuts, trace);
  }

  /** Cuts all remaining audio (end of session) and waits for every segment; throws when one fails. */
  async finish(receivedBytes: number, trace: EventTrace): Promise<void> {
    await this.enqueue(this.segmenter.flush(receivedBytes), trace);
    if (this.lastFailure) throw this.lastFailure;
  }

  private enqueue(cutEnds: number[], trace: EventTrace): Promise<void> {
    const cutAt = performance.now();
    for (const endByte of cutEnds) this.queue.push({ endByte, cutAt, trace });
    return this.drain();
  }

  /** Runs the queue head to tail, one segment at a time; a new drain waits for the running one. */
  private drain(): Promise<void> {
    const previous = this.draining ?? Promise.resolve();
    const run = previous.then(() => this.processQueue());
    const tracked = run.finally(() => {
      if (this.draining === tracked) this.draining = undefined;
    });
    this.draining = tracked;
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
        this.lastFailure = error as Error;
        this.report(error, cut.trace);
        return;
      }
    }
  }

  private async transcribe(cut: Cut): Promise<void> {
    const { store, engine, engineLimit, segmentation } = this.deps;
    const start = this.committedBytes;
    const end = cut.endByte;
    if (end <= start) return;
    const rate = this.settings.sample_rate;
    const attributes = {
      'session.id': this.id,
      'segment.start_ms': exactMs(start, rate),
      'segment.audio_ms': exactMs(end - start, rate),
      'engine.name': engine.name,
      'engine.model': this.settings.model ?? engine.model,
      'engine.language': this.settings.language,
    };
    const stored = await cut.trace.span('ai', 'Process audio buffer', attributes, async (span) => {
      const pcm = await cut.trace.span('cache.get', 'Read segment audio', { 'cache.item_size': end - start, 'db.system': store.kind }, () =>
        store.readAudio(this.id, start, end),
      );
      let text = '';
      if (hasSpeech(pcm, rate, segmentation.speechDbfs)) {
        const request: SegmentAudio = {
          pcm,
          sampleRate: rate,
          language: this.settings.language,
          prompt: this.settings.prompt ?? (this.previousText || undefined),
          model: this.settings.model,
        };
        // Whisper's request shows as its own http.client span under 'ai'; an offline engine's run gets this one.
        const run = () => engine.transcribe(request);
        const traced = engine.name === 'openai' ? run : () => cut.trace.span('ai.run', `Transcribe with ${engine.name}`, { 'engine.name': engine.name }, run);
        text = (await engineLimit(traced)).text.trim();
      }
      const outcome = await store.commitSegment(this.id, start, end, text);
      if (outcome.status === 'unknown') {
        throw new ProtocolError(ErrorCode.UNKNOWN_SESSION, `Session ${this.id} expired while its audio was being transcribed`);
      }
      this.committedBytes = outcome.record.committedBytes;
      const segment = outcome.status === 'committed' ? outcome.segment : undefined;
      span.setAttributes({ 'segment.index': segment?.segment, 'result.text_length': text.length });
      return segment;
    });
    if (stored) {
      this.previousText = stored.text;
      this.sink?.result(this.toResult(stored, Math.round(performance.now() - cut.cutAt)));
    }
  }

  toResult(stored: StoredSegment, latencyMs: number): TranscriptionResult {
    const rate = this.settings.sample_rate;
    return {
      session_id: this.id,
      segment: stored.segment,
      text: stored.text,
      is_final: true,
      start_ms: exactMs(stored.startByte, rate),
      end_ms: exactMs(stored.endByte, rate),
      latency_ms: latencyMs,
    };
  }

  private report(error: unknown, trace: EventTrace): void {
    const code =
      error instanceof ProtocolError ? error.code : error instanceof EngineError ? ErrorCode.ENGINE_ERROR : ErrorCode.INTERNAL_ERROR;
    const retryable = error instanceof ProtocolError || error instanceof EngineError ? error.retryable : true;
    trace.fail(error, code);
    this.deps.logger.warn({ session_id: this.id, code, err: error }, 'segment transcription failed; its audio stays buffered');
    this.sink?.error({
      session_id: this.id,
      code,
      message: `${(error as Error).message}. The segment's audio is kept and retried with the next segment or at end_session.`,
      retryable,
    });
  }
}
