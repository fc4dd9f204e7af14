// Accuracy of the offline engine (pocketsphinx_batch, the real one) on speech sent in each input format: the same
// utterances as (a) 16 kHz PCM, (b) 8 kHz PCM, (c) G.711 μ-law 8 kHz decoded by our mulaw decoder, (d) Ogg Opus at
// 24 kbit/s decoded by our ogg_opus decoder to 16 kHz. Corpus WER per condition, the deltas issue 21 targets
// (G.711 vs 8 kHz PCM, Opus vs 16 kHz PCM, each within +0.05) and the bytes per second of each on the wire.
// Speech: test/fixtures/*.wav with test/fixtures/fixtures.json, plus sentences spoken by espeak-ng at bench time.
// Needs pocketsphinx_batch, espeak-ng, sox and opusenc. Run: `npm run bench:codecs-accuracy [-- --decoders N]`.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { createStreamDecoder, type StreamDecoderOptions, type StreamFormat } from '../../src/audio/codecs/index.js';
import { decodeWavToPcm16 } from '../../src/audio/wav-decode.js';
import { createPocketsphinxEngine } from '../../src/engines/pocketsphinx/engine.js';
import { describeMachine } from '../shared/machine.js';
import { ESPEAK_ARGS, SENTENCES, wordErrors, words } from '../shared/speech-corpus.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const fixturesDir = path.join(root, 'test/fixtures');


const { values } = parseArgs({
  options: {
    decoders: { type: 'string', default: '2' },
    command: { type: 'string', default: 'pocketsphinx_batch' },
    bitrate: { type: 'string', default: '24' },
  },
});

interface Utterance {
  name: string;
  text: string;
  /** 16 kHz mono 16-bit WAV. */
  wav16: string;
}

interface Condition {
  name: string;
  /** Bytes on the wire and the PCM the engine gets (rate included). */
  prepare(u: Utterance, dir: string): Promise<{ wireBytes: number; pcm: Buffer; sampleRate: number }>;
}

function run(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Feeds `bytes` to a fresh stream decoder in ~100 ms chunks (as a client would send them) and flushes it. */
async function decodeStream(format: StreamFormat, options: StreamDecoderOptions, bytes: Buffer, seconds: number): Promise<Buffer> {
  const decoder = await createStreamDecoder(format, options);
  try {
    const size = Math.max(1, Math.round(bytes.length / Math.max(1, seconds * 10)));
    const parts: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += size) parts.push(decoder.decode(bytes.subarray(i, i + size)));
    parts.push(decoder.flush());
    return Buffer.concat(parts);
  } finally {
    decoder.close();
  }
}

const bitrate = values.bitrate;
const CONDITIONS: Condition[] = [
  {
    name: '16 kHz PCM (pcm_s16le)',
    async prepare(u) {
      const { pcm, sampleRate } = decodeWavToPcm16(readFileSync(u.wav16));
      return { wireBytes: pcm.length, pcm, sampleRate };
    },
  },
  {
    name: '8 kHz PCM (pcm_s16le, sox resample)',
    async prepare(u, dir) {
      const out = path.join(dir, `${u.name}.8k.wav`);
      run('sox', ['-R', u.wav16, '-r', '8000', '-c', '1', '-b', '16', '-e', 'signed-integer', out]);
      const { pcm, sampleRate } = decodeWavToPcm16(readFileSync(out));
      return { wireBytes: pcm.length, pcm, sampleRate };
    },
  },
  {
    name: 'G.711 μ-law 8 kHz (mulaw decoder)',
    async prepare(u, dir) {
      const out = path.join(dir, `${u.name}.ul`);
      run('sox', ['-R', u.wav16, '-r', '8000', '-c', '1', '-t', 'raw', '-e', 'u-law', '-b', '8', out]);
      const bytes = readFileSync(out);
      const pcm = await decodeStream('mulaw', { sampleRate: 8000 }, bytes, bytes.length / 8000);
      return { wireBytes: bytes.length, pcm, sampleRate: 8000 };
    },
  },
  {
    name: `Ogg Opus ${bitrate} kbit/s (ogg_opus decoder → 16 kHz)`,
    async prepare(u, dir) {
      const out = path.join(dir, `${u.name}.opus`);
      run('opusenc', ['--quiet', '--bitrate', bitrate, u.wav16, out]);
      const bytes = readFileSync(out);
      const seconds = decodeWavToPcm16(readFileSync(u.wav16)).pcm.length / 2 / 16000;
      const pcm = await decodeStream('ogg_opus', { sampleRate: 16000 }, bytes, seconds);
      return { wireBytes: bytes.length, pcm, sampleRate: 16000 };
    },
  },
];


async function main(): Promise<void> {
  const scratch = mkdtempSync(path.join(tmpdir(), 'codecs-accuracy-'));
  const engine = createPocketsphinxEngine({ command: values.command, decoders: Number(values.decoders), tmpDir: scratch });
  try {
    const fixtureTexts = JSON.parse(readFileSync(path.join(fixturesDir, 'fixtures.json'), 'utf8')) as Record<string, string>;
    const utterances: Utterance[] = readdirSync(fixturesDir)
      .filter((f) => f.endsWith('.wav') && fixtureTexts[f] !== undefined)
      .sort()
      .map((f) => ({ name: f.replace(/\.wav$/, ''), text: fixtureTexts[f]!, wav16: path.join(fixturesDir, f) }));
    SENTENCES.forEach((text, i) => {
      const raw = path.join(scratch, `s${i}.raw.wav`);
      const wav16 = path.join(scratch, `s${i}.wav`);
      run('espeak-ng', [...ESPEAK_ARGS, '-w', raw, text]);
      run('sox', ['-R', raw, '-r', '16000', '-c', '1', '-b', '16', '-e', 'signed-integer', wav16]);
      utterances.push({ name: `s${i}`, text, wav16 });
    });
    const totalSeconds = utterances.reduce((s, u) => s + decodeWavToPcm16(readFileSync(u.wav16)).pcm.length / 2 / 16000, 0);
    const refWords = utterances.reduce((s, u) => s + words(u.text).length, 0);

    const results: { name: string; wer: number; bytesPerSecond: number; perUtterance: string[] }[] = [];
    for (const condition of CONDITIONS) {
      let errors = 0;
      let wire = 0;
      const prepared = await Promise.all(utterances.map((u) => condition.prepare(u, scratch)));
      const heard = await Promise.all(prepared.map((p) => engine.transcribe({ pcm: p.pcm, sampleRate: p.sampleRate })));
      const perUtterance: string[] = [];
      utterances.forEach((u, i) => {
        const e = wordErrors(u.text, heard[i]!.text);
        errors += e;
        wire += prepared[i]!.wireBytes;
        perUtterance.push(`${u.name}: ${e}/${words(u.text).length} "${heard[i]!.text}"`);
      });
      results.push({ name: condition.name, wer: errors / refWords, bytesPerSecond: wire / totalSeconds, perUtterance });
      console.error(`${condition.name}: WER ${(errors / refWords).toFixed(3)}`);
    }

    if (process.env.VERBOSE) for (const r of results) console.error(`\n${r.name}\n  ${r.perUtterance.join('\n  ')}`);
    const m = describeMachine();
    const [pcm16, pcm8, mulaw, opus] = results as [(typeof results)[0], (typeof results)[0], (typeof results)[0], (typeof results)[0]];
    console.log(
      `${utterances.length} utterances (${utterances.length - SENTENCES.length} fixtures + ${SENTENCES.length} espeak-ng sentences), ` +
        `${refWords} reference words, ${totalSeconds.toFixed(1)} s of speech; ${new Date().toISOString().slice(0, 10)}, ` +
        `${m.cpu}, ${m.cores} cores, Node ${m.node}`,
    );
    console.log('');
    console.log('| condition | corpus WER | bytes/s on the wire |');
    console.log('| --- | ---: | ---: |');
    for (const r of results) console.log(`| ${r.name} | ${r.wer.toFixed(3)} | ${Math.round(r.bytesPerSecond).toLocaleString('en-US')} |`);
    console.log('');
    const delta = (a: number, b: number) => `${a - b >= 0 ? '+' : ''}${(a - b).toFixed(3)}`;
    console.log(
      `G.711 8 kHz vs 8 kHz PCM: ${delta(mulaw.wer, pcm8.wer)} (target ≤ +0.05: ${mulaw.wer - pcm8.wer <= 0.05 ? 'met' : 'NOT met'})`,
    );
    console.log(
      `Opus ${bitrate} kbit/s vs 16 kHz PCM: ${delta(opus.wer, pcm16.wer)} (target ≤ +0.05: ${opus.wer - pcm16.wer <= 0.05 ? 'met' : 'NOT met'}); ` +
        `bytes 1/${(pcm16.bytesPerSecond / opus.bytesPerSecond).toFixed(1)} of 16 kHz PCM's`,
    );
  } finally {
    await engine.close();
    rmSync(scratch, { recursive: true, force: true });
  }
}

await main();
