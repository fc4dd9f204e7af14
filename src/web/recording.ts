// Keeps the audio of the current session in the page, so it can be saved as a WAV file after Stop.
import { TARGET_SAMPLE_RATE } from './pcm-chunker.js';

/** 15 minutes of 16 kHz 16-bit audio (about 29 MB): beyond that the page stops keeping a copy. */
export const MAX_RECORDING_BYTES = 15 * 60 * TARGET_SAMPLE_RATE * 2;

export class Recording {
  private parts: Uint8Array[] = [];
  private bytes = 0;
  /** True once the recording outgrew MAX_RECORDING_BYTES: later audio was still transcribed, just not kept here. */
  truncated = false;
  /** Audio captured so far, in milliseconds (including any part not kept). */
  durationMs = 0;

  constructor(
    readonly sampleRate = TARGET_SAMPLE_RATE,
    private readonly maxBytes = MAX_RECORDING_BYTES,
  ) {}

  append(pcm: ArrayBuffer): void {
    this.durationMs += (pcm.byteLength / 2 / this.sampleRate) * 1000;
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

/** The 44-byte RIFF header of a PCM WAV file holding `dataBytes` of 16-bit mono audio. */
export function wavHeader(dataBytes: number, sampleRate: number): ArrayBuffer {
  const header = new DataView(new ArrayBuffer(44));
  const text = (offset: number, value: string) => [...value].forEach((c, i) => header.setUint8(offset + i, c.charCodeAt(0)));
  text(0, 'RIFF');
  header.setUint32(4, 36 + dataBytes, true);
  text(8, 'WAVE');
  text(12, 'fmt ');
  header.setUint32(16, 16, true);
  header.setUint16(20, 1, true); // PCM
  header.setUint16(22, 1, true); // mono
  header.setUint32(24, sampleRate, true);
  header.setUint32(28, sampleRate * 2, true);
  header.setUint16(32, 2, true);
  header.setUint16(34, 16, true);
  text(36, 'data');
  header.setUint32(40, dataBytes, true);
  return header.buffer;
}
