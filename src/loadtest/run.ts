// Runs a whole load test: plans when each simulated session starts and stops, runs them all concurrently,
// keeps the run within its time limit, and returns the summary.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { TranscriptionClient } from '../client/index.js';
import { writeHtmlReport } from './html-report.js';
import type { LoadTestOptions } from './options.js';
import { RunRecorder, type ProgressSnapshot } from './recorder.js';
import { loadLoadTestSample } from './encoded-sample.js';
import { ChunkedLoop, type SpeechSample } from './speech-sample.js';
import { runSession, type SessionOutcome, type SessionPlan } from './session-runner.js';
import { summarize, type LoadTestSummary } from './summary.js';
import { TimelineRecorder } from './timeline.js';

export interface RunHooks {
  /** Called about every `progressEveryMs` while the run lasts. */
  onProgress?: (snapshot: ProgressSnapshot) => void;
  progressEveryMs?: number;
  /** Called as each session finishes, with its own view of what happened. */
  onSession?: (outcome: SessionOutcome) => void;
  /** Aborting winds the run down early: sessions stop sending and end their sessions. */
  signal?: AbortSignal;
  /** An already loaded speech sample (the benchmark replays one many times). */
  sample?: SpeechSample;
}

/** How long the run should take when all goes well, to derive the default time limit. */
export function expectedMs(options: LoadTestOptions, sample: SpeechSample): number {
  const stop = options.stop;
  const streamMs = stop.kind === 'duration' ? stop.ms : stop.kind === 'audio' ? stop.ms : stop.loops * sample.durationMs;
  return options.rampUpMs + streamMs;
}

export async function runLoadTest(options: LoadTestOptions, hooks: RunHooks = {}): Promise<LoadTestSummary> {
  const sample = hooks.sample ?? (await loadLoadTestSample(options.file, options.format));
  const audio = new ChunkedLoop(sample, options.chunkMs);
  // --report: the same recorder, keeping per-second latency, sessions and errors for the HTML charts.
  const recorder = options.report ? new TimelineRecorder(options.sessions, options.warmUpMs) : new RunRecorder(options.sessions, options.warmUpMs);
  const t0 = recorder.startedAt;

  const stop = options.stop;
  const totalBytes = stop.kind === 'loops' ? stop.loops * audio.passBytes : stop.kind === 'audio' ? Math.max(sample.encoded ? 1 : 2, audio.bytesOf(stop.ms)) : Infinity;
  const stopAt = stop.kind === 'duration' ? t0 + options.rampUpMs + stop.ms : Infinity;

  let stopping = false;
  let interrupted = false;
  let timedOut = false;
  let markStopped!: () => void;
  const stopped = new Promise<void>((resolve) => (markStopped = resolve));
  const windDown = () => {
    stopping = true;
    markStopped();
  };
  const onAbort = () => {
    interrupted = true;
    windDown();
  };
  if (hooks.signal?.aborted) onAbort();
  hooks.signal?.addEventListener('abort', onAbort, { once: true });

  const clients = new Set<TranscriptionClient>();
  const limitMs = options.timeoutMs > 0 ? options.timeoutMs : expectedMs(options, sample) + 120_000;
  const limit = setTimeout(() => {
    timedOut = true;
    windDown();
    // Whatever is still waiting (acks, end_session) is rejected with CLOSED and counted as such.
    for (const client of clients) client.close();
  }, limitMs);

  const loopDelayResolutionMs = 10;
  const loopDelay = monitorEventLoopDelay({ resolution: loopDelayResolutionMs });
  loopDelay.enable();
  const progress = hooks.onProgress
    ? setInterval(() => hooks.onProgress!(recorder.snapshot()), hooks.progressEveryMs ?? 1000)
    : undefined;

  const plans: SessionPlan[] = Array.from({ length: options.sessions }, (_, index) => ({
    index,
    startAt: t0 + (options.sessions > 1 ? (index * options.rampUpMs) / options.sessions : 0),
    stopAt,
    totalBytes,
  }));

  try {
    await Promise.all(
      plans.map((plan) =>
        runSession({
          options,
          audio,
          recorder,
          plan,
          stopping: () => stopping,
          stopped,
          track(client) {
            clients.add(client);
            return () => clients.delete(client);
          },
        }).then((outcome) => hooks.onSession?.(outcome)),
      ),
    );
  } finally {
    clearTimeout(limit);
    if (progress) clearInterval(progress);
    loopDelay.disable();
    hooks.signal?.removeEventListener('abort', onAbort);
  }
  hooks.onProgress?.(recorder.snapshot());

  // The histogram holds whole timer intervals: what exceeds the resolution is the delay.
  const ns = (value: number) => (Number.isFinite(value) && value > 0 ? Math.max(0, value / 1e6 - loopDelayResolutionMs) : undefined);
  const summary = summarize(options, sample, recorder, {
    wallMs: performance.now() - t0,
    timedOut,
    interrupted,
    generator: { eventLoopDelayP99Ms: ns(loopDelay.percentile(99)), eventLoopDelayMaxMs: ns(loopDelay.max) },
  });
  if (options.report && recorder instanceof TimelineRecorder) await writeHtmlReport(options.report, summary, recorder.finish());
  return summary;
}
