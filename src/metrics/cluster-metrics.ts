// Metrics with WORKERS > 1: each worker answers the primary's requests for its registry (prom-client's
// AggregatorRegistry over IPC), and the primary serves the sum on its ops server.
import cluster from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';
import { parsePrometheusText, type MetricFamily, type MetricsSource } from './metrics-source.js';

/**
 * In a cluster worker: lets the primary collect `registry`. prom-client answers only for the registries named in
 * setRegistries (the global one otherwise), and installs its IPC listener when an AggregatorRegistry is constructed,
 * so the worker needs both. No-op outside a worker.
 */
export function shareWorkerMetrics(registry: Registry): void {
  if (!cluster.isWorker) return;
  AggregatorRegistry.setRegistries(registry);
  new AggregatorRegistry();
}

/**
 * In the primary: every worker's metrics, summed per metric and label set (counters, gauges, histogram buckets;
 * prom-client's default metrics use their own aggregators: event-loop lag is averaged). Rejects after prom-client's
 * 5 s when a worker does not answer.
 */
export function createClusterMetricsSource(): MetricsSource {
  const aggregator = new AggregatorRegistry();
  return {
    contentType: aggregator.contentType,
    metrics: () => aggregator.clusterMetrics(),
    async getMetricsAsJSON(): Promise<MetricFamily[]> {
      return parsePrometheusText(await aggregator.clusterMetrics());
    },
  };
}
