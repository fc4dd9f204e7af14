// The page's copy of the audio it sent in the current session, so "Save the recording" can offer it as a WAV after Stop.
import { BYTES_PER_SAMPLE, bytesToMs, DEFAULT_SAMPLE_RATE } from '../audio/pcm.js';
import { wavHeader } from '../audio/wav.js';

/** 15 minutes of 16 kHz 16-bit audio (about 29 MB): beyond that the page stops keeping a copy. */
export const MAX_SENT_AUDIO_BYTES = 15 * 60 * DEFAULT_SAMPLE_RATE * BYTES_PER_SAMPLE;

export class SentAudio {
  private parts: Uint8Array[] = [];
  private bytes = 0;
  /** True once the audio outgrew MAX_SENT_AUDIO_BYTES: later audio was still transcribed, just not kept here. */
  truncated = false;
  /** Audio captured so far, in milliseconds (including any part not kept). */
  durationMs = 0;

  constructor(
    readonly sampleRate = DEFAULT_SAMPLE_RATE,
    private readonly maxBytes = MAX_SENT_AUDIO_BYTES,
  ) {}

  append(pcm: ArrayBuffer): void {
    this.durationMs += bytesToMs(pcm.byteLength, this.sampleRate);
    if (this.bytes + pcm.byteLength > this.maxBytes) {
      this.truncated = true;
      return;
    }
    this.parts.push(new Uint8Array(pcm.slice(0)));
    this.bytes += pcm.byteLength;
  }

  get byteLength(): number {
    return this.bytes;
  }

  /** The kept audio as a 16-bit mono WAV file. */
  toWav(): Blob {
    return new Blob([wavHeader(this.bytes, this.sampleRate), ...this.parts.map((part) => part.buffer as ArrayBuffer)], { type: 'audio/wav' });
  }
}
