// Turns the microphone's float audio (any rate, any channel count) into 16 kHz mono 16-bit PCM in fixed-size chunks.
import { DEFAULT_SAMPLE_RATE } from '../audio/pcm.js';

/** 100 ms of 16 kHz audio: small enough for a live transcript, large enough to keep per-chunk overhead low. */
export const CHUNK_SAMPLES = DEFAULT_SAMPLE_RATE / 10;

/** Filter half-width, in output samples: sharp enough to keep speech up to 7 kHz (recognisers use it), cheap enough for the audio thread. */
const HALF_WIDTH_OUTPUT_SAMPLES = 16;
/** Keep the cut-off below Nyquist of the output rate so the filter's transition band does not fold back as aliasing. */
const CUTOFF_FRACTION_OF_NYQUIST = 0.94;

export interface PcmChunkerOptions {
  outputRate?: number;
  chunkSamples?: number;
}

/**
 * Streaming band-limited resampler: output sample k is the windowed-sinc interpolation of the input at time
 * k / outputRate, so block boundaries (128-frame render quanta) never change the result.
 */
export class PcmChunker {
  readonly inputRate: number;
  readonly outputRate: number;
  readonly chunkSamples: number;
  /** Input samples per output sample. */
  private readonly step: number;
  /** Filter cut-off in cycles per input sample. */
  private readonly cutoff: number;
  /** Filter half-width in input samples. */
  private readonly halfWidth: number;

  /** Mono input not yet consumed; history[0] is absolute input sample `historyStart`. */
  private history = new Float32Array(4096);
  private historyLength = 0;
  private historyStart = 0;
  /** Absolute input samples received. */
  private received = 0;
  /** Output samples produced so far (the next one's index). */
  private produced = 0;

  private chunk: Int16Array;
  private chunkFill = 0;

  constructor(inputRate: number, options: PcmChunkerOptions = {}) {
    if (!(inputRate > 0)) throw new RangeError(`input sample rate must be positive, got ${inputRate}`);
    this.inputRate = inputRate;
    this.outputRate = options.outputRate ?? DEFAULT_SAMPLE_RATE;
    this.chunkSamples = options.chunkSamples ?? CHUNK_SAMPLES;
    this.step = this.inputRate / this.outputRate;
    const bandwidth = Math.min(this.inputRate, this.outputRate) / 2;
    this.cutoff = (CUTOFF_FRACTION_OF_NYQUIST * bandwidth) / this.inputRate;
    this.halfWidth = HALF_WIDTH_OUTPUT_SAMPLES * Math.max(1, this.step);
    this.chunk = new Int16Array(this.chunkSamples);
  }

  /** Adds one block of planar float audio (one array per channel) and returns the chunks it completed. */
  push(channels: readonly Float32Array[]): Int16Array[] {
    const frames = channels[0]?.length ?? 0;
    if (frames === 0) return [];
    this.appendMono(channels, frames);
    return this.produce(false);
  }

  /** Ends the stream: the input's tail is resampled (as if followed by silence); the last chunk may be shorter. */
  flush(): Int16Array[] {
    const chunks = this.produce(true);
    if (this.chunkFill > 0) chunks.push(this.chunk.slice(0, this.chunkFill));
    this.chunk = new Int16Array(this.chunkSamples);
    this.chunkFill = 0;
    return chunks;
  }

  private appendMono(channels: readonly Float32Array[], frames: number): void {
    this.reserve(frames);
    const target = this.history;
    const offset = this.historyLength;
    const count = channels.length;
    for (let i = 0; i < frames; i++) {
      let sum = 0;
      for (let c = 0; c < count; c++) sum += channels[c]![i] ?? 0;
      target[offset + i] = sum / count;
    }
    this.historyLength += frames;
    this.received += frames;
  }

  private reserve(frames: number): void {
    if (this.historyLength + frames <= this.history.length) return;
    const grown = new Float32Array(Math.max(this.history.length * 2, this.historyLength + frames));
    grown.set(this.history.subarray(0, this.historyLength));
    this.history = grown;
  }

  /** Emits every output sample whose filter window is fully known (or, at the end, every one the input covers). */
  private produce(ending: boolean): Int16Array[] {
    const chunks: Int16Array[] = [];
    for (;;) {
      const time = (this.produced * this.inputRate) / this.outputRate;
      if (ending ? time >= this.received : time + this.halfWidth >= this.received) break;
      this.chunk[this.chunkFill++] = toInt16(this.step === 1 ? this.sampleAt(time) : this.interpolate(time));
      this.produced += 1;
      if (this.chunkFill === this.chunkSamples) {
        chunks.push(this.chunk);
        this.chunk = new Int16Array(this.chunkSamples);
        this.chunkFill = 0;
      }
    }
    this.forget();
    return chunks;
  }

  private sampleAt(index: number): number {
    const at = index - this.historyStart;
    return at >= 0 && at < this.historyLength ? this.history[at]! : 0;
  }

  /** Windowed-sinc low-pass evaluated at a fractional input position; gain normalised so DC passes unchanged. */
  private interpolate(time: number): number {
    const first = Math.ceil(time - this.halfWidth);
    const last = Math.floor(time + this.halfWidth);
    let sum = 0;
    let weights = 0;
    for (let n = first; n <= last; n++) {
      const distance = time - n;
      const weight = lowPass(distance, this.cutoff) * hann(distance / this.halfWidth);
      weights += weight;
      sum += weight * this.sampleAt(n);
    }
    return weights === 0 ? 0 : sum / weights;
  }

  /** Drops input no future output sample's window reaches. */
  private forget(): void {
    const nextTime = (this.produced * this.inputRate) / this.outputRate;
    const keepFrom = Math.floor(nextTime - this.halfWidth) - 1;
    const drop = Math.min(this.historyLength, keepFrom - this.historyStart);
    if (drop <= 0) return;
    this.history.copyWithin(0, drop, this.historyLength);
    this.historyLength -= drop;
    this.historyStart += drop;
  }
}

function lowPass(distance: number, cutoff: number): number {
  if (distance === 0) return 2 * cutoff;
  return Math.sin(2 * Math.PI * cutoff * distance) / (Math.PI * distance);
}

/** Hann window over [-1, 1]. */
function hann(x: number): number {
  return Math.abs(x) >= 1 ? 0 : 0.5 + 0.5 * Math.cos(Math.PI * x);
}

/** Float in [-1, 1] to a 16-bit sample, clipping what the microphone overdrove. */
export function toInt16(value: number): number {
  const clipped = Math.max(-1, Math.min(1, value));
  return Math.round(clipped < 0 ? clipped * 0x8000 : clipped * 0x7fff);
}
