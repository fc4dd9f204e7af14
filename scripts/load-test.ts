// Replays a WAV file (or, with --format, the same speech as Ogg/WebM Opus or G.711, encoded once at start) as many concurrent sessions against a transcription server and reports ack and result
// latencies, counts and errors; exits 1 when the run breaks the thresholds given, so it can gate a release.
// Usage: npm run load-test -- [file.wav|.opus|.webm|.ul|.al] [--format ogg_opus] [--url http://localhost:3000] [--sessions 10] [--duration 30] … (--help)
import {
  createProgressLine,
  formatJson,
  formatReport,
  parseLoadTestOptions,
  SpeechSampleError,
  runLoadTest,
  UsageError,
  USAGE,
} from '../src/loadtest/index.js';

async function main(): Promise<number> {
  const options = parseLoadTestOptions(process.argv.slice(2));
  if (options === 'help') {
    console.log(USAGE);
    return 0;
  }
  const stop = new AbortController();
  process.once('SIGINT', () => {
    process.stderr.write('\n… interrupted: ending every session with the audio sent so far (Ctrl-C again to quit)\n');
    stop.abort();
    process.once('SIGINT', () => process.exit(130));
  });
  const progress = options.progress ? createProgressLine(process.stderr) : undefined;
  const summary = await runLoadTest(options, { onProgress: progress?.update, signal: stop.signal });
  progress?.done();
  console.log(options.json ? formatJson(summary) : formatReport(summary));
  if (options.report) console.error(`HTML report: ${options.report}`);
  return summary.passed ? 0 : 1;
}

main().then(
  (status) => process.exit(status),
  (error: unknown) => {
    if (error instanceof UsageError || error instanceof SpeechSampleError) {
      console.error(`${error.message}\n\n${USAGE}`);
      process.exit(2);
    }
    console.error(`Load test failed: ${(error as Error).stack ?? String(error)}`);
    process.exit(1);
  },
);
