// WAV and PCM helpers for engines: wrap a segment's PCM in a WAV header, read any WAV back as mono 16-bit PCM, resample.
import wavefile from 'wavefile';

// wavefile ships CommonJS (`export =`), so under ESM only the default import exists.
const { WaveFile } = wavefile;

const BYTES_PER_SAMPLE = 2;
const WAV_HEADER_BYTES = 44;

interface WaveFmt {
  audioFormat: number;
  numChannels: number;
  sampleRate: number;
  bitsPerSample: number;
}

/**
 * The 44-byte header of a mono 16-bit PCM WAV holding `dataBytes` bytes of samples.
 * Engines send `[header, pcm]` as one upload part so the segment is copied once, not twice.
 */
export function wavHeader(dataBytes: number, sampleRate: number): Buffer {
  assertWholeSamples(dataBytes);
  if (!Number.isInteger(sampleRate) || sampleRate <= 0) throw new RangeError(`invalid sample rate ${sampleRate}`);
  const header = Buffer.alloc(WAV_HEADER_BYTES);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(WAV_HEADER_BYTES - 8 + dataBytes, 4);
  header.write('WAVE', 8, 'ascii');
  header.write('fmt ', 12, 'ascii');
  header.writeUInt32LE(16, 16); // fmt chunk size
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE(sampleRate * BYTES_PER_SAMPLE, 28); // byte rate
  header.writeUInt16LE(BYTES_PER_SAMPLE, 32); // block align
  header.writeUInt16LE(16, 34); // bits per sample
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(dataBytes, 40);
  return header;
}

/**
 * Mono 16-bit little-endian PCM → WAV file bytes.
 * The header is written by hand: wavefile's fromScratch() would unpack and repack every sample.
 */
export function encodeWav(pcm: Buffer, sampleRate: number): Buffer {
  const header = wavHeader(pcm.length, sampleRate);
  return Buffer.concat([header, pcm], header.length + pcm.length);
}

/**
 * Any WAV wavefile understands (PCM 8–32 bit, float, A-law, µ-law, IMA ADPCM, RIFX, RF64, any channel count)
 * → mono 16-bit little-endian PCM, resampled to `targetRate` when given.
 * A file that already is mono 16-bit little-endian PCM comes back as a view of `wav`, without copying.
 */
export function decodeWavToPcm16(wav: Buffer, targetRate?: number): { pcm: Buffer; sampleRate: number } {
  const file = new WaveFile();
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

/**
 * Resamples mono 16-bit PCM with a Lanczos (a = 3) kernel, widened when downsampling so it also
 * low-pass filters (no aliasing from 48 kHz to 16 kHz). Returns `pcm` itself when the rates match.
 */
export function resamplePcm16(pcm: Buffer, fromRate: number, toRate: number): Buffer {
  assertWholeSamples(pcm.length);
  for (const rate of [fromRate, toRate]) {
    if (!Number.isInteger(rate) || rate <= 0) throw new RangeError(`invalid sample rate ${rate}`);
  }
  if (fromRate === toRate || pcm.length === 0) return pcm;

  const input = int16View(pcm);
  const inCount = input.length;
  const outCount = Math.max(1, Math.round((inCount * toRate) / fromRate));
  // A fresh Int16Array (not the Buffer pool) so the view is always 2-byte aligned.
  const output = new Int16Array(outCount);

  // Output sample i sits at input position i * from / to. With g = gcd(from, to) that position's
  // fractional part cycles through `phases` values, so kernel weights are computed once per phase
  // (for the usual rates: 8 kHz → 2 phases, 44.1 kHz → 160); odd rate pairs compute them per sample.
  const g = gcd(fromRate, toRate);
  const step = fromRate / g;
  const phases = toRate / g;
  const scale = Math.max(1, fromRate / toRate); // kernel stretch: cut off at the lower Nyquist
  const reach = Math.ceil(LANCZOS_A * scale);
  const taps = 2 * reach;
  const cached = phases <= MAX_CACHED_PHASES;
  const weights = new Float64Array((cached ? phases : 1) * taps);
  if (cached) for (let phase = 0; phase < phases; phase++) fillWeights(weights, phase * taps, taps, reach, phase / phases, scale);

  const last = inCount - 1;
  for (let i = 0; i < outCount; i++) {
    const position = i * step;
    const base = Math.floor(position / phases);
    const phase = position - base * phases;
    let w0 = 0;
    if (cached) w0 = phase * taps;
    else fillWeights(weights, 0, taps, reach, phase / phases, scale);
    const first = base - reach + 1;
    let acc = 0;
    for (let t = 0; t < taps; t++) {
      let j = first + t;
      if (j < 0) j = 0;
      else if (j > last) j = last; // repeat the edge sample instead of inventing silence
      acc += input[j]! * weights[w0 + t]!;
    }
    output[i] = acc >= 32767 ? 32767 : acc <= -32768 ? -32768 : Math.round(acc);
  }
  return Buffer.from(output.buffer, output.byteOffset, output.byteLength);
}

/** Why `pcm` at `sampleRate` is not usable mono 16-bit audio, or undefined when it is. */
export function pcmProblem(pcm: Buffer, sampleRate: number): string | undefined {
  if (!Number.isInteger(sampleRate) || sampleRate <= 0) return `invalid sample rate ${sampleRate}`;
  if (pcm.length % BYTES_PER_SAMPLE !== 0) return `segment PCM has ${pcm.length} bytes, not whole 16-bit samples`;
  return undefined;
}

const LANCZOS_A = 3;
const MAX_CACHED_PHASES = 4096;

/** Kernel weights for taps at distances (t - reach + 1 - frac), normalised to unity gain at DC. */
function fillWeights(into: Float64Array, offset: number, taps: number, reach: number, frac: number, scale: number): void {
  let sum = 0;
  for (let t = 0; t < taps; t++) {
    const w = lanczos((t - reach + 1 - frac) / scale);
    into[offset + t] = w;
    sum += w;
  }
  for (let t = 0; t < taps; t++) into[offset + t]! /= sum;
}

function lanczos(x: number): number {
  if (x === 0) return 1;
  if (x <= -LANCZOS_A || x >= LANCZOS_A) return 0;
  const px = Math.PI * x;
  return (LANCZOS_A * Math.sin(px) * Math.sin(px / LANCZOS_A)) / (px * px);
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

function isPcmFormat(audioFormat: number): boolean {
  return audioFormat === 1 || audioFormat === 0xfffe; // WAVE_FORMAT_PCM or EXTENSIBLE (wavefile reports its bit depth)
}

function assertWholeSamples(bytes: number): void {
  if (!Number.isInteger(bytes) || bytes < 0 || bytes % BYTES_PER_SAMPLE !== 0) {
    throw new RangeError(`PCM byte length ${bytes} is not a whole number of 16-bit samples`);
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Int16 samples of `pcm` (host order: little-endian on every platform Node supports in practice). */
function int16View(pcm: Buffer): Int16Array {
  if (pcm.byteOffset % BYTES_PER_SAMPLE === 0) {
    return new Int16Array(pcm.buffer, pcm.byteOffset, pcm.length / BYTES_PER_SAMPLE);
  }
  // An odd offset (a slice of a larger message) cannot be viewed as Int16: copy once.
  const aligned = new Int16Array(pcm.length / BYTES_PER_SAMPLE);
  new Uint8Array(aligned.buffer).set(pcm);
  return aligned;
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
