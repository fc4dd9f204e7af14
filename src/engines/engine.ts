// The engine interface: turns one segment of mono 16-bit PCM into text.

export interface SegmentAudio {
  /** Mono 16-bit little-endian PCM. */
  pcm: Buffer;
  sampleRate: number;
  language?: string;
  /** Context for the recogniser, e.g. the previous segment's text. */
  prompt?: string;
  /** Model requested by the session; engines that have one model ignore it. */
  model?: string;
}

export interface EngineResult {
  text: string;
}

export interface TranscriptionEngine {
  /** Low-cardinality name for logs and telemetry: "openai" or "pocketsphinx". */
  readonly name: string;
  /** The default model this engine uses. */
  readonly model: string;
  /** Transcribes one segment; throws EngineError when it gives up. */
  transcribe(segment: SegmentAudio): Promise<EngineResult>;
  /** Resolves when the engine can serve (readiness); rejects naming what is wrong. */
  check(): Promise<void>;
  close?(): Promise<void>;
}

/** The engine gave up on a segment after its own retries. */
export class EngineError extends Error {
  readonly retryable: boolean;
  constructor(message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'EngineError';
    this.retryable = options.retryable ?? true;
  }
}

/** The chosen engine cannot run on this machine: start-up stops with this message. */
export class EngineUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineUnavailableError';
  }
}
