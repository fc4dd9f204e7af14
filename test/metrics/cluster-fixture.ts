// A two-worker cluster for the aggregation test: each worker reports its own counts through Prometheus metrics
// shared with shareWorkerMetrics; the primary prints what createClusterMetricsSource serves, then stops.
import cluster from 'node:cluster';
import { createClusterMetricsSource, shareWorkerMetrics } from '../../src/metrics/cluster-metrics.js';
import { createPrometheusMetrics } from '../../src/metrics/prometheus-metrics.js';

if (cluster.isPrimary) {
  const source = createClusterMetricsSource();
  const workers = [cluster.fork({ CHUNKS: '3' }), cluster.fork({ CHUNKS: '5' })];
  let ready = 0;
  for (const worker of workers) {
    worker.on('message', async (message: unknown) => {
      if (message !== 'ready' || ++ready < workers.length) return;
      const text = await source.metrics();
      const families = await source.getMetricsAsJSON();
      process.stdout.write(JSON.stringify({ text, families, contentType: source.contentType }));
      for (const w of workers) w.kill();
    });
  }
} else {
  const { metrics, registry } = createPrometheusMetrics();
  shareWorkerMetrics(registry);
  const chunks = Number(process.env.CHUNKS);
  for (let i = 0; i < chunks; i++) metrics.chunkAccepted(0.1);
  metrics.sessionsActive(chunks);
  metrics.eventHandled('audio_chunk', 0.003);
  metrics.eventHandled('audio_chunk', 0.003, 'SEQ_GAP');
  process.send!('ready');
}
