// WAV files of mono 16-bit PCM: the 44-byte header (browser-safe: the page and the engines share it), encoding, a segment check.
// Reading any WAV is in wav-decode.ts, so the page's bundle never pulls in wavefile.
import { assertSampleRate, assertWholeSamples, BYTES_PER_SAMPLE } from './pcm.js';

const WAV_HEADER_BYTES = 44;

/**
 * The 44-byte header of a mono 16-bit PCM WAV holding `dataBytes` bytes of samples. Plain DataView, no Node
 * Buffer, so the page's "Save the recording" writes the same bytes. Callers send `[header, pcm]` as one file so
 * the samples are copied once, not twice.
 */
export function wavHeader(dataBytes: number, sampleRate: number): Uint8Array<ArrayBuffer> {
  assertWholeSamples(dataBytes);
  assertSampleRate(sampleRate);
  const header = new DataView(new ArrayBuffer(WAV_HEADER_BYTES));
  const ascii = (offset: number, text: string) => {
    for (let i = 0; i < text.length; i++) header.setUint8(offset + i, text.charCodeAt(i));
  };
  ascii(0, 'RIFF');
  header.setUint32(4, WAV_HEADER_BYTES - 8 + dataBytes, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  header.setUint32(16, 16, true); // fmt chunk size
  header.setUint16(20, 1, true); // PCM
  header.setUint16(22, 1, true); // mono
  header.setUint32(24, sampleRate, true);
  header.setUint32(28, sampleRate * BYTES_PER_SAMPLE, true); // byte rate
  header.setUint16(32, BYTES_PER_SAMPLE, true); // block align
  header.setUint16(34, 16, true); // bits per sample
  ascii(36, 'data');
  header.setUint32(40, dataBytes, true);
  return new Uint8Array(header.buffer);
}

// Below, Node Buffers in and out: the engines, scripts and load test hold audio in Buffers; the page needs only the header.

/**
 * Mono 16-bit little-endian PCM → WAV file bytes.
 * The header is written by hand: wavefile's fromScratch() would unpack and repack every sample.
 */
export function encodeWav(pcm: Buffer, sampleRate: number): Buffer {
  const header = wavHeader(pcm.length, sampleRate);
  return Buffer.concat([header, pcm], header.length + pcm.length);
}

/** Why `pcm` at `sampleRate` is not usable mono 16-bit audio, or undefined when it is. */
export function pcmProblem(pcm: Buffer, sampleRate: number): string | undefined {
  if (!Number.isInteger(sampleRate) || sampleRate <= 0) return `invalid sample rate ${sampleRate}`;
  if (pcm.length % BYTES_PER_SAMPLE !== 0) return `segment PCM has ${pcm.length} bytes, not whole 16-bit samples`;
  return undefined;
}
