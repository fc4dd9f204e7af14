// Streams an audio file to the transcription server in timed chunks and prints each result as it arrives: a .wav as
// 16-bit PCM, .opus/.ogg and .webm as their bytes (ogg_opus, webm_opus), raw G.711 .ul/.al at --rate (default 8000).
// Usage: npx tsx scripts/stream-file.ts <file> [--rate HZ] [--url http://localhost:3000] [--chunk-ms 100] [--speed 1]
//        [--language en] [--token T] [--session-id ID [--resume-token R]] [--interim [--interim-interval-ms MS]]
import { parseArgs } from 'node:util';
import { TranscriptionClient, TranscriptionClientError, describeError, type AudioChunkAccepted } from '../src/client/index.js';
import { SpeechSampleError } from '../src/loadtest/speech-sample.js';
import { chunkBytesOf, loadAudioFile } from '../src/loadtest/audio-file.js';

const USAGE =
  'Usage: npx tsx scripts/stream-file.ts <file.wav|.opus|.ogg|.webm|.ul|.al> [--rate HZ (G.711 files, default 8000)] [--url http://localhost:3000] [--chunk-ms 100] ' +
  '[--speed 1 (1 = real time, 0 = as fast as acks allow)] [--language en] [--token T] [--session-id ID [--resume-token R]] ' +
  '[--interim (print interim results too)] [--interim-interval-ms MS]';

/** Chunks allowed in flight when streaming as fast as acks allow. */
const FAST_WINDOW = 16;

interface Options {
  file: string;
  rate: number | undefined;
  url: string;
  chunkMs: number;
  speed: number;
  language: string | undefined;
  token: string | undefined;
  sessionId: string | undefined;
  resumeToken: string | undefined;
  interim: boolean;
  interimIntervalMs: number | undefined;
}

class UsageError extends Error {}

function parseOptions(argv: string[]): Options {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: 'string', default: process.env.TRANSCRIPTION_URL ?? 'http://localhost:3000' },
      rate: { type: 'string' },
      'chunk-ms': { type: 'string', default: '100' },
      speed: { type: 'string', default: '1' },
      language: { type: 'string' },
      token: { type: 'string', default: process.env.AUTH_TOKEN },
      'session-id': { type: 'string' },
      'resume-token': { type: 'string' },
      interim: { type: 'boolean', default: false },
      'interim-interval-ms': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const file = positionals[0];
  if (!file || positionals.length > 1) throw new UsageError('Give exactly one audio file.');
  const rate = values.rate === undefined ? undefined : Number(values.rate);
  if (rate !== undefined && (!Number.isInteger(rate) || rate < 8000 || rate > 48000)) throw new UsageError('--rate must be a whole number of Hz from 8000 to 48000.');
  const chunkMs = Number(values['chunk-ms']);
  if (!Number.isFinite(chunkMs) || chunkMs < 10 || chunkMs > 10_000) throw new UsageError('--chunk-ms must be a number from 10 to 10000.');
  const speed = Number(values.speed);
  if (!Number.isFinite(speed) || speed < 0) throw new UsageError('--speed must be 0 (as fast as possible) or a positive number.');
  const interval = values['interim-interval-ms'];
  const interimIntervalMs = interval === undefined ? undefined : Number(interval);
  if (interimIntervalMs !== undefined && (!Number.isInteger(interimIntervalMs) || interimIntervalMs < 1)) {
    throw new UsageError('--interim-interval-ms must be a whole number of milliseconds.');
  }
  if (values['resume-token'] !== undefined && values['session-id'] === undefined) throw new UsageError('--resume-token goes with --session-id.');
  return {
    file,
    rate,
    url: values.url,
    chunkMs,
    speed,
    language: values.language,
    token: values.token,
    sessionId: values['session-id'],
    resumeToken: values['resume-token'],
    // Asking for an interval asks for interims.
    interim: values.interim || interimIntervalMs !== undefined,
    interimIntervalMs,
  };
}

const seconds = (ms: number) => (ms / 1000).toFixed(2);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const round = (ms: number | undefined) => (ms === undefined ? 'n/a' : `${Math.round(ms)} ms`);

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const audio = await loadAudioFile(options.file, { rate: options.rate });
  const { bytes, format, sampleRate, durationMs } = audio;
  // Real time by the file's duration: each chunk is the share of the bytes that plays for --chunk-ms.
  const chunkBytes = chunkBytesOf(audio, options.chunkMs);

  const client = new TranscriptionClient({ url: options.url, token: options.token, reconnect: { attempts: 8, maxDelayMs: 2000 } });
  // On a terminal the segment in progress is one line rewritten in place, then replaced by its final.
  const tty = process.stdout.isTTY === true;
  let interimShown = false;
  client.on('interim', (r) => {
    const line = `[${seconds(r.start_ms)}s–${seconds(r.end_ms)}s] … ${r.text}`;
    if (tty) process.stdout.write(`\r\x1b[2K\x1b[2m${line}\x1b[0m`);
    else console.log(`${line} (interim)`);
    interimShown = tty;
  });
  client.on('result', (r) => {
    if (interimShown) process.stdout.write('\r\x1b[2K');
    interimShown = false;
    console.log(`[${seconds(r.start_ms)}s–${seconds(r.end_ms)}s] ${r.text} (latency ${r.latency_ms} ms)`);
  });
  // An error that ends the session also rejects the call in progress, which reports it once, at exit.
  client.on('error', (e) => {
    if (client.session.phase !== 'failed') console.error(`! ${e.describe()}`);
  });
  client.on('state', (state) => {
    if (state === 'reconnecting' || state === 'disconnected') console.error(`… connection ${state}`);
  });
  client.on('session', (s) => {
    if (s.reopened) console.error(`… session ${s.session_id} resumed at chunk ${s.next_seq}`);
  });

  let interrupted = false;
  process.once('SIGINT', () => {
    console.error('… interrupted: finishing the session with the audio sent so far (Ctrl-C again to quit)');
    interrupted = true;
    process.once('SIGINT', () => process.exit(130));
  });

  try {
    const rateText = sampleRate === undefined ? '' : ` at ${sampleRate} Hz`;
    console.error(`Streaming ${options.file} as ${format}: ${seconds(durationMs)} s${rateText}, ${Math.round((bytes.length * 1000) / durationMs)} B/s, to ${options.url} in ${options.chunkMs} ms chunks`);
    const started = await client.start({
      format,
      sessionId: options.sessionId,
      resumeToken: options.resumeToken,
      sampleRate,
      language: options.language,
      interimResults: options.interim,
      interimIntervalMs: options.interimIntervalMs,
    });
    console.error(`Session ${started.session_id}${started.resumed ? ` resumed at chunk ${started.next_seq}` : ''}`);
    if (options.interim && started.interim_interval_ms === undefined) console.error('… the server sends no interim results (an older server, or turned off there)');

    // The first refused chunk stops the stream; its error is reported once, below.
    let failure: unknown;
    const inFlight: Promise<AudioChunkAccepted>[] = [];
    const wallStart = performance.now();
    for (let offset = 0, index = 0; offset < bytes.length && failure === undefined && !interrupted; offset += chunkBytes, index++) {
      if (options.speed > 0) {
        const due = wallStart + (index * options.chunkMs) / options.speed;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
      } else if (inFlight.length >= FAST_WINDOW) {
        await inFlight.shift()!.catch(() => undefined);
      }
      const sent = client.sendChunk(bytes.subarray(offset, Math.min(bytes.length, offset + chunkBytes)));
      sent.catch((error: unknown) => {
        failure ??= error;
      });
      inFlight.push(sent);
    }
    await Promise.allSettled(inFlight);
    if (failure !== undefined) throw failure;

    const ended = await client.end();
    const wallMs = performance.now() - wallStart;
    const stats = client.stats();
    console.log('');
    console.log(ended.text || '(no speech recognised)');
    console.log('');
    console.error(
      `${ended.segments} segment(s), ${seconds(ended.duration_ms)} s of audio in ${seconds(wallMs)} s. ` +
        `Chunks: ${stats.sent} sent, ${stats.acked} acked, ${stats.resent} resent, ${stats.duplicates} duplicate(s), ${stats.reconnects} reconnect(s). ` +
        `Ack latency p50 ${round(stats.p50AckMs)}, p95 ${round(stats.p95AckMs)}, max ${round(stats.maxAckMs)}.`,
    );
  } finally {
    client.close();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    if (error instanceof UsageError || error instanceof SpeechSampleError) {
      console.error(`${error.message}\n${USAGE}`);
      process.exit(2);
    }
    if (error instanceof TranscriptionClientError) console.error(`Failed: ${describeError(error.code, error.message)}`);
    else console.error(`Failed: ${(error as Error).message ?? String(error)}`);
    process.exit(1);
  },
);
