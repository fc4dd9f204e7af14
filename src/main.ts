// Process entry: reads the environment and runs the server as one process, or (WORKERS > 1) as a cluster primary or
// one of its workers.
import cluster from 'node:cluster';
import { warnIfAnonymous } from './auth/access.js';
import { runPrimary } from './cluster/primary.js';
import { runWorker } from './cluster/worker.js';
import { ConfigError, configWarnings, loadConfig } from './config/config.js';
import { EngineUnavailableError } from './engines/engine.js';
import { createLogger } from './logger.js';
import { runSingleProcess } from './server/single.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  if (cluster.isPrimary) {
    warnIfAnonymous(config, logger);
    for (const warning of configWarnings()) logger.warn(warning);
  }
  if (config.workers === 1) return runSingleProcess(config, logger);
  // Every line says which process wrote it: pid is in pino's base, the worker id beside it.
  if (cluster.isPrimary) return runPrimary(config, logger.child({ worker: 'primary' }));
  return runWorker(config, logger.child({ worker: cluster.worker!.id }));
}

main().catch((error: unknown) => {
  // Settings and missing programs are the operator's to fix: the message says how. Anything else keeps its stack.
  const known = error instanceof ConfigError || error instanceof EngineUnavailableError;
  console.error(`Cannot start: ${(error as Error).message}`);
  if (!known) console.error(error);
  process.exit(1);
});
