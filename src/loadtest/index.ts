// The load-test toolkit: scripts/load-test.ts and the benchmark both run sessions through this.
export { DEFAULT_RECORDING, loadTestOptions, parseLoadTestOptions, UsageError, USAGE, type LoadTestOptions, type Pace, type StopRule } from './options.js';
export { createProgressLine, describeProgress, type ProgressLine } from './progress.js';
export type { ProgressSnapshot } from './recorder.js';
export { ChunkedLoop, loadSpeechSample, SpeechSampleError, wireBytesPerSecond, type SpeechSample } from './speech-sample.js';
export { loadLoadTestSample, OPUS_KBPS } from './encoded-sample.js';
export { formatJson, formatReport } from './report.js';
export { expectedMs, runLoadTest, type RunHooks } from './run.js';
export type { SessionOutcome } from './session-runner.js';
export { nearestRank, Samples, type Percentiles } from './stats.js';
export type { LoadTestSummary } from './summary.js';
