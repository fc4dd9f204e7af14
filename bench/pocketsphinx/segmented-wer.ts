// Word error rate of the offline engine as a session gets it: speech cut by the server's Segmenter (length cap, pauses)
// and each segment decoded on its own, the texts joined. The segment cap and the engine's silence trimming change
// what each decode sees, so they are judged here, on (a) the fixtures as the stt benchmark's speakers send them and
// (b) espeak-ng sentences read on with short breaths (no pause long enough to cut: the cap decides), and on the
// decoders' CPU. Run: `npx tsx bench/pocketsphinx/segmented-wer.ts [--caps 8000,4000] [--trim on,off]`.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { decodeWavToPcm16 } from '../../src/audio/wav-decode.js';
import { createPocketsphinxEngine } from '../../src/engines/pocketsphinx/engine.js';
import { segmentRanges } from '../shared/cuts.js';
import { cpuSeconds } from '../shared/processes.js';
import { ESPEAK_ARGS, SENTENCES, wordErrors, words } from '../shared/speech-corpus.js';

const fixturesDir = fileURLToPath(new URL('../../test/fixtures/', import.meta.url));
/** A breath between read sentences: shorter than SILENCE_MS (600), so only the cap cuts. */
const BREATH_MS = 250;
/** Sentences per reading (one session each). */
const PER_READING = 5;
const CHUNK_BYTES = 3200;

const { values } = parseArgs({ options: { caps: { type: 'string', default: '8000,6000,4000,3000' }, trim: { type: 'string', default: 'off' } } });


/** Where the server would cut `pcm` (16 kHz) fed in 100 ms chunks, with the default pause rules and this cap. */
function cuts(pcm: Buffer, maxMs: number): Array<[number, number]> {
  return segmentRanges(pcm, { maxMs, minMs: 1000, silenceMs: 600, speechDbfs: -45 });
}

function decoderCpuSeconds(pids: number[]): number {
  return pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
}

async function main(): Promise<void> {
  const scratch = mkdtempSync(path.join(tmpdir(), 'segmented-wer-'));
  try {
    const fixtures = JSON.parse(readFileSync(path.join(fixturesDir, 'fixtures.json'), 'utf8')) as Record<string, string>;
    const pauses = decodeWavToPcm16(readFileSync(path.join(fixturesDir, 'hello-with-pauses.wav'))).pcm;
    const hello = decodeWavToPcm16(readFileSync(path.join(fixturesDir, 'hello.wav'))).pcm;
    const sessions: Array<{ name: string; pcm: Buffer; text: string }> = [
      { name: 'hello-with-pauses ×3', pcm: Buffer.concat([pauses, pauses, pauses]), text: Array(3).fill(fixtures['hello-with-pauses.wav']).join(' ') },
      { name: 'hello ×3', pcm: Buffer.concat([hello, hello, hello]), text: Array(3).fill(fixtures['hello.wav']).join(' ') },
    ];
    const spoken = SENTENCES.map((text, i) => {
      const raw = path.join(scratch, `s${i}.raw.wav`);
      const wav = path.join(scratch, `s${i}.wav`);
      execFileSync('espeak-ng', [...ESPEAK_ARGS, '-w', raw, text]);
      execFileSync('sox', ['-R', raw, '-r', '16000', '-c', '1', '-b', '16', '-e', 'signed-integer', wav]);
      return decodeWavToPcm16(readFileSync(wav)).pcm;
    });
    const breath = Buffer.alloc(Math.round((BREATH_MS / 1000) * 16000) * 2);
    for (let i = 0; i < SENTENCES.length; i += PER_READING) {
      const parts = spoken.slice(i, i + PER_READING).flatMap((pcm) => [pcm, breath]);
      sessions.push({ name: `sentences ${i + 1}–${i + PER_READING} read on`, pcm: Buffer.concat(parts), text: SENTENCES.slice(i, i + PER_READING).join(' ') });
    }
    console.log(`Load average at start: ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);
    for (const trim of values.trim.split(',')) {
      const engine = createPocketsphinxEngine({ command: 'pocketsphinx_batch', decoders: 2, trimSilence: trim === 'on' });
      await engine.transcribe({ pcm: hello, sampleRate: 16000 }); // model loaded before any figure
      try {
        for (const cap of values.caps.split(',').map(Number)) {
          const pids = await engine.decoderPids();
          const cpuBefore = decoderCpuSeconds(pids);
          let errors = 0;
          let reference = 0;
          let segments = 0;
          let audioS = 0;
          const perSession: string[] = [];
          for (const session of sessions) {
            const pieces = cuts(session.pcm, cap);
            const texts = await Promise.all(pieces.map(([from, to]) => engine.transcribe({ pcm: session.pcm.subarray(from, to), sampleRate: 16000 })));
            const heard = texts.map((t) => t.text).join(' ');
            const e = wordErrors(session.text, heard);
            errors += e;
            reference += words(session.text).length;
            segments += pieces.length;
            audioS += session.pcm.length / 32000;
            perSession.push(`  ${session.name}: ${pieces.length} segments, WER ${(e / words(session.text).length).toFixed(3)}: ${heard}`);
          }
          const cpu = decoderCpuSeconds(await engine.decoderPids()) - cpuBefore;
          console.log(
            `cap ${cap} ms, trim ${trim}: WER ${(errors / reference).toFixed(3)} (${errors}/${reference} words), ${segments} segments, ` +
              `decoder CPU ${cpu.toFixed(1)} s for ${audioS.toFixed(0)} s of audio (RTF ${(cpu / audioS).toFixed(3)}); load ${loadavg()[0]!.toFixed(2)}`,
          );
          for (const line of perSession) console.log(line);
        }
      } finally {
        await engine.close();
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

await main();
