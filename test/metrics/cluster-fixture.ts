// A two-worker cluster for the aggregation test: each worker reports its own counts through Prometheus metrics
// shared with shareWorkerMetrics; the primary serves createClusterMetricsSource on a real ops server, prints what
// its /metrics and /dashboard/data answer, then stops.
import cluster from 'node:cluster';
import { createClusterMetricsSource, shareWorkerMetrics } from '../../src/metrics/cluster-metrics.js';
import { createPrometheusMetrics } from '../../src/metrics/prometheus-metrics.js';

if (cluster.isPrimary) {
  // The ops server's modules (Fastify, Sentry) load in the primary only: workers start in a fraction of the time.
  const [{ createOpsServer }, { createMemoryStore }] = await Promise.all([
    import('../../src/ops/ops-server.js'),
    import('../../src/store/memory-store.js'),
  ]);
  const source = createClusterMetricsSource();
  const workers = [cluster.fork({ CHUNKS: '3' }), cluster.fork({ CHUNKS: '5' })];
  let ready = 0;
  for (const worker of workers) {
    worker.on('message', async (message: unknown) => {
      if (message !== 'ready' || ++ready < workers.length) return;
      const ops = createOpsServer({
        config: { opsPort: 0, opsToken: undefined, host: '127.0.0.1' },
        store: createMemoryStore({ ttlS: 60 }),
        engine: { name: 'stub', model: 'stub-1', transcribe: async () => ({ text: '' }), check: async () => {} },
        metrics: source,
        dashboard: { stepMs: 100 },
      });
      const base = `http://127.0.0.1:${await ops.listen()}`;
      const response = await fetch(`${base}/metrics`);
      const text = await response.text();
      const families = await source.getMetricsAsJSON();
      // The dashboard samples every 100 ms: read it once it holds a sample (or after 10 s, for the test to fail on).
      let dashboard: { sessionsActive?: (number | null)[] } = {};
      for (const deadline = Date.now() + 10_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 50))) {
        dashboard = (await (await fetch(`${base}/dashboard/data`)).json()) as typeof dashboard;
        if (typeof dashboard.sessionsActive?.at(-1) === 'number') break;
      }
      await ops.close();
      for (const w of workers) w.kill();
      // Exit once written: fetch's pooled keep-alive sockets would hold the primary open for a while.
      process.stdout.write(JSON.stringify({ text, families, contentType: response.headers.get('content-type'), dashboard }), () => process.exit(0));
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
