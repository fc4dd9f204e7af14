// Micro-benchmark: CPU cost of Prometheus metrics on the per-chunk path (chunkAccepted + eventHandled +
// storeRoundTrip, the three calls one accepted audio_chunk makes), against the no-op seam. Prints µs per chunk.
// Usage: npx tsx bench/ack-path/metrics-per-chunk.ts [chunks per round, default 2,000,000]
import { noopMetrics, type ServerMetrics } from '../../src/metrics/metrics.js';
import { createPrometheusMetrics } from '../../src/metrics/prometheus-metrics.js';

const CHUNKS = Number(process.argv[2] ?? 2_000_000);
const ROUNDS = 7;

/** The calls of one accepted chunk, with varying but realistic values (so no branch is always the same). */
function perChunk(metrics: ServerMetrics, i: number): void {
  const seconds = 0.0002 + (i % 97) * 0.00003;
  metrics.chunkAccepted(0.1);
  metrics.storeRoundTrip('append', seconds / 2);
  metrics.eventHandled('audio_chunk', seconds);
}

function cpuMicrosPerChunk(metrics: ServerMetrics): number {
  const start = process.cpuUsage();
  for (let i = 0; i < CHUNKS; i++) perChunk(metrics, i);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / CHUNKS;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

// Default metrics' own timers (event-loop monitor) included, as in the server.
const { metrics: prometheus } = createPrometheusMetrics();
const none: number[] = [];
const prom: number[] = [];
// Warm both paths up first (JIT), then alternate rounds so drift on a shared machine hits both alike.
cpuMicrosPerChunk(noopMetrics);
cpuMicrosPerChunk(prometheus);
for (let round = 0; round < ROUNDS; round++) {
  none.push(cpuMicrosPerChunk(noopMetrics));
  prom.push(cpuMicrosPerChunk(prometheus));
}
const cost = median(prom) - median(none);
console.log(`chunks per round ${CHUNKS.toLocaleString('en-US')}, ${ROUNDS} rounds, median`);
console.log(`no-op seam      ${median(none).toFixed(3)} µs per chunk`);
console.log(`prom-client     ${median(prom).toFixed(3)} µs per chunk (3 calls)`);
console.log(`metrics cost    ${cost.toFixed(3)} µs per chunk (${((cost / 3) * 1000).toFixed(0)} ns per call)`);
