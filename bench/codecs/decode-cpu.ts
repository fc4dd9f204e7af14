// CPU per real-time stream of each input format's decoder (src/audio/codecs), against pcm_s16le: µs of CPU per
// second of audio and the share of one core one stream takes. Run: npx tsx bench/codecs/decode-cpu.ts [seconds]
// (Node 24: bash scripts/with-node.sh 24 npx tsx bench/codecs/decode-cpu.ts). Fixtures: test/audio/codecs/fixtures.ts.
import { createStreamDecoder, type StreamDecoderOptions, type StreamFormat } from '../../src/audio/codecs/index.js';
import { codecFixtures } from '../../test/audio/codecs/fixtures.js';

const audioSeconds = Number(process.argv[2] ?? 120);
const f = codecFixtures();
const sourceSeconds = f.pcm16k.length / 2 / 16000;

interface Case {
  name: string;
  format: StreamFormat;
  options: StreamDecoderOptions;
  bytes: Buffer;
}

const cases: Case[] = [
  { name: 'pcm_s16le 16 kHz', format: 'pcm_s16le', options: { sampleRate: 16000 }, bytes: f.pcm16k },
  { name: 'mulaw 8 kHz (stored at 8 kHz)', format: 'mulaw', options: { sampleRate: 8000 }, bytes: f.mulaw },
  { name: 'mulaw 8 kHz → 16 kHz', format: 'mulaw', options: { sampleRate: 16000, inputRate: 8000 }, bytes: f.mulaw },
  { name: 'alaw 8 kHz (stored at 8 kHz)', format: 'alaw', options: { sampleRate: 8000 }, bytes: f.alaw },
  { name: 'ogg_opus 24 kbit/s → 16 kHz', format: 'ogg_opus', options: { sampleRate: 16000 }, bytes: f.ogg },
  { name: 'ogg_opus 24 kbit/s → 48 kHz (libopus only)', format: 'ogg_opus', options: { sampleRate: 48000 }, bytes: f.ogg },
  { name: 'webm_opus 24 kbit/s → 16 kHz', format: 'webm_opus', options: { sampleRate: 16000 }, bytes: f.webmLive },
];

/** Chunks of ~100 ms of the stream, as a client sending every 100 ms would. */
function chunks(bytes: Buffer): Buffer[] {
  const size = Math.max(1, Math.round(bytes.length / (sourceSeconds * 10)));
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

async function measure(c: Case): Promise<{ usPerSecond: number; core: number; bytesPerSecond: number }> {
  const parts = chunks(c.bytes);
  const reps = Math.ceil(audioSeconds / sourceSeconds);
  // Warm-up: JIT and wasm compilation are not per-stream costs.
  for (let i = 0; i < 3; i++) {
    const d = await createStreamDecoder(c.format, c.options);
    for (const p of parts) d.decode(p);
    d.close();
  }
  const decoders = await Promise.all(Array.from({ length: reps }, () => createStreamDecoder(c.format, c.options)));
  const start = process.cpuUsage();
  for (const d of decoders) {
    for (const p of parts) d.decode(p);
    d.flush();
  }
  const used = process.cpuUsage(start);
  for (const d of decoders) d.close();
  const cpuUs = used.user + used.system;
  const seconds = reps * sourceSeconds;
  return { usPerSecond: cpuUs / seconds, core: cpuUs / seconds / 1e6, bytesPerSecond: c.bytes.length / sourceSeconds };
}

console.log(`Node ${process.version}, ${audioSeconds} s of speech per format (hello.wav looped), 100 ms chunks`);
console.log('| format | bytes/s on the wire | µs CPU per s of audio | share of one core per stream | vs pcm_s16le |');
console.log('|---|---:|---:|---:|---:|');
let pcm = 0;
for (const c of cases) {
  const r = await measure(c);
  if (c.format === 'pcm_s16le') pcm = r.usPerSecond;
  console.log(`| ${c.name} | ${Math.round(r.bytesPerSecond)} | ${r.usPerSecond.toFixed(0)} | ${(r.core * 100).toFixed(3)} % | ${(r.usPerSecond / pcm).toFixed(1)}× |`);
}
