// The server as one process (WORKERS=1): Socket.IO on PORT and the ops server on OPS_PORT; SIGTERM drains, then exits.
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { createOpsServer } from '../ops/ops-server.js';
import { createReadinessProbe } from '../ops/readiness.js';
import type { Sessions } from '../sessions/sessions.js';
import { composeServer } from './compose.js';
import { stopOnSignals } from './signals.js';

/**
 * Readiness fails while new sessions would be refused with OVERLOADED, so the load balancer sends new clients to
 * another node; sessions already here keep going. (With WORKERS > 1 each worker refuses by itself.)
 */
export function capacityCheck(sessions: Pick<Sessions, 'overloaded'>): () => Promise<void> {
  return async () => {
    const refusal = sessions.overloaded();
    if (refusal) throw refusal;
  };
}

export async function runSingleProcess(config: Config, logger: Logger): Promise<void> {
  const node = await composeServer(config, logger);
  const { app, store, engine, drain } = node;
  const port = await app.listen();
  logger.info(
    { port, store: store.kind, engine: engine.name, model: engine.model, namespace: '/transcription' },
    `Transcription server listening on port ${port} (store=${store.kind}, engine=${engine.name})`,
  );
  const readiness = createReadinessProbe(store, engine, {
    engineOutage: config.engineOutageReadiness,
    draining: () => drain.draining,
    extraChecks: { capacity: capacityCheck(app.sessions) },
  });
  const ops = createOpsServer({ config, store, engine, logger, readiness, metrics: node.prometheus.registry });
  const opsPort = await ops.listen();
  logger.info({ ops_port: opsPort }, `Ops server listening on port ${opsPort} (/healthz, /readyz, /metrics, /dashboard, /ops/test-sentry-performance)`);

  stopOnSignals(logger, async (signal) => {
    logger.info({ signal, grace_ms: config.shutdownGraceMs }, 'draining: /readyz answers 503, no new connections, in-flight segments finish');
    // Stop accepting at once; connections already open stay until the drain has told their clients.
    app.httpServer.close();
    await drain.drain();
    await node.close();
    await ops.close();
    logger.info('stopped: sessions stay in the store for another node to resume');
  });
}
