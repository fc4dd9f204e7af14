// The result of a load-test run as one plain object (what --json prints), and whether it passes the user's thresholds.
import type { LoadTestOptions, StopRule } from './options.js';
import type { RunRecorder } from './recorder.js';
import { wireBytesPerSecond, type SpeechSample } from './speech-sample.js';
import type { Percentiles } from './stats.js';

export interface LoadTestSummary {
  target: string;
  recording: { file: string; sampleRate: number; seconds: number };
  settings: {
    sessions: number;
    pace: LoadTestOptions['pace'];
    window: number;
    chunkMs: number;
    stop: StopRule;
    rampUpS: number;
    warmUpS: number;
    transport: string;
    interim: boolean;
    interimIntervalMs: number | undefined;
  };
  /** Wall time of the whole run, connections and end_session included. */
  wallSeconds: number;
  sessions: { planned: number; started: number; completed: number; failed: number };
  chunks: { sent: number; acked: number; failed: number; resent: number; duplicates: number };
  audio: {
    /** The wire format the sessions sent. */
    format: string;
    /** Audio bytes sent per second of audio (the sample's bytes over its play time): what each real-time session puts on the wire every second. */
    bytesPerSecond: number;
    sentSeconds: number;
    ackedSeconds: number;
    /** Audio seconds acknowledged per wall second, from the first chunk sent to the last ack. */
    ingestPerWallSecond: number | undefined;
  };
  /** Chunk round trips as the clients measured them (send → ack), in milliseconds. */
  ackLatencyMs: Percentiles;
  /** From the ack of each segment's last chunk (or end_session) to its transcription_result, in milliseconds. */
  resultLatencyMs: Percentiles;
  /** The server's latency_ms of each result (segment cut → emit), for comparison. */
  serverResultLatencyMs: Percentiles;
  /**
   * First text latency: per segment, from sending its first chunk to the first result with its number (interim or
   * final), in milliseconds. Without interims it spans the whole segment; with them, how soon words show.
   */
  firstTextLatencyMs: Percentiles;
  results: { received: number; untimed: number; interims: number };
  errors: { total: number; byCode: Record<string, number> };
  disconnects: number;
  reconnects: number;
  /** The load generator's own health: when these grow, latency measured here is partly its own. */
  generator: { eventLoopDelayP99Ms: number | undefined; eventLoopDelayMaxMs: number | undefined; sendLagP99Ms: number | undefined };
  /** The run was cut short: by its time limit or by the user. */
  timedOut: boolean;
  interrupted: boolean;
  /** Why the run fails its thresholds; empty when it passes. */
  failures: string[];
  passed: boolean;
}

export interface GeneratorHealth {
  eventLoopDelayP99Ms: number | undefined;
  eventLoopDelayMaxMs: number | undefined;
}

const round = (value: number, places = 3) => Math.round(value * 10 ** places) / 10 ** places;

function rounded(p: Percentiles): Percentiles {
  const r = (v: number | undefined) => (v === undefined ? undefined : round(v));
  return { count: p.count, p50: r(p.p50), p75: r(p.p75), p95: r(p.p95), p99: r(p.p99), max: r(p.max), mean: r(p.mean) };
}

export function summarize(
  options: LoadTestOptions,
  sample: SpeechSample,
  recorder: RunRecorder,
  run: { wallMs: number; timedOut: boolean; interrupted: boolean; generator: GeneratorHealth },
): LoadTestSummary {
  const bytesPerSecond = wireBytesPerSecond(sample);
  const seconds = (bytes: number) => round(bytes / bytesPerSecond, 3);
  const ack = rounded(recorder.ackLatency.summary());
  const sendLagP99 = recorder.sendLag.summary().p99;
  const ingestWindowMs =
    recorder.firstSendAt !== undefined && recorder.lastAckAt !== undefined ? recorder.lastAckAt - recorder.firstSendAt : undefined;

  const failures: string[] = [];
  if (recorder.errors > options.maxErrors) failures.push(`${recorder.errors} error(s), above --max-errors ${options.maxErrors}`);
  if (options.maxAckP99Ms !== undefined && ack.p99 !== undefined && ack.p99 > options.maxAckP99Ms) {
    failures.push(`P99 ack latency ${ack.p99} ms, above --max-ack-p99-ms ${options.maxAckP99Ms}`);
  }
  if (options.maxAckP99Ms !== undefined && ack.p99 === undefined) failures.push('no chunk was acknowledged, so the P99 ack latency is unknown');
  if (run.timedOut) failures.push('the run hit its time limit (--timeout) before every session finished');

  return {
    target: options.url,
    recording: { file: sample.file, sampleRate: sample.sampleRate, seconds: round(sample.durationMs / 1000) },
    settings: {
      sessions: options.sessions,
      pace: options.pace,
      window: options.window,
      chunkMs: options.chunkMs,
      stop: options.stop,
      rampUpS: options.rampUpMs / 1000,
      warmUpS: options.warmUpMs / 1000,
      transport: options.transport,
      interim: options.interim,
      interimIntervalMs: options.interimIntervalMs,
    },
    wallSeconds: round(run.wallMs / 1000),
    sessions: {
      planned: recorder.sessionsPlanned,
      started: recorder.sessionsStarted,
      completed: recorder.sessionsCompleted,
      failed: recorder.sessionsFailed,
    },
    chunks: {
      sent: recorder.chunksSent,
      acked: recorder.chunksAcked,
      failed: recorder.chunksFailed,
      resent: recorder.chunksResent,
      duplicates: recorder.chunksDuplicate,
    },
    audio: {
      format: sample.encoded?.format ?? 'pcm_s16le',
      bytesPerSecond: round(bytesPerSecond, 1),
      sentSeconds: seconds(recorder.audioBytesSent),
      ackedSeconds: seconds(recorder.audioBytesAcked),
      ingestPerWallSecond: ingestWindowMs && ingestWindowMs > 0 ? round(recorder.audioBytesAcked / bytesPerSecond / (ingestWindowMs / 1000), 2) : undefined,
    },
    ackLatencyMs: ack,
    resultLatencyMs: rounded(recorder.resultLatency.summary()),
    serverResultLatencyMs: rounded(recorder.serverResultLatency.summary()),
    firstTextLatencyMs: rounded(recorder.firstTextLatency.summary()),
    results: { received: recorder.results, untimed: recorder.resultsUntimed, interims: recorder.interims },
    errors: { total: recorder.errors, byCode: recorder.errorsByCode() },
    disconnects: recorder.disconnects,
    reconnects: recorder.reconnects,
    generator: {
      eventLoopDelayP99Ms: run.generator.eventLoopDelayP99Ms === undefined ? undefined : round(run.generator.eventLoopDelayP99Ms),
      eventLoopDelayMaxMs: run.generator.eventLoopDelayMaxMs === undefined ? undefined : round(run.generator.eventLoopDelayMaxMs),
      sendLagP99Ms: sendLagP99 === undefined ? undefined : round(sendLagP99),
    },
    timedOut: run.timedOut,
    interrupted: run.interrupted,
    failures,
    passed: failures.length === 0,
  };
}
