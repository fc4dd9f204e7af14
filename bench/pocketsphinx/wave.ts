// One wave of synchronized cuts, straight at the engine: the segment each of N stt-benchmark speakers has in hand at
// the same moment (real cuts: the Segmenter on the looped recording at the speakers' offsets), all handed over at once,
// for several pool sizes and with and without silence trimming, interleaved round by round. Prints when each segment's
// text came back (sorted), the wave's last, and the decoders' CPU; the load average with each round.
// Run: `npx tsx bench/pocketsphinx/wave.ts [--n 6] [--at-ms 20000] [--rounds 3] [--configs 2:off,2:on,3:on,6:on]`.
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { decodeWavToPcm16 } from '../../src/audio/wav-decode.js';
import { createPocketsphinxEngine, type PocketsphinxEngine } from '../../src/engines/pocketsphinx/engine.js';
import { Segmenter } from '../../src/sessions/segmenter.js';
import { cpuSeconds } from '../shared/processes.js';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '6' },
    'at-ms': { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '3' },
    configs: { type: 'string', default: '2:off,2:on,3:on,6:on' },
  },
});
const GOLDEN = 0.6180339887;
const CHUNK_BYTES = 3200;

const recording = decodeWavToPcm16(readFileSync(fileURLToPath(new URL('../../test/fixtures/hello-with-pauses.wav', import.meta.url)))).pcm;
const looped = Buffer.concat(Array.from({ length: 12 }, () => recording));

/** Speaker i's segment that is cut first at or after `atMs` into its stream (the stt benchmark's offsets). */
function segmentInHand(i: number, atMs: number): Buffer {
  const offset = Math.floor(((i * GOLDEN) % 1) * (recording.length / 2)) * 2;
  const stream = looped.subarray(offset);
  const segmenter = new Segmenter({ maxMs: 8000, minMs: 1000, silenceMs: 600, speechDbfs: -45 }, 16000, 0);
  let start = 0;
  for (let at = CHUNK_BYTES; at <= stream.length; at += CHUNK_BYTES) {
    for (const end of segmenter.feed(stream.subarray(at - CHUNK_BYTES, at), at)) {
      if (end >= atMs * 32) return stream.subarray(start, end);
      start = end;
    }
  }
  throw new Error('recording too short');
}

/** CPU seconds the decoders have used (bench/shared/processes.ts reads each one's /proc entry). */
function decodersCpuSeconds(pids: number[]): number {
  return pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
}

async function main(): Promise<void> {
  const n = Number(values.n);
  const wave = Array.from({ length: n }, (_, i) => segmentInHand(i, Number(values['at-ms'])));
  console.log(`Wave of ${n} segments: ${wave.map((s) => (s.length / 32000).toFixed(1)).join(', ')} s of audio`);
  const configs = values.configs.split(',').map((c) => {
    const [decoders, trim] = c.split(':');
    return { label: `${decoders} decoders, trim ${trim}`, decoders: Number(decoders), trim: trim === 'on' };
  });
  const engines = new Map<string, PocketsphinxEngine>();
  for (const config of configs) {
    const engine = createPocketsphinxEngine({ command: 'pocketsphinx_batch', decoders: config.decoders, trimSilence: config.trim });
    // Every decoder loads its model before the first figure.
    await Promise.all(Array.from({ length: config.decoders }, () => engine.transcribe({ pcm: wave[0]!, sampleRate: 16000 })));
    engines.set(config.label, engine);
  }
  try {
    for (let round = 1; round <= Number(values.rounds); round++) {
      for (const config of configs) {
        const engine = engines.get(config.label)!;
        const pids = await engine.decoderPids();
        const cpuBefore = decodersCpuSeconds(pids);
        const started = performance.now();
        const done = await Promise.all(wave.map((pcm) => engine.transcribe({ pcm, sampleRate: 16000 }).then(() => performance.now() - started)));
        const cpu = decodersCpuSeconds(pids) - cpuBefore;
        done.sort((a, b) => a - b);
        console.log(
          `round ${round}, ${config.label}: done at ${done.map((ms) => Math.round(ms)).join(' ')} ms (last ${Math.round(done[done.length - 1]!)}), ` +
            `decoder CPU ${cpu.toFixed(2)} s; load ${loadavg().map((v) => v.toFixed(2)).join('/')}`,
        );
      }
    }
  } finally {
    await Promise.all([...engines.values()].map((engine) => engine.close()));
  }
}

await main();
