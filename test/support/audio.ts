// Test audio: speech-loud and silent 16-bit PCM, each byte pattern unique so reordering or loss shows.

/** `ms` of a loud, varying waveform (well above the VAD threshold); `seed` makes distinct streams. */
export function loudPcm(ms: number, sampleRate = 16000, seed = 1): Buffer {
  const samples = Math.round((ms * sampleRate) / 1000);
  const pcm = Buffer.alloc(samples * 2);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < samples; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const noise = ((state >>> 16) & 0x3ff) - 512;
    const tone = Math.sin((2 * Math.PI * 220 * i) / sampleRate) * 8000;
    pcm.writeInt16LE(Math.round(tone + noise), i * 2);
  }
  return pcm;
}

/** `ms` of digital silence. */
export function silentPcm(ms: number, sampleRate = 16000): Buffer {
  return Buffer.alloc(Math.round((ms * sampleRate) / 1000) * 2);
}

/** Splits audio into chunks of `ms` each (the last may be shorter). */
export function chunksOf(pcm: Buffer, ms: number, sampleRate = 16000): Buffer[] {
  const size = Math.round((ms * sampleRate) / 1000) * 2;
  const chunks: Buffer[] = [];
  for (let i = 0; i < pcm.length; i += size) chunks.push(pcm.subarray(i, Math.min(pcm.length, i + size)));
  return chunks;
}

/** Mono 16-bit PCM holding exactly `samples`. */
export function pcmOf(samples: number[] | Int16Array): Buffer {
  const array = samples instanceof Int16Array ? samples : Int16Array.from(samples);
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength);
}

/** The samples of mono 16-bit PCM, as numbers. */
export function samplesOf(pcm: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i < pcm.length; i += 2) out.push(pcm.readInt16LE(i));
  return out;
}

/** `seconds` of a `freq` Hz sine at `rate`. */
export function sine(freq: number, rate: number, seconds: number, amplitude = 10000): Buffer {
  const n = Math.round(rate * seconds);
  const s = new Int16Array(n);
  for (let i = 0; i < n; i++) s[i] = Math.round(amplitude * Math.sin((2 * Math.PI * freq * i) / rate));
  return pcmOf(s);
}
