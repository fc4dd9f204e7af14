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
  /** The session asked for word timings: an engine that can give them does (it may cost latency). */
  wordTimestamps?: boolean;
}

/** One recognised word, in ms from the start of the segment's audio. */
export interface EngineWord {
  word: string;
  startMs: number;
  endMs: number;
  /** 0..1 where the engine gives one. */
  confidence?: number;
}

/** Why an engine's output was thrown away as not speech (the hallucination gate). */
export type DropReason = 'no_speech' | 'repetition';
/** Segments kept from the engine because the speech detector heard sound but no speech in them. */
export const NOT_SPEECH = 'not_speech';

export interface EngineResult {
  text: string;
  /** The engine's own word timings, when asked for and it has them; in order, inside the segment. */
  words?: EngineWord[];
  /** ISO 639-1 code the engine reported for this segment. */
  language?: string;
  /** The engine that produced this result, when not the configured one (a fallback's). */
  engine?: string;
  /** Parts of the engine's output dropped as non-speech, one reason each. */
  dropped?: DropReason[];
}

export interface TranscriptionEngine {
  /** Low-cardinality name for logs and telemetry: "openai" or "pocketsphinx". */
  readonly name: string;
  /** The default model this engine uses. */
  readonly model: string;
  /** True when the engine's own requests show as spans (an HTTP client's); otherwise (the default) the pipeline wraps each run. */
  readonly tracesOwnRequests?: boolean;
  /**
   * How many segments it can work on at once: a fixed number for a local engine (its decoders), or undefined for a
   * remote one, whose limit the scheduler finds by itself.
   */
  readonly capacity?: number;
  /** Transcribes one segment; throws EngineError when it gives up. */
  transcribe(segment: SegmentAudio): Promise<EngineResult>;
  /** Resolves when the engine can serve (readiness); rejects naming what is wrong. */
  check(): Promise<void>;
  close?(): Promise<void>;
  /** A local engine loads what it needs now (the server's start), not on the first segments. */
  warmUp?(): Promise<void>;
  /** With a fallback engine: the primary's circuit breaker (readiness warns while it is not closed). */
  breakerState?(): 'closed' | 'open' | 'half_open';
}

export { EngineError, EngineUnavailableError } from '../errors/server-errors.js';
