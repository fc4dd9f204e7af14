// Offline engine speed and accuracy, old against new in one run: the per-segment pocketsphinx_continuous engine
// (taken from git at LEGACY_COMMIT) and the pool of long-lived pocketsphinx_batch decoders, on the speech fixtures
// at several input levels, as recorded (digital-zero silence) and with the 1-bit noise floor any real input has. Run: `npx tsx bench/pocketsphinx-rtf.ts [--decoders N] [--rounds N]`.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { TranscriptionEngine } from '../src/engines/engine.js';
import { createPocketsphinxEngine } from '../src/engines/pocketsphinx/engine.js';
import { decodeWavToPcm16 } from '../src/engines/wav.js';

/** The last commit with the per-segment engine (src/engines/pocketsphinx.ts). */
const LEGACY_COMMIT = '3c4200b';
const LEVELS_DB = [0, -6, -12, -18];
const FIXTURES = ['hello.wav', 'hello-with-pauses.wav'];
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));

const { values } = parseArgs({
  options: {
    decoders: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '2' },
    command: { type: 'string', default: 'pocketsphinx_batch' },
  },
});
const decoders = Number(values.decoders);
const rounds = Number(values.rounds);

interface Clip {
  name: string;
  level: number;
  noiseFloor: boolean;
  pcm: Buffer;
  spoken: string;
  seconds: number;
}

interface Outcome {
  engine: string;
  /** Wall time of each clip's transcribe(), one clip at a time. */
  rtfs: number[];
  /** CPU seconds of the recogniser processes (user + system) over all clips, per audio second. */
  cpuRtf: number;
  /** Word accuracy (1 - word edit distance / spoken words) per clip. */
  accuracy: Map<string, number>;
  texts: Map<string, string>;
  firstMs: number;
}

const root = fileURLToPath(new URL('..', import.meta.url));
const spokenText = JSON.parse(readFileSync(`${root}/test/fixtures/fixtures.json`, 'utf8')) as Record<string, string>;

function clips(): Clip[] {
  return FIXTURES.flatMap((file) => {
    const { pcm, sampleRate } = decodeWavToPcm16(readFileSync(`${root}/test/fixtures/${file}`));
    if (sampleRate !== 16000) throw new Error(`${file}: expected 16 kHz`);
    return [false, true].flatMap((noiseFloor) =>
      LEVELS_DB.map((level) => ({
        name: `${file} ${level} dB${noiseFloor ? ' + noise floor' : ''}`,
        level,
        noiseFloor,
        pcm: scale(pcm, 10 ** (level / 20), noiseFloor ? 1 : 0),
        spoken: spokenText[file]!,
        seconds: pcm.length / 2 / sampleRate,
      })),
    );
  });
}

/** Gain, plus triangular noise of `noise` LSB (seeded: the same clip every run), like sox's dither. */
function scale(pcm: Buffer, gain: number, noise: number): Buffer {
  let seed = 0x9e3779b9;
  const random = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const out = Buffer.alloc(pcm.length);
  for (let i = 0; i < pcm.length; i += 2) {
    const value = Math.round(pcm.readInt16LE(i) * gain + noise * (random() - random()));
    out.writeInt16LE(Math.max(-32768, Math.min(32767, value)), i);
  }
  return out;
}

function words(text: string): string[] {
  return text.toLowerCase().match(/[a-z']+/g) ?? [];
}

function wordAccuracy(spoken: string, heard: string): number {
  const ref = words(spoken);
  const hyp = words(heard);
  // distance[j] = edits turning the first i spoken words into the first j heard words (Levenshtein, by rows).
  let distance = Array.from({ length: hyp.length + 1 }, (_, j) => j);
  for (let i = 1; i <= ref.length; i++) {
    const next = [i];
    for (let j = 1; j <= hyp.length; j++) {
      next.push(Math.min(distance[j]! + 1, next[j - 1]! + 1, distance[j - 1]! + (ref[i - 1] === hyp[j - 1] ? 0 : 1)));
    }
    distance = next;
  }
  return 1 - distance[hyp.length]! / ref.length;
}

/** CPU seconds of this process's exited, waited-for children (fields 16 and 17 of /proc/self/stat). */
function childCpuSeconds(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  const ticks = Number(fields[13]) + Number(fields[14]);
  return ticks / CLOCK_TICKS;
}

async function legacyEngine(): Promise<TranscriptionEngine> {
  const source = execFileSync('git', ['show', `${LEGACY_COMMIT}:src/engines/pocketsphinx.ts`], { cwd: root, encoding: 'utf8' });
  const dir = `${root}/bench/.tmp`;
  mkdirSync(dir, { recursive: true });
  const file = `${dir}/legacy-pocketsphinx.mts`;
  writeFileSync(file, source.replaceAll("from './", "from '../../src/engines/"));
  const legacy = (await import(pathToFileURL(file).href)) as {
    createPocketsphinxEngine(options: { command: string }): TranscriptionEngine;
  };
  return legacy.createPocketsphinxEngine({ command: 'pocketsphinx_continuous' });
}

async function measure(name: string, engine: TranscriptionEngine, all: Clip[]): Promise<Outcome> {
  const warmUp = Date.now();
  await engine.transcribe({ pcm: all[0]!.pcm, sampleRate: 16000 });
  const firstMs = Date.now() - warmUp;
  const cpuBefore = childCpuSeconds();
  const outcome: Outcome = { engine: name, rtfs: [], cpuRtf: 0, accuracy: new Map(), texts: new Map(), firstMs };
  let audioSeconds = 0;
  for (let round = 0; round < rounds; round++) {
    for (const clip of all) {
      const started = performance.now();
      const { text } = await engine.transcribe({ pcm: clip.pcm, sampleRate: 16000 });
      outcome.rtfs.push((performance.now() - started) / 1000 / clip.seconds);
      audioSeconds += clip.seconds;
      const previous = outcome.texts.get(clip.name);
      if (previous !== undefined && previous !== text) console.warn(`${name}: ${clip.name} changed between rounds: "${previous}" → "${text}"`);
      outcome.texts.set(clip.name, text);
      outcome.accuracy.set(clip.name, wordAccuracy(clip.spoken, text));
    }
  }
  await engine.close?.(); // the pool's decoders are counted by childCpuSeconds() only once they have exited
  outcome.cpuRtf = (childCpuSeconds() - cpuBefore) / audioSeconds;
  return outcome;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

const all = clips();
const load = loadavg().map((l) => l.toFixed(1)).join(' ');
const outcomes = [
  await measure(`per-segment pocketsphinx_continuous (${LEGACY_COMMIT})`, await legacyEngine(), all),
  await measure(`pool of ${decoders} ${values.command} decoders`, createPocketsphinxEngine({ command: values.command, decoders }), all),
];

const lines: string[] = [];
lines.push(`Load average at start: ${load}; at end: ${loadavg().map((l) => l.toFixed(1)).join(' ')}. ${rounds} rounds of ${all.length} clips, one at a time.`, '');
lines.push('| engine | first segment (ms) | wall RTF, median | wall RTF, p90 | CPU RTF | word accuracy, all clips | as recorded, 0 dB | as recorded, all levels | with noise floor, all levels |');
lines.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const o of outcomes) {
  const accuracy = (keep: (clip: Clip) => boolean) => `${(mean(all.filter(keep).map((c) => o.accuracy.get(c.name)!)) * 100).toFixed(0)} %`;
  const sorted = [...o.rtfs].sort((a, b) => a - b);
  lines.push(
    `| ${o.engine} | ${o.firstMs} | ${median(o.rtfs).toFixed(2)} | ${sorted[Math.floor(sorted.length * 0.9)]!.toFixed(2)} | ${o.cpuRtf.toFixed(2)} | ${accuracy(() => true)} | ${accuracy((c) => !c.noiseFloor && c.level === 0)} | ${accuracy((c) => !c.noiseFloor)} | ${accuracy((c) => c.noiseFloor)} |`,
  );
}
lines.push('', '| clip | ' + outcomes.map((o) => o.engine).join(' | ') + ' |', '| --- |' + outcomes.map(() => ' --- |').join(''));
for (const clip of all) {
  lines.push(`| ${clip.name} | ` + outcomes.map((o) => `${(o.accuracy.get(clip.name)! * 100).toFixed(0)} %: ${o.texts.get(clip.name)}`).join(' | ') + ' |');
}
console.log(lines.join('\n'));
