// Decides where a session's audio is cut into segments: at the length cap, or at a pause after enough audio.
import { msToBytes } from '../protocol/index.js';
import { forEachFrame } from '../audio/vad.js';

export interface SegmentationSettings {
  maxMs: number;
  minMs: number;
  silenceMs: number;
  speechDbfs: number;
}

/** Where a segment ends, and whether a pause (or the end of the stream) ended it rather than the length cap. */
export interface SegmentCut {
  endByte: number;
  speechFinal: boolean;
}

export class Segmenter {
  private readonly maxBytes: number;
  private readonly minBytes: number;
  private readonly silenceBytes: number;
  /** Absolute byte offset where the current (uncut) segment starts. */
  private segmentStart: number;
  /** Trailing silence of the current segment, in bytes. */
  private silenceRun = 0;

  constructor(
    private readonly settings: SegmentationSettings,
    private readonly sampleRate: number,
    startByte: number,
  ) {
    this.maxBytes = msToBytes(settings.maxMs, sampleRate);
    this.minBytes = msToBytes(settings.minMs, sampleRate);
    this.silenceBytes = msToBytes(settings.silenceMs, sampleRate);
    this.segmentStart = startByte;
  }

  /**
   * Feeds an accepted chunk whose last byte ends at absolute offset `endByte`; returns the absolute offsets
   * where segments end (usually none, several only when one chunk spans more than SEGMENT_MAX_MS).
   */
  feed(chunk: Uint8Array, endByte: number): number[] {
    return this.cut(chunk, endByte).map((c) => c.endByte);
  }

  /** feed(), each cut saying why it was made. */
  cut(chunk: Uint8Array, endByte: number): SegmentCut[] {
    const cuts: SegmentCut[] = [];
    const chunkStart = endByte - chunk.length;
    // Length cap: cut exactly at SEGMENT_MAX_MS so no segment is longer.
    while (endByte - this.segmentStart >= this.maxBytes) {
      this.segmentStart += this.maxBytes;
      cuts.push({ endByte: this.segmentStart, speechFinal: false });
      this.silenceRun = 0;
    }
    const analysed = chunk.subarray(Math.max(0, this.segmentStart - chunkStart));
    forEachFrame(analysed, this.sampleRate, this.settings.speechDbfs, (isSpeech, frameBytes) => {
      this.silenceRun = isSpeech ? 0 : this.silenceRun + frameBytes;
    });
    // Pause: enough audio in the segment and SILENCE_MS of quiet at its end.
    if (endByte - this.segmentStart >= this.minBytes && this.silenceRun >= this.silenceBytes && endByte > this.segmentStart) {
      this.segmentStart = endByte;
      this.silenceRun = 0;
      cuts.push({ endByte, speechFinal: true });
    }
    return cuts;
  }

  /** Cuts everything up to `endByte` (end of session), in pieces no longer than SEGMENT_MAX_MS. */
  flush(endByte: number): number[] {
    return this.flushCuts(endByte).map((c) => c.endByte);
  }

  /** flush(), each cut saying why: the last ends the stream (speech final), the ones before are the length cap's. */
  flushCuts(endByte: number): SegmentCut[] {
    const cuts: SegmentCut[] = [];
    while (endByte > this.segmentStart) {
      this.segmentStart = Math.min(endByte, this.segmentStart + this.maxBytes);
      cuts.push({ endByte: this.segmentStart, speechFinal: this.segmentStart === endByte });
    }
    this.silenceRun = 0;
    return cuts;
  }
}
