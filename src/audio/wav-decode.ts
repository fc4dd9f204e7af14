// Reads any WAV file as mono 16-bit PCM (wavefile does the parsing). Node only: Buffers in and out, for the engines'
// tests, the ops performance test, scripts and the load test.
import wavefile from 'wavefile';
import { BYTES_PER_SAMPLE } from './pcm.js';
import { resamplePcm16 } from './resample.js';

interface WaveFmt {
  audioFormat: number;
  numChannels: number;
  sampleRate: number;
  bitsPerSample: number;
}

/**
 * Any WAV wavefile understands (PCM 8–32 bit, float, A-law, µ-law, IMA ADPCM, RIFX, RF64, any channel count)
 * → mono 16-bit little-endian PCM, resampled to `targetRate` when given.
 * A file that already is mono 16-bit little-endian PCM comes back as a view of `wav`, without copying.
 */
export function decodeWavToPcm16(wav: Buffer, targetRate?: number): { pcm: Buffer; sampleRate: number } {
  // wavefile ships CommonJS (`export =`), so under ESM only the default import exists.
  const file = new wavefile.WaveFile();
  try {
    // With a Buffer input wavefile's data chunk is Buffer#slice, i.e. a view, not a copy.
    file.fromBuffer(wav);
  } catch (error) {
    throw new Error(`not a readable WAV file: ${(error as Error).message}`, { cause: error });
  }
  const fmt = file.fmt as WaveFmt;
  const sampleRate = fmt.sampleRate;
  let pcm: Buffer;
  if (file.container !== 'RIFX' && file.bitDepth === '16' && fmt.numChannels === 1 && isPcmFormat(fmt.audioFormat)) {
    const samples = (file.data as { samples: Uint8Array }).samples;
    // A truncated file may end mid-sample; drop the half sample.
    pcm = asBuffer(samples).subarray(0, samples.byteLength - (samples.byteLength % BYTES_PER_SAMPLE));
  } else {
    if (file.bitDepth !== '16') file.toBitDepth('16'); // also decodes A-law, µ-law and ADPCM first
    const interleaved = file.getSamples(true, Int16Array) as unknown as Int16Array;
    // toBitDepth() rebuilds the headers, so the channel count is read again.
    pcm = mixToMono(interleaved, (file.fmt as WaveFmt).numChannels);
  }
  if (targetRate !== undefined && targetRate !== sampleRate) {
    return { pcm: resamplePcm16(pcm, sampleRate, targetRate), sampleRate: targetRate };
  }
  return { pcm, sampleRate };
}

function isPcmFormat(audioFormat: number): boolean {
  return audioFormat === 1 || audioFormat === 0xfffe; // WAVE_FORMAT_PCM or EXTENSIBLE (wavefile reports its bit depth)
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function mixToMono(interleaved: Int16Array, channels: number): Buffer {
  if (channels === 1) return Buffer.from(interleaved.buffer, interleaved.byteOffset, interleaved.byteLength);
  const frames = Math.floor(interleaved.length / channels);
  const mono = new Int16Array(frames);
  for (let f = 0, s = 0; f < frames; f++) {
    let sum = 0;
    for (let c = 0; c < channels; c++, s++) sum += interleaved[s]!;
    mono[f] = Math.round(sum / channels);
  }
  return Buffer.from(mono.buffer, mono.byteOffset, mono.byteLength);
}
