// Process entry: reads the environment, builds the real parts, starts the server, and stops it cleanly.
import { createApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config/config.js';
import { EngineUnavailableError } from './engines/engine.js';
import { createEngine } from './engines/index.js';
import { createLogger } from './logger.js';
import type { BufferStore } from './store/buffer-store.js';
import { createMemoryStore } from './store/memory-store.js';
import { createRedisStore } from './store/redis-store.js';

async function createStore(config: Config): Promise<BufferStore> {
  if (!config.redisUrl) return createMemoryStore({ ttlS: config.sessionTtlS });
  return createRedisStore({ url: config.redisUrl, keyPrefix: config.redisKeyPrefix, ttlS: config.sessionTtlS });
}

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const store = await createStore(config);
  const engine = await createEngine(config, logger);
  const app = createApp(config, { store, engine, logger });
  const port = await app.listen();
  logger.info(
    { port, store: store.kind, engine: engine.name, model: engine.model, namespace: '/transcription' },
    `Transcription server listening on port ${port} (store=${store.kind}, engine=${engine.name})`,
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping: clients are disconnected, sessions stay in the store');
    await app.close();
    await store.close();
    await engine.close?.();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error: unknown) => {
  const known = error instanceof ConfigError || error instanceof EngineUnavailableError;
  console.error(known ? `Cannot start: ${(error as Error).message}` : error);
  process.exit(1);
});
