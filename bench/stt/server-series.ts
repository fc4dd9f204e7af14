// The server's state second by second while a step runs, read from its ops /metrics (the figures the dashboard
// charts): engine limit, in flight and queued, event-loop utilisation, sessions, and what each second admitted,
// refused and resumed — so a table can show how an outcome came about, not only the outcome.
import { cpuSeconds } from '../shared/processes.js';

/** One value a second from the step's start; null where the server could not be read (down, restarting). */
export interface ServerSeries {
  /** transcription_engine_concurrency_limit */
  limit: (number | null)[];
  /** transcription_engine_in_flight */
  inFlight: (number | null)[];
  /** transcription_engine_queue_depth */
  queued: (number | null)[];
  /** transcription_event_loop_utilization (the server measures it over 3 s windows) */
  elu: (number | null)[];
  /** Cores the server process used in that second (from /proc), a finer view of its CPU than the 3 s ELU. */
  cores: (number | null)[];
  /** transcription_sessions_active */
  sessions: (number | null)[];
  /** New sessions started in that second (transcription_sessions_started_total). */
  admitted: (number | null)[];
  /** start_session refused with OVERLOADED in that second. */
  refused: (number | null)[];
  /** Sessions resumed in that second. */
  resumed: (number | null)[];
  /** Engine answers 429 in that second. */
  engine429: (number | null)[];
}

/** Prometheus text → sums by metric name, keeping only series whose labels contain `match` (when given). */
export function metricValue(text: string, name: string, match?: string): number | undefined {
  let sum: number | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    if (match && !rest.includes(match)) continue;
    const value = Number(rest.slice(rest.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) sum = (sum ?? 0) + value;
  }
  return sum;
}

interface Reading {
  limit?: number;
  inFlight?: number;
  queued?: number;
  elu?: number;
  sessions?: number;
  started?: number;
  refused?: number;
  resumed?: number;
  engine429?: number;
}

function read(text: string): Reading {
  const p = 'transcription_';
  return {
    limit: metricValue(text, `${p}engine_concurrency_limit`),
    inFlight: metricValue(text, `${p}engine_in_flight`),
    queued: metricValue(text, `${p}engine_queue_depth`),
    elu: metricValue(text, `${p}event_loop_utilization`),
    sessions: metricValue(text, `${p}sessions_active`),
    started: metricValue(text, `${p}sessions_started_total`),
    refused: metricValue(text, `${p}event_refusals_total`, 'code="OVERLOADED"') ?? 0,
    resumed: metricValue(text, `${p}sessions_resumed_total`),
    engine429: metricValue(text, `${p}engine_request_duration_seconds_count`, 'outcome="429"') ?? 0,
  };
}

export function emptySeries(): ServerSeries {
  return { limit: [], inFlight: [], queued: [], elu: [], cores: [], sessions: [], admitted: [], refused: [], resumed: [], engine429: [] };
}

/**
 * Reads `metricsUrl` every second until stopped. `pid()` is the server process now (a restart changes it); counters
 * start again at 0 in a new process, so a per-second figure is taken against the same process's previous reading.
 */
export function sampleServer(metricsUrl: string, pid: () => number): { stop(): ServerSeries } {
  const series = emptySeries();
  let previous: { pid: number; reading: Reading; cpu: number; at: number } | undefined;
  let busy = false;
  let seconds = 0;
  const round = (v: number | undefined, digits = 0) => (v === undefined ? null : Math.round(v * 10 ** digits) / 10 ** digits);
  const tick = async () => {
    // One reading at a time, each written at its own second: a second skipped while one is slow stays a gap (null).
    // A reading that takes over 2 s (a saturated server) is abandoned.
    const second = seconds++;
    if (busy) return;
    busy = true;
    const at = performance.now();
    const id = pid();
    let reading: Reading | undefined;
    try {
      const response = await fetch(metricsUrl, { signal: AbortSignal.timeout(2000) });
      if (response.ok) reading = read(await response.text());
    } catch {
      // down or restarting: a gap in the series
    } finally {
      busy = false;
    }
    let cpu: number | undefined;
    try {
      cpu = cpuSeconds(id);
    } catch {
      cpu = undefined;
    }
    // Counts per second: against the same process's last reading, or from 0 in a process started since (a restart);
    // the step's first reading has nothing to count against.
    const delta = (key: keyof Reading) => {
      const now = reading?.[key];
      if (now === undefined || previous === undefined) return null;
      return Math.max(0, now - (previous.pid === id ? (previous.reading[key] ?? 0) : 0));
    };
    const put = (key: keyof ServerSeries, value: number | null) => (series[key][second] = value);
    put('limit', round(reading?.limit));
    put('inFlight', round(reading?.inFlight));
    put('queued', round(reading?.queued));
    put('elu', round(reading?.elu, 2));
    put('sessions', round(reading?.sessions));
    put('admitted', delta('started'));
    put('refused', delta('refused'));
    put('resumed', delta('resumed'));
    put('engine429', delta('engine429'));
    // Only while the process answers: a killed one reads as 0 CPU seconds.
    const same = reading !== undefined && cpu !== undefined && previous?.pid === id;
    put('cores', same ? round(Math.max(0, cpu! - previous!.cpu) / ((at - previous!.at) / 1000), 2) : null);
    if (reading !== undefined && cpu !== undefined) previous = { pid: id, reading, cpu, at };
  };
  void tick();
  const timer = setInterval(() => void tick(), 1000);
  return {
    stop() {
      clearInterval(timer);
      // Holes (seconds skipped or still pending) become nulls, one entry a second.
      for (const values of Object.values(series) as (number | null)[][]) for (let i = 0; i < seconds; i++) values[i] ??= null;
      return series;
    },
  };
}
