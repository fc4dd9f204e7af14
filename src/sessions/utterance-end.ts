// utterance_end: once `afterMs` of non-speech follows speech, the speech's end (audio time) is reported, once per
// utterance. Fed every accepted chunk's VAD frames in order; its state is this process's (a resume elsewhere starts
// afresh, so an utterance ending across the move may be reported there only if speech follows).
import { forEachFrame } from '../audio/vad.js';
import { bytesToMs } from '../protocol/index.js';

/** Speech frames in a row before a stretch counts as speech (a click does not start an utterance). */
const MIN_SPEECH_FRAMES = 3;

export class UtteranceEndDetector {
  private speechRun = 0;
  /** Where the last speech frame ended (absolute byte), while an utterance is open. */
  private speechEnd: number | undefined;

  constructor(
    private readonly afterMs: number,
    private readonly sampleRate: number,
    private readonly speechDbfs: number,
  ) {}

  /** Feeds a chunk ending at absolute offset `endByte`; returns the end (ms) of each utterance it closes. */
  feed(chunk: Uint8Array, endByte: number): number[] {
    const ends: number[] = [];
    let at = endByte - chunk.length;
    forEachFrame(chunk, this.sampleRate, this.speechDbfs, (isSpeech, frameBytes) => {
      at += frameBytes;
      if (isSpeech) {
        this.speechRun += 1;
        if (this.speechRun >= MIN_SPEECH_FRAMES) this.speechEnd = at;
        return;
      }
      this.speechRun = 0;
      if (this.speechEnd !== undefined && bytesToMs(at - this.speechEnd, this.sampleRate) >= this.afterMs) {
        ends.push(Math.round(bytesToMs(this.speechEnd, this.sampleRate)));
        this.speechEnd = undefined;
      }
    });
    return ends;
  }
}
