// Offline engine speed and accuracy in one run: the per-segment pocketsphinx_continuous engine (taken from git at
// LEGACY_COMMIT) and the pool of long-lived pocketsphinx_batch decoders under several search settings, on the speech
// fixtures at several input levels, as recorded (digital-zero silence) and with the 1-bit noise floor any real input
// has, plus sentences spoken by espeak-ng at bench time. Run:
// `npx tsx bench/pocketsphinx/rtf.ts [--decoders N] [--rounds N] [--sets default,fast,…] [--skip-legacy]`.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { TranscriptionEngine } from '../../src/engines/engine.js';
import { DECODER_SEARCH, DECODER_SEARCH_ARGS } from '../../src/engines/pocketsphinx/decoder.js';
import { createPocketsphinxEngine, type PocketsphinxEngine } from '../../src/engines/pocketsphinx/engine.js';
import { decodeWavToPcm16 } from '../../src/audio/wav-decode.js';
import { ESPEAK_ARGS, SENTENCES as SHARED_SENTENCES, wordErrors, words } from '../shared/speech-corpus.js';

/** The last commit with the per-segment engine (src/engines/pocketsphinx.ts). */
const LEGACY_COMMIT = '3c4200b';
const LEVELS_DB = [0, -6, -12, -18];
const FIXTURES = ['hello.wav', 'hello-with-pauses.wav'];
/** Ordinary sentences beyond the two fixtures, so a setting is not chosen for two clips' words. */
const SENTENCES = SHARED_SENTENCES.slice(0, 8);

function wordAccuracy(spoken: string, heard: string): number {
  return 1 - wordErrors(spoken, heard) / words(spoken).length;
}

/** The sentences' input level: one level; the fixtures cover the range. */
const SENTENCE_LEVEL_DB = -6;

/** Search settings to compare (pocketsphinx_batch 0.8 flags); "shipped" is the decoder's default. */
const SEARCH_SETS: Record<string, readonly string[]> = {
  shipped: DECODER_SEARCH_ARGS,
  fast: DECODER_SEARCH.fast,
  accurate: DECODER_SEARCH.accurate,
  'pocketsphinx defaults': [],
  '-fwdflat no -bestpath no': ['-fwdflat', 'no', '-bestpath', 'no'],
  '-bestpath no': ['-bestpath', 'no'],
  '-ds 2': ['-ds', '2'],
  '-topn 2': ['-topn', '2'],
  '-maxhmmpf 3000 -maxwpf 10': ['-maxhmmpf', '3000', '-maxwpf', '10'],
  '-maxhmmpf 4000 -wbeam 1e-24 -fwdflatefwid 6 -fwdflatsfwin 40': ['-maxhmmpf', '4000', '-wbeam', '1e-24', '-fwdflatefwid', '6', '-fwdflatsfwin', '40'],
  'narrow beams': ['-beam', '1e-40', '-wbeam', '1e-24', '-pbeam', '1e-40'],
};
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));

const { values } = parseArgs({
  options: {
    decoders: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '2' },
    command: { type: 'string', default: 'pocketsphinx_batch' },
    sets: { type: 'string', default: 'shipped' },
    /** A further search setting to try, e.g. --args "-ds 2 -topn 2" (repeatable). */
    args: { type: 'string', multiple: true, default: [] },
    'skip-legacy': { type: 'boolean', default: false },
  },
});
const decoders = Number(values.decoders);
const rounds = Number(values.rounds);
const sets: Array<[string, readonly string[]]> = [
  ...values.sets.split(',').filter((name) => name !== '').map((name): [string, readonly string[]] => {
    const args = SEARCH_SETS[name];
    if (!args) throw new Error(`--sets: no search setting "${name}"; known: ${Object.keys(SEARCH_SETS).join(', ')}`);
    return [name, args];
  }),
  ...values.args!.map((line): [string, readonly string[]] => [line, line.split(/\s+/).filter((a) => a !== '')]),
];

interface Clip {
  name: string;
  kind: 'fixture' | 'sentence';
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

const root = fileURLToPath(new URL('../..', import.meta.url));
const spokenText = JSON.parse(readFileSync(`${root}/test/fixtures/fixtures.json`, 'utf8')) as Record<string, string>;

/** SENTENCES spoken by espeak-ng into a temp dir, at 16 kHz, with a noise floor (the fixtures cover digital silence). */
function sentenceClips(): Clip[] {
  const dir = mkdtempSync(path.join(tmpdir(), 'pocketsphinx-bench-'));
  try {
    return SENTENCES.flatMap((sentence, i) => {
      const file = path.join(dir, `sentence-${i}.wav`);
      execFileSync('espeak-ng', [...ESPEAK_ARGS, '-w', file, sentence]);
      const { pcm } = decodeWavToPcm16(readFileSync(file), 16000);
      return {
        name: `"${sentence}" ${SENTENCE_LEVEL_DB} dB + noise floor`,
        kind: 'sentence' as const,
        level: SENTENCE_LEVEL_DB,
        noiseFloor: true,
        pcm: scale(pcm, 10 ** (SENTENCE_LEVEL_DB / 20), 1),
        spoken: sentence,
        seconds: pcm.length / 2 / 16000,
      };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function clips(): Clip[] {
  return FIXTURES.flatMap((file) => {
    const { pcm, sampleRate } = decodeWavToPcm16(readFileSync(`${root}/test/fixtures/${file}`));
    if (sampleRate !== 16000) throw new Error(`${file}: expected 16 kHz`);
    return [false, true].flatMap((noiseFloor) =>
      LEVELS_DB.map((level) => ({
        name: `${file} ${level} dB${noiseFloor ? ' + noise floor' : ''}`,
        kind: 'fixture' as const,
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


/** CPU seconds of this process's exited, waited-for children (fields 16 and 17 of /proc/self/stat). */
function childCpuSeconds(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  const ticks = Number(fields[13]) + Number(fields[14]);
  return ticks / CLOCK_TICKS;
}

/** CPU seconds (user + system) the given running processes have used so far. */
function processCpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / CLOCK_TICKS;
}

async function legacyEngine(): Promise<TranscriptionEngine> {
  const source = execFileSync('git', ['show', `${LEGACY_COMMIT}:src/engines/pocketsphinx.ts`], { cwd: root, encoding: 'utf8' });
  const dir = `${root}/bench/.tmp`;
  mkdirSync(dir, { recursive: true });
  const file = `${dir}/legacy-pocketsphinx.mts`;
  // Its helpers have since moved from src/engines/wav.ts to src/audio/.
  const moved = source.replace(
    "import { pcmProblem, resamplePcm16, wavHeader } from './wav.js';",
    "import { pcmProblem, wavHeader } from '../../src/audio/wav.js';\nimport { resamplePcm16 } from '../../src/audio/resample.js';",
  );
  writeFileSync(file, moved.replaceAll("from './", "from '../../src/engines/"));
  const legacy = (await import(pathToFileURL(file).href)) as {
    createPocketsphinxEngine(options: { command: string }): TranscriptionEngine;
  };
  return legacy.createPocketsphinxEngine({ command: 'pocketsphinx_continuous' });
}

/**
 * The pool's CPU is read from its decoders' /proc entries after every decoder has loaded its model (one segment each,
 * at once), so the model loads are not counted; the per-segment engine pays a load per segment, so all of its
 * children's time counts.
 */
async function measure(name: string, engine: TranscriptionEngine | PocketsphinxEngine, all: Clip[]): Promise<Outcome> {
  const pool = 'decoderPids' in engine ? engine : undefined;
  const warmUp = Date.now();
  await Promise.all(Array.from({ length: pool?.capacity ?? 1 }, () => engine.transcribe({ pcm: all[0]!.pcm, sampleRate: 16000 })));
  const firstMs = Date.now() - warmUp;
  const pids = (await pool?.decoderPids()) ?? [];
  const cpuBefore = pool ? processCpuSeconds(pids) : childCpuSeconds();
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
  const cpuAfter = pool ? processCpuSeconds(pids) : childCpuSeconds();
  if (pool && (await pool.decoderPids()).join() !== pids.join()) console.warn(`${name}: a decoder was restarted; its CPU is not counted`);
  await engine.close?.();
  outcome.cpuRtf = (cpuAfter - cpuBefore) / audioSeconds;
  return outcome;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

const all = [...clips(), ...sentenceClips()];
const load = loadavg().map((l) => l.toFixed(1)).join(' ');
const outcomes: Outcome[] = [];
if (!values['skip-legacy']) outcomes.push(await measure(`per-segment pocketsphinx_continuous (${LEGACY_COMMIT})`, await legacyEngine(), all));
for (const [setName, searchArgs] of sets) {
  const engine = createPocketsphinxEngine({ command: values.command, decoders, searchArgs });
  const outcome = await measure(`pool of ${decoders}, ${setName}${setName === 'shipped' ? ` (${searchArgs.join(' ') || 'no flags'})` : ''}`, engine, all);
  outcomes.push(outcome);
  console.error(`${outcome.engine}: CPU RTF ${outcome.cpuRtf.toFixed(3)}, accuracy ${(mean([...outcome.accuracy.values()]) * 100).toFixed(1)} %`);
}
const audioSeconds = all.reduce((sum, clip) => sum + clip.seconds, 0);

const lines: string[] = [];
lines.push(
  `Load average at start: ${load}; at end: ${loadavg().map((l) => l.toFixed(1)).join(' ')}. ${rounds} round(s) of ${all.length} clips ` +
    `(${audioSeconds.toFixed(0)} s of audio), one at a time.`,
  '',
);
lines.push('| engine | first segment (ms) | wall RTF, median | wall RTF, p90 | CPU RTF | word accuracy, all clips | fixtures, all levels | fixtures as recorded | fixtures with noise floor | espeak-ng sentences |');
lines.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const o of outcomes) {
  const accuracy = (keep: (clip: Clip) => boolean) => `${(mean(all.filter(keep).map((c) => o.accuracy.get(c.name)!)) * 100).toFixed(0)} %`;
  const sorted = [...o.rtfs].sort((a, b) => a - b);
  lines.push(
    `| ${o.engine} | ${o.firstMs} | ${median(o.rtfs).toFixed(2)} | ${sorted[Math.floor(sorted.length * 0.9)]!.toFixed(2)} | ${o.cpuRtf.toFixed(2)} | ${accuracy(() => true)} | ${accuracy((c) => c.kind === 'fixture')} | ${accuracy((c) => c.kind === 'fixture' && !c.noiseFloor)} | ${accuracy((c) => c.kind === 'fixture' && c.noiseFloor)} | ${accuracy((c) => c.kind === 'sentence')} |`,
  );
}
lines.push('', '| clip | ' + outcomes.map((o) => o.engine).join(' | ') + ' |', '| --- |' + outcomes.map(() => ' --- |').join(''));
for (const clip of all) {
  lines.push(`| ${clip.name} | ` + outcomes.map((o) => `${(o.accuracy.get(clip.name)! * 100).toFixed(0)} %: ${o.texts.get(clip.name)}`).join(' | ') + ' |');
}
console.log(lines.join('\n'));
