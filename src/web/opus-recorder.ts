// Microphone capture as WebM Opus: MediaRecorder('audio/webm;codecs=opus') hands over the consecutive bytes of one
// WebM stream every TIMESLICE_MS, which the session sends as they come (format webm_opus): about a tenth of PCM's bytes.
import { explainMicrophoneError, MicrophoneError } from './microphone.js';

export const WEBM_OPUS = 'audio/webm;codecs=opus';
/** Bytes handed over this often: short enough for live results, long enough to keep chunks few. */
const TIMESLICE_MS = 200;
/** Speech at 24 kbit/s transcribes as well as 16 kHz PCM (see BENCHMARKS.md). */
const BITS_PER_SECOND = 24_000;

export class OpusRecorder {
  private stopping: Promise<void> | undefined;

  private constructor(
    private readonly recorder: MediaRecorder,
    private readonly stream: MediaStream,
  ) {}

  /** Whether this browser records WebM Opus (Chrome, Edge, Firefox ≥ 63 do; Safari falls back to PCM). */
  static supported(): boolean {
    return typeof MediaRecorder !== 'undefined' && MediaRecorder.isTypeSupported(WEBM_OPUS);
  }

  static async open(onBytes: (bytes: ArrayBuffer) => void, onEnded: () => void): Promise<OpusRecorder> {
    if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) {
      throw new MicrophoneError(
        'This browser only allows the microphone on secure pages: open the page over https, or as http://localhost on the machine running the server.',
        'InsecureContext',
      );
    }
    let stream: MediaStream | undefined;
    try {
      // The same capture settings as the PCM path: natural speech, no call processing.
      stream = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
      });
      const recorder = new MediaRecorder(stream, { mimeType: WEBM_OPUS, audioBitsPerSecond: BITS_PER_SECOND });
      // Blobs resolve out of order in principle: chain them so the stream's bytes go out in order.
      let order = Promise.resolve();
      recorder.addEventListener('dataavailable', (event: BlobEvent) => {
        if (event.data.size === 0) return;
        const blob = event.data;
        order = order.then(async () => onBytes(await blob.arrayBuffer()));
      });
      recorder.addEventListener('stop', () => void order);
      stream.getAudioTracks()[0]?.addEventListener('ended', onEnded, { once: true });
      const result = new OpusRecorder(recorder, stream);
      result.drained = () => order;
      recorder.start(TIMESLICE_MS);
      return result;
    } catch (error) {
      stream?.getTracks().forEach((track) => track.stop());
      throw explainMicrophoneError(error);
    }
  }

  private drained: () => Promise<void> = () => Promise.resolve();

  /** Stops recording after the last bytes (the end of the stream) have been handed over. */
  stop(): Promise<void> {
    this.stopping ??= this.finish();
    return this.stopping;
  }

  private async finish(): Promise<void> {
    if (this.recorder.state !== 'inactive') {
      await new Promise<void>((resolve) => {
        this.recorder.addEventListener('stop', () => resolve(), { once: true });
        this.recorder.stop();
      });
    }
    await this.drained();
    this.stream.getTracks().forEach((track) => track.stop());
  }
}
