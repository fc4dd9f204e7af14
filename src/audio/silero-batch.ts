// Runs the Silero VAD model for every segment being checked at once, one batched inference per loop turn. The model
// is tiny, so a run costs mostly its fixed overhead: on this 2-core host one window alone costs ~360 µs of CPU, 16
// windows of 16 segments together ~96 µs each, 64 ~93 µs (the model takes a batch of independent streams, each with
// its own recurrent state). A surge cuts hundreds of segments within a second; checked one run per window, Silero alone
// would hold the event loop for seconds.
import { createRequire } from 'node:module';

/** Silero's window at 16 kHz, and the samples of the previous window it sees in front of each (its own reference code's). */
export const WINDOW_SAMPLES = 512;
const CONTEXT_SAMPLES = 64;
const INPUT_SAMPLES = CONTEXT_SAMPLES + WINDOW_SAMPLES;
/** The recurrent state per stream: [2, 1, 128]. */
const STATE_SIZE = 128;
/** Past this, a larger batch no longer saves CPU per window (measured above), and one run should stay short. */
const MAX_BATCH = 64;

/** The part of onnxruntime-node's InferenceSession this module runs. */
export interface OrtSession {
  readonly outputNames: readonly string[];
  run(feeds: Record<string, unknown>): Promise<Record<string, { data: ArrayLike<number> }>>;
}

type TensorConstructor = new (type: string, data: Float32Array | BigInt64Array, dims?: number[]) => unknown;

/** One segment's place in the model's recurrent input: its state and the end of its previous window. */
export class SileroStream {
  readonly state = new Float32Array(2 * STATE_SIZE);
  readonly context = new Float32Array(CONTEXT_SAMPLES);
}

interface Job {
  stream: SileroStream;
  window: Float32Array;
  resolve(probability: number): void;
  reject(error: unknown): void;
}

export class SileroBatch {
  private readonly Tensor: TensorConstructor;
  private readonly rate: unknown;
  private queue: Job[] = [];
  /** A run is scheduled or under way: the next starts after it, with whatever queued meanwhile. */
  private busy = false;

  constructor(private readonly session: OrtSession) {
    const require = createRequire(import.meta.url);
    this.Tensor = (require('onnxruntime-node') as { Tensor: TensorConstructor }).Tensor;
    this.rate = new this.Tensor('int64', BigInt64Array.from([16_000n]));
  }

  /** The speech probability of `window` (512 samples at 16 kHz, in [-1, 1]), advancing `stream`'s state. */
  probability(stream: SileroStream, window: Float32Array): Promise<number> {
    return new Promise((resolve, reject) => {
      // Copied: the caller reuses its window buffer for the next one while this waits for the batch.
      this.queue.push({ stream, window: window.slice(), resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.busy || this.queue.length === 0) return;
    this.busy = true;
    // After this turn's I/O: every segment that asked during it joins the same run.
    setImmediate(() => {
      const jobs = this.queue.splice(0, MAX_BATCH);
      // Whatever fails, every window of the batch is answered (a settled promise ignores a second answer).
      void this.runBatch(jobs)
        .catch((error: unknown) => jobs.forEach((job) => job.reject(error)))
        .finally(() => {
          this.busy = false;
          this.schedule();
        });
    });
  }

  private async runBatch(jobs: Job[]): Promise<void> {
    const size = jobs.length;
    const input = new Float32Array(size * INPUT_SAMPLES);
    // [2, size, 128]: every stream's first layer, then every stream's second.
    const state = new Float32Array(2 * size * STATE_SIZE);
    jobs.forEach(({ stream, window }, b) => {
      input.set(stream.context, b * INPUT_SAMPLES);
      input.set(window, b * INPUT_SAMPLES + CONTEXT_SAMPLES);
      state.set(stream.state.subarray(0, STATE_SIZE), b * STATE_SIZE);
      state.set(stream.state.subarray(STATE_SIZE), (size + b) * STATE_SIZE);
    });
    // A failure here rejects every window of the batch (schedule's catch), so no check waits for ever.
    const outputs = await this.session.run({
      input: new this.Tensor('float32', input, [size, INPUT_SAMPLES]),
      state: new this.Tensor('float32', state, [2, size, STATE_SIZE]),
      sr: this.rate,
    });
    const probabilities = outputs[this.session.outputNames[0]!]!.data;
    const nextState = outputs[this.session.outputNames[1]!]!.data;
    if (probabilities.length !== size || !(nextState instanceof Float32Array) || nextState.length !== state.length) {
      throw new Error(`Silero answered ${probabilities.length} probabilities and ${nextState.length} state values for a batch of ${size}`);
    }
    jobs.forEach(({ stream, window, resolve }, b) => {
      stream.state.set(nextState.subarray(b * STATE_SIZE, (b + 1) * STATE_SIZE), 0);
      stream.state.set(nextState.subarray((size + b) * STATE_SIZE, (size + b + 1) * STATE_SIZE), STATE_SIZE);
      stream.context.set(window.subarray(WINDOW_SAMPLES - CONTEXT_SAMPLES));
      resolve(probabilities[b]!);
    });
  }
}
