// Load-test settings: the command line (and two environment fallbacks) turned into checked options.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isAudioFormat, type AudioFormat } from '../protocol/audio.js';

export type Pace = 'realtime' | 'max';
export type Transport = 'websocket' | 'polling';

/** When each session stops sending. */
export type StopRule =
  | { kind: 'loops'; loops: number }
  /** Milliseconds of streaming after the ramp-up, looping the file: every session stops at the same moment. */
  | { kind: 'duration'; ms: number }
  /** Milliseconds of audio each session sends, looping the file (a fixed-length recording). */
  | { kind: 'audio'; ms: number };

export interface LoadTestOptions {
  file: string;
  /** Wire format the sessions send (--format); undefined: the file's own (a WAV is pcm_s16le). */
  format: AudioFormat | undefined;
  url: string;
  sessions: number;
  stop: StopRule;
  chunkMs: number;
  pace: Pace;
  /** Chunks awaiting an ack per session at max pace (1 = the next chunk goes when the previous is acked). */
  window: number;
  /** Sessions start evenly spread over this many milliseconds. */
  rampUpMs: number;
  /** Acks and results arriving in the first milliseconds of the run are left out of the percentiles. */
  warmUpMs: number;
  token: string | undefined;
  sentryTrace: string | undefined;
  baggage: string | undefined;
  language: string | undefined;
  /** Ask every session for interim results (start_session interim_results). */
  interim: boolean;
  /** interim_interval_ms to ask for; the server's default when undefined. */
  interimIntervalMs: number | undefined;
  transport: Transport;
  ackTimeoutMs: number;
  /** The run fails (exit status 1) when more errors than this were seen. */
  maxErrors: number;
  /** The run fails when the P99 ack latency is above this, if set. */
  maxAckP99Ms: number | undefined;
  /** Hard limit on the whole run; past it every client is closed and the run reports what it has. */
  timeoutMs: number;
  json: boolean;
  progress: boolean;
  /** Writes the run as one self-contained HTML file (charts included) at this path. */
  report: string | undefined;
}

export class UsageError extends Error {}

/** The speech sample the project ships (committed with the tests, so it exists in a fresh clone). */
export const DEFAULT_RECORDING = fileURLToPath(new URL('../../test/fixtures/hello.wav', import.meta.url));

export const USAGE = `Usage: npm run load-test -- [file.wav|.opus|.webm|.ul|.al] [options]

Replays a WAV file (default test/fixtures/hello.wav), or an encoded one, as concurrent sessions of the /transcription
protocol, in the wire format asked for.

  --url URL             server origin (default $TRANSCRIPTION_URL or http://localhost:3000)
  --sessions N          concurrent sessions (default 10)
  --loops N             each session sends the file N times (default 1)
  --duration S          stream for S seconds after the ramp-up, looping the file (all sessions stop together)
  --audio S             each session sends S seconds of audio, looping the file (a fixed-length recording)
  --format F            pcm_s16le (default for a WAV), ogg_opus, webm_opus, mulaw or alaw: a WAV is encoded once at
                        start (opusenc/ffmpeg at 24 kbit/s, sox to 8 kHz G.711); a .opus/.webm/.ul/.al file is sent
                        as it is (WebM is not looped: a session sends it once at most)
  --chunk-ms MS         audio per chunk (default 100)
  --pace realtime|max   realtime: one chunk every CHUNK ms; max: the next chunk as soon as the ack comes (default realtime)
  --window N            chunks awaiting an ack per session at max pace (default 1)
  --ramp-up S           start the sessions evenly over S seconds (default 0)
  --warm-up S           leave acks and results of the first S seconds out of the percentiles (default 0)
  --token T             handshake auth.token (default $AUTH_TOKEN)
  --sentry-trace H      handshake sentry-trace header, to continue a trace
  --baggage B           handshake baggage header
  --language L          start_session language
  --interim             ask for interim results (the first-text latency then measures them)
  --interim-interval-ms MS  interim results every MS ms of new speech (implies --interim; default: the server's)
  --transport T         websocket (default) or polling (Socket.IO's long-polling, upgraded to WebSocket)
  --ack-timeout-ms MS   chunk ack timeout before the client resends (default 5000)
  --max-errors N        exit with status 1 when more than N errors were seen (default 0)
  --max-ack-p99-ms MS   exit with status 1 when the P99 ack latency is above MS
  --timeout S           give up on the whole run after S seconds (default: the expected time plus 120)
  --json                print the summary as one JSON object on stdout
  --report FILE         also write a self-contained HTML report (latency over time, histograms, sessions, errors)
  --quiet               no live progress line
  -h, --help            this text`;

function number(name: string, raw: string | undefined, min: number, max: number, whole = false): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value < min || value > max || (whole && !Number.isInteger(value))) {
    throw new UsageError(`--${name} must be a ${whole ? 'whole ' : ''}number from ${min} to ${max}, got "${raw}".`);
  }
  return value;
}

/** Parses `argv` (the arguments after the script name); throws UsageError for anything wrong. */
export function parseLoadTestOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): LoadTestOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        url: { type: 'string' },
        sessions: { type: 'string' },
        loops: { type: 'string' },
        duration: { type: 'string' },
        audio: { type: 'string' },
        'chunk-ms': { type: 'string' },
        format: { type: 'string' },
        pace: { type: 'string' },
        window: { type: 'string' },
        'ramp-up': { type: 'string' },
        'warm-up': { type: 'string' },
        token: { type: 'string' },
        'sentry-trace': { type: 'string' },
        baggage: { type: 'string' },
        language: { type: 'string' },
        interim: { type: 'boolean' },
        'interim-interval-ms': { type: 'string' },
        transport: { type: 'string' },
        'ack-timeout-ms': { type: 'string' },
        'max-errors': { type: 'string' },
        'max-ack-p99-ms': { type: 'string' },
        timeout: { type: 'string' },
        json: { type: 'boolean' },
        report: { type: 'string' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  if (positionals.length > 1) throw new UsageError(`Give at most one audio file, got ${positionals.length}.`);

  const stops = (['loops', 'duration', 'audio'] as const).filter((name) => values[name] !== undefined);
  if (stops.length > 1) throw new UsageError(`Choose one of --loops, --duration and --audio, not ${stops.map((s) => `--${s}`).join(' and ')}.`);
  let stop: StopRule = { kind: 'loops', loops: 1 };
  if (values.loops !== undefined) stop = { kind: 'loops', loops: number('loops', values.loops, 1, 100_000, true)! };
  if (values.duration !== undefined) stop = { kind: 'duration', ms: number('duration', values.duration, 0.1, 86_400)! * 1000 };
  if (values.audio !== undefined) stop = { kind: 'audio', ms: number('audio', values.audio, 0.01, 86_400)! * 1000 };

  const pace = values.pace ?? 'realtime';
  if (pace !== 'realtime' && pace !== 'max') throw new UsageError(`--pace must be realtime or max, got "${pace}".`);
  const transport = values.transport ?? 'websocket';
  if (transport !== 'websocket' && transport !== 'polling') throw new UsageError(`--transport must be websocket or polling, got "${transport}".`);
  if (values.format !== undefined && !isAudioFormat(values.format)) {
    throw new UsageError(`--format must be pcm_s16le, ogg_opus, webm_opus, mulaw or alaw, got "${values.format}".`);
  }
  const url = values.url ?? env.TRANSCRIPTION_URL ?? 'http://localhost:3000';
  if (!/^https?:\/\/[^/]/.test(url)) throw new UsageError(`--url must be an http:// or https:// origin, got "${url}".`);

  return {
    file: positionals[0] ?? DEFAULT_RECORDING,
    format: values.format as AudioFormat | undefined,
    url,
    sessions: number('sessions', values.sessions, 1, 100_000, true) ?? 10,
    stop,
    chunkMs: number('chunk-ms', values['chunk-ms'], 10, 10_000) ?? 100,
    pace,
    window: number('window', values.window, 1, 1024, true) ?? 1,
    rampUpMs: (number('ramp-up', values['ramp-up'], 0, 3600) ?? 0) * 1000,
    warmUpMs: (number('warm-up', values['warm-up'], 0, 86_400) ?? 0) * 1000,
    token: values.token ?? (env.AUTH_TOKEN || undefined),
    sentryTrace: values['sentry-trace'],
    baggage: values.baggage,
    language: values.language,
    interim: (values.interim ?? false) || values['interim-interval-ms'] !== undefined,
    interimIntervalMs: number('interim-interval-ms', values['interim-interval-ms'], 1, 600_000, true),
    transport,
    ackTimeoutMs: number('ack-timeout-ms', values['ack-timeout-ms'], 10, 600_000) ?? 5000,
    maxErrors: number('max-errors', values['max-errors'], 0, Number.MAX_SAFE_INTEGER, true) ?? 0,
    maxAckP99Ms: number('max-ack-p99-ms', values['max-ack-p99-ms'], 0, 600_000),
    timeoutMs: (number('timeout', values.timeout, 1, 7 * 86_400) ?? 0) * 1000,
    json: values.json ?? false,
    progress: !(values.quiet ?? false),
    report: values.report || undefined,
  };
}

/** Options a program (the benchmark, tests) passes; anything left out takes the command line's default. */
export function loadTestOptions(partial: Partial<LoadTestOptions> & Pick<LoadTestOptions, 'url'>): LoadTestOptions {
  const defaults = parseLoadTestOptions([], {}) as LoadTestOptions;
  return { ...defaults, progress: false, ...partial };
}
