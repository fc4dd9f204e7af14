// resamplePcm16 over a stream that arrives in pieces, giving exactly the samples it gives for the whole stream.
import { resamplePcm16 } from '../resample.js';

/** What a StreamResampler needs to continue elsewhere: a few dozen input samples and three counters. */
export interface ResamplerState {
  /** Input samples kept for the kernel, starting at global input index `start` (a multiple of `step`). */
  held: Int16Array;
  start: number;
  /** Global index of the next output sample. */
  nextOut: number;
  /** Input samples pushed so far. */
  totalIn: number;
}

const LANCZOS_A = 3; // must match src/audio/resample.ts

/**
 * Output sample k sits at input position k·from/to and reads input samples base−reach+1 … base+reach. An output is
 * emitted once all of those have arrived, computed by resamplePcm16 over a window that starts on a multiple of
 * from/gcd (so window and whole-stream phases coincide): per-piece resampling would clamp each piece's edges
 * (a 50 Hz buzz with 20 ms Opus packets) and make the output depend on how the stream was cut.
 */
export class StreamResampler {
  private readonly step: number;
  private readonly phases: number;
  private readonly reach: number;
  private state: ResamplerState;

  constructor(
    readonly fromRate: number,
    readonly toRate: number,
    state?: ResamplerState,
  ) {
    const g = gcd(fromRate, toRate);
    this.step = fromRate / g;
    this.phases = toRate / g;
    this.reach = Math.ceil(LANCZOS_A * Math.max(1, fromRate / toRate));
    this.state = state ?? { held: new Int16Array(0), start: 0, nextOut: 0, totalIn: 0 };
  }

  get passthrough(): boolean {
    return this.fromRate === this.toRate;
  }

  /** Resampled output that the input so far fully determines; holds back ≈ reach input samples. */
  push(input: Int16Array): Int16Array {
    if (this.passthrough) return input;
    if (input.length === 0) return input;
    const s = this.state;
    const held = new Int16Array(s.held.length + input.length);
    held.set(s.held);
    held.set(input, s.held.length);
    const totalIn = s.totalIn + input.length;
    // Last k with floor(k·step/phases) + reach ≤ totalIn − 1.
    const limit = totalIn - 1 - this.reach;
    const endOut = limit < 0 ? s.nextOut : Math.max(s.nextOut, Math.floor(((limit + 1) * this.phases - 1) / this.step) + 1);
    const out = this.emit(held, s.start, s.nextOut, endOut);
    this.state = this.trimmed(held, s.start, endOut, totalIn);
    return out;
  }

  /** The last outputs, with the right edge clamped as resamplePcm16 clamps the end of a whole stream. */
  flush(): Int16Array {
    if (this.passthrough) return new Int16Array(0);
    const s = this.state;
    if (s.totalIn === 0) return new Int16Array(0);
    const total = Math.max(1, Math.round((s.totalIn * this.toRate) / this.fromRate));
    const out = this.emit(s.held, s.start, s.nextOut, total);
    this.state = this.trimmed(s.held, s.start, Math.max(s.nextOut, total), s.totalIn);
    return out;
  }

  snapshot(): ResamplerState {
    return { ...this.state, held: this.state.held.slice() };
  }

  private emit(held: Int16Array, start: number, from: number, to: number): Int16Array {
    if (to <= from || held.length === 0) return new Int16Array(0);
    const window = Buffer.from(held.buffer, held.byteOffset, held.byteLength);
    const local = resamplePcm16(window, this.fromRate, this.toRate);
    const firstOut = (start / this.step) * this.phases;
    const view = new Int16Array(local.buffer, local.byteOffset, local.length / 2);
    return view.slice(from - firstOut, to - firstOut);
  }

  /** Keeps input from the first sample the next output reads, rounded down to a window phase boundary. */
  private trimmed(held: Int16Array, start: number, nextOut: number, totalIn: number): ResamplerState {
    const base = Math.floor((nextOut * this.step) / this.phases);
    const first = Math.max(0, base - this.reach + 1);
    const newStart = Math.max(start, Math.floor(first / this.step) * this.step);
    return { held: held.slice(Math.min(held.length, newStart - start)), start: newStart, nextOut, totalIn };
  }
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}
