// A cluster worker: serves the connections the primary hands it (@socket.io/sticky), and drains on the primary's
// request or its own SIGTERM.
import cluster from 'node:cluster';
import { setupWorker } from '@socket.io/sticky';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { shareWorkerMetrics } from '../metrics/cluster-metrics.js';
import { NAMESPACE } from '../protocol/index.js';
import { composeServer } from '../server/compose.js';
import { stopOnSignals } from '../server/signals.js';
import { isClusterMessage, WORKER_DRAIN, WORKER_READY } from './messages.js';

export async function runWorker(config: Config, logger: Logger): Promise<void> {
  const node = await composeServer(config, logger);
  // No listen(): the primary owns PORT and passes each connection here, keeping a polling session on one worker.
  setupWorker(node.app.io);
  // The primary's /metrics sums every worker's registry.
  shareWorkerMetrics(node.prometheus.registry);
  // Which worker a client landed on, for following one client through logs (debug level: one line per connection).
  node.app.io.of(NAMESPACE).on('connection', (socket) => logger.debug({ socket_id: socket.id }, 'client connected'));
  const stop = stopOnSignals(logger, async (reason) => {
    logger.info({ reason }, 'worker draining');
    await node.drain.drain();
    await node.close();
  });
  process.on('message', (message) => {
    if (isClusterMessage(message, WORKER_DRAIN)) stop('primary');
  });
  process.send?.({ type: WORKER_READY });
  logger.info({ store: node.store.kind, engine: node.engine.name }, `worker ${cluster.worker?.id} serving`);
}
