// What Silero VAD changes and costs (`npm run bench:vad`): the same cuts the segmenter makes today (energy VAD), on real
// speech (the fixtures, espeak-ng sentences) and on sounds that are not speech (noises, a hum, a chord, sox-made);
// how many segments go to the engine with the energy VAD alone and with Silero behind it, and Silero's CPU per
// segment and per real-time stream (process CPU time around each decision; the model runs on one thread); and a surge
// of segments checked at once, whose windows run in batches, against the same checked one after another.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { energySpeechDetector, loadSileroSpeechDetector } from '../../src/audio/speech-detector.js';
import { DEFAULT_SPEECH_DBFS } from '../../src/audio/vad.js';
import { decodeWavToPcm16 } from '../../src/audio/wav-decode.js';
import { segmentRanges } from '../shared/cuts.js';
import { describeMachine } from '../shared/machine.js';

const RATE = 16000;
const SEGMENTATION = { maxMs: 8000, minMs: 1000, silenceMs: 600, speechDbfs: DEFAULT_SPEECH_DBFS };
const scratch = mkdtempSync(path.join(tmpdir(), 'bench-vad-'));
const wav = (file: string) => decodeWavToPcm16(readFileSync(file), RATE).pcm;
const sox = (name: string, ...effect: string[]) => {
  const out = path.join(scratch, `${name}.wav`);
  execFileSync('sox', ['-n', '-r', String(RATE), '-c', '1', '-b', '16', out, ...effect]);
  return wav(out);
};
const espeak = (i: number, text: string) => {
  const raw = path.join(scratch, `s${i}.raw.wav`);
  execFileSync('espeak-ng', ['-w', raw, text]);
  const out = path.join(scratch, `s${i}.wav`);
  execFileSync('sox', [raw, '-r', String(RATE), '-c', '1', '-b', '16', out]);
  return wav(out);
};

const fixtures = new URL('../../test/fixtures/', import.meta.url);
const speech: [string, Buffer][] = [
  ['hello.wav', wav(new URL('hello.wav', fixtures).pathname)],
  ['hello-with-pauses.wav', wav(new URL('hello-with-pauses.wav', fixtures).pathname)],
  ...[
    'The quick brown fox jumps over the lazy dog, and then it rests under the old oak tree.',
    'Please send the quarterly report to the finance team before Friday afternoon.',
    'Turn left at the second traffic light, then continue straight for about two miles.',
  ].map((text, i) => [`espeak-ng sentence ${i + 1}`, espeak(i, text)] as [string, Buffer]),
  // One-word answers: the shortest speech a voice app must not lose.
  ...['yes', 'no'].map((word, i) => [`espeak-ng "${word}"`, espeak(10 + i, word)] as [string, Buffer]),
];
const notSpeech: [string, Buffer][] = [
  ['white noise', sox('white', 'synth', '6', 'whitenoise', 'vol', '0.2')],
  ['pink noise', sox('pink', 'synth', '6', 'pinknoise', 'vol', '0.3')],
  ['brown noise (rumble)', sox('brown', 'synth', '6', 'brownnoise', 'vol', '0.5')],
  ['mains hum 50 Hz + harmonics', sox('hum', 'synth', '6', 'sine', '50', 'sine', '100', 'sine', '150', 'vol', '0.3')],
  ['plucked chord (music)', sox('chord', 'synth', '6', 'pluck', 'C4', 'pluck', 'E4', 'pluck', 'G4', 'repeat', '5', 'vol', '0.5')],
  ['noise bursts (breathing-like)', sox('breath', 'synth', '6', 'pinknoise', 'tremolo', '0.3', '90', 'vol', '0.3')],
];

/** The segments today's segmenter cuts from `pcm` fed in 100 ms chunks. */
function segments(pcm: Buffer): Buffer[] {
  return segmentRanges(pcm, SEGMENTATION, RATE).map(([from, to]) => pcm.subarray(from, to));
}

const energy = energySpeechDetector(DEFAULT_SPEECH_DBFS);
const silero = (await loadSileroSpeechDetector(DEFAULT_SPEECH_DBFS, pino({ level: 'warn' })))!;
let sileroCpuMs = 0;
let sileroDecisions = 0;
async function row(name: string, pcm: Buffer): Promise<string> {
  const cuts = segments(pcm);
  let byEnergy = 0;
  let bySilero = 0;
  let cpuMs = 0;
  for (const segment of cuts) {
    if ((await energy.classify(segment, RATE)) !== 'speech') continue;
    byEnergy++;
    const before = process.cpuUsage();
    if ((await silero.classify(segment, RATE)) === 'speech') bySilero++;
    const used = process.cpuUsage(before);
    cpuMs += (used.user + used.system) / 1000;
  }
  sileroCpuMs += cpuMs;
  sileroDecisions += byEnergy;
  const seconds = pcm.length / 2 / RATE;
  return `| ${name} | ${seconds.toFixed(1)} | ${cuts.length} | ${byEnergy} | ${bySilero} | ${byEnergy ? (cpuMs / byEnergy).toFixed(1) : '—'} | ${((cpuMs / 1000 / seconds) * 100).toFixed(2)} % |`;
}

// One warm-up decision: the first run of an ONNX session allocates its buffers.
await silero.classify(speech[0]![1], RATE);
const m = describeMachine();
const lines = [
  `Run of ${new Date().toISOString()}; ${m.cpu}, ${m.cores} cores, Node ${m.node}; load average ${loadavg().map((v) => v.toFixed(2)).join(' / ')}.`,
  '',
  '| audio | s | segments cut | to the engine, energy VAD alone | to the engine, Silero behind it | Silero CPU ms per segment | Silero CPU per real-time stream |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
];
for (const [name, pcm] of speech) lines.push(await row(name, pcm));
for (const [name, pcm] of notSpeech) lines.push(await row(name, pcm));
lines.push('', `Silero decisions: ${sileroDecisions}, ${(sileroCpuMs / Math.max(1, sileroDecisions)).toFixed(1)} ms CPU each on average.`);

// A surge: every segment above, from `copies` speakers, cut in the same second. Checked one after another, each
// decision's windows run alone; checked at once (as the sessions' cuts are), the windows of all of them run in batches.
const heard: Buffer[] = [];
for (const [, pcm] of [...speech, ...notSpeech]) for (const segment of segments(pcm)) if ((await energy.classify(segment, RATE)) === 'speech') heard.push(segment);
const copies = 20;
const surge = Array.from({ length: copies }, () => heard).flat();
async function timed(check: () => Promise<unknown>): Promise<{ cpuMs: number; wallMs: number }> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  await check();
  const used = process.cpuUsage(cpu);
  return { cpuMs: (used.user + used.system) / 1000, wallMs: performance.now() - start };
}
const oneByOne = await timed(async () => {
  for (const segment of surge) await silero.classify(segment, RATE);
});
const atOnce = await timed(() => Promise.all(surge.map((segment) => silero.classify(segment, RATE))));
lines.push(
  '',
  `Surge: ${surge.length} segments (${copies} speakers' worth of the above) checked one after another: ${oneByOne.cpuMs.toFixed(0)} ms CPU` +
    ` (${(oneByOne.cpuMs / surge.length).toFixed(2)} per segment); all at once: ${atOnce.cpuMs.toFixed(0)} ms CPU (${(atOnce.cpuMs / surge.length).toFixed(2)} per segment), ${atOnce.wallMs.toFixed(0)} ms until the last answer.`,
);
console.log(lines.join('\n'));
rmSync(scratch, { recursive: true, force: true });
