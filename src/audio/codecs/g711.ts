// G.711 μ-law and A-law to 16-bit PCM through 256-entry tables built once from alawmulaw (ITU-T G.711 reference).
import { createRequire } from 'node:module';

// alawmulaw ships CommonJS for Node and an ESM build under "module" that bundlers may pick: require() is one answer.
const { alaw, mulaw } = createRequire(import.meta.url)('alawmulaw') as typeof import('alawmulaw');

function table(decodeSample: (byte: number) => number): Int16Array {
  const t = new Int16Array(256);
  for (let b = 0; b < 256; b++) t[b] = decodeSample(b);
  return t;
}

export const MULAW_TABLE = table(mulaw.decodeSample);
export const ALAW_TABLE = table(alaw.decodeSample);

/** One 16-bit sample per input byte: every byte is a valid G.711 code, so this cannot fail. */
export function decodeG711(bytes: Uint8Array, lookup: Int16Array): Int16Array {
  const out = new Int16Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = lookup[bytes[i]!]!;
  return out;
}
