// The composition root, the one place the object graph is built: composeServer() makes a process's parts from the
// config (store, engine, telemetry, metrics, access, HTTP routes, drain) and createApp() wires them into the service
// (scheduler, admission, limits, sessions, the Socket.IO namespace) — tests call createApp with parts of their own. The
// process model (src/server/single.ts, src/cluster/worker.ts) only decides how many times composeServer runs.
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import cluster from 'node:cluster';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { Server } from 'socket.io';
import { connectAccessRedis, createAccess, type Access } from '../auth/access.js';
import type { Config } from '../config/config.js';
import type { TranscriptionEngine } from '../engines/engine.js';
import { StreamLimits } from '../limits/stream-limits.js';
import { noopMetrics, type ServerMetrics } from '../metrics/metrics.js';
import { AdmissionControl, priorSessionRate } from '../scheduler/admission.js';
import { EventLoopLoad } from '../limits/event-loop-load.js';
import { energySpeechDetector, loadSileroSpeechDetector, type SpeechDetector } from '../audio/speech-detector.js';
import { sessionCapRefusal } from '../limits/session-cap.js';
import { AdaptiveLimit, fixedLimit, type ConcurrencyLimit } from '../scheduler/concurrency-limit.js';
import { openLimitMemory, providerKey, type LimitMemory } from '../scheduler/limit-memory.js';
import { EngineScheduler } from '../scheduler/engine-scheduler.js';
import { modelPolicy } from '../sessions/allowed-models.js';
import { SessionRegistry } from '../sessions/session-registry.js';
import { Sessions } from '../sessions/sessions.js';
import { registerTranscriptionNamespace } from '../socket/namespace.js';
import { connectError } from '../auth/handshake-auth.js';
import { ConnectErrorCode, NAMESPACE } from '../protocol/index.js';
import type { BufferStore } from '../store/buffer-store.js';
import type { RedisClient } from '../store/redis-connection.js';
import { noopTelemetry, type Telemetry } from '../telemetry/telemetry.js';
import { TOKEN_PATH } from '../auth/token-endpoint.js';
import { createEngine, type FallbackEngine } from '../engines/index.js';
import { createPrometheusMetrics, type PrometheusMetrics } from '../metrics/prometheus-metrics.js';
import { createStore } from '../store/index.js';
import { createTelemetry, flushTelemetry } from '../telemetry/sentry-telemetry.js';
import { createRequestRouter } from '../web-server/request-router.js';
import { createPageHandler, pageNotFound } from '../web-server/static-page.js';
import { createDrain, createDrainGate, type Drain } from './drain.js';

export interface AppDeps {
  store: BufferStore;
  engine: TranscriptionEngine;
  telemetry?: Telemetry;
  metrics?: ServerMetrics;
  logger?: Logger;
  /** Serves plain HTTP requests on PORT that are not Socket.IO's (the demo page, POST /v1/tokens). */
  httpHandler?: (request: IncomingMessage, response: ServerResponse) => void;
  /** Who may connect (src/auth); built from the settings, with an in-memory replay guard, when absent. */
  access?: Access;
  /** Decides whether a cut segment holds speech; the energy VAD alone when absent (composeServer loads Silero). */
  speech?: SpeechDetector;
  /** With Redis: what the adaptive engine limit learnt, shared with other processes; absent = this process alone. */
  limitMemory?: LimitMemory;
}

export interface App {
  readonly httpServer: HttpServer;
  readonly io: Server;
  readonly sessions: Sessions;
  readonly registry: SessionRegistry;
  readonly scheduler: EngineScheduler;
  /** Listens on `port` (0 = a free one) and resolves with the port taken. */
  listen(port?: number, host?: string): Promise<number>;
  /** Disconnects clients and stops listening; sessions stay in the store. Does not close the store. */
  close(): Promise<void>;
}

/** Socket.IO drops a message over maxHttpBufferSize with a bare disconnect: keep it well above the chunk cap, so an oversized chunk is answered with CHUNK_TOO_LARGE. */
export function transportMessageLimit(maxChunkBytes: number): number {
  return Math.max(4 * 1024 * 1024, maxChunkBytes * 4);
}

/** The engine's concurrency: its own capacity (local decoders), a fixed cap from the settings, or adaptive. */
export function engineConcurrency(config: Config, engine: TranscriptionEngine, memory?: LimitMemory): ConcurrencyLimit {
  const { fixed, initial, min, max } = config.engine.concurrency;
  if (fixed !== undefined) return fixedLimit(fixed);
  if (engine.capacity !== undefined) return fixedLimit(engine.capacity);
  // From what an earlier process learnt of this provider when Redis remembers it, else the initial window.
  const limit = new AdaptiveLimit({ initial, min, max, ...(memory?.start ? { learnt: memory.start } : {}) });
  memory?.attach(limit);
  return limit;
}

/**
 * With Redis and an adaptive limit on a remote provider: the memory of what the limit learnt about it, keyed by the
 * provider (base URL and a digest of the key), shared by every process on that key. Opened before the app, so the
 * limit starts from it.
 */
async function openEngineLimitMemory(config: Config, engine: TranscriptionEngine, redis: RedisClient | undefined, logger: Logger): Promise<LimitMemory | undefined> {
  const { transcriber, concurrency, openai } = config.engine;
  if (!redis || transcriber !== 'openai' || concurrency.fixed !== undefined || engine.capacity !== undefined) return undefined;
  const key = providerKey(config.redisKeyPrefix, { baseUrl: openai.baseUrl || OPENAI_DEFAULT_BASE_URL, apiKey: openai.apiKey ?? '' });
  // A restarted process on the same host and port finds its own record (cluster workers keep their number until respawned).
  const processId = `${hostname()}:${config.port}:${cluster.worker?.id ?? 0}`;
  return openLimitMemory({ redis, key, processId, logger });
}

/** Where the OpenAI SDK sends requests when OPENAI_BASE_URL is empty. */
const OPENAI_DEFAULT_BASE_URL = 'https://api.openai.com/v1';

/** How long a transport connection may take to join /transcription before it is closed. */
const NAMESPACE_JOIN_TIMEOUT_MS = 10_000;

/** New sessions are judged on the event loop's busy share over this long: long enough that a GC pause or a burst of
 * segment cuts does not turn sessions away, short enough to stop a ramp of new sessions before it saturates the loop. */
const EVENT_LOOP_WINDOW_MS = 3000;

export function createApp(config: Config, deps: AppDeps): App {
  const logger = deps.logger ?? pino({ level: 'silent' });
  const telemetry = deps.telemetry ?? noopTelemetry;
  const metrics = deps.metrics ?? noopMetrics;
  const httpServer = createServer(deps.httpHandler ?? pageNotFound);
  const access = deps.access ?? createAccess(config, { logger });
  const io = new Server(httpServer, {
    maxHttpBufferSize: transportMessageLimit(config.maxChunkBytes),
    serveClient: false,
    cors: { origin: access.originPolicy.corsOrigin },
    allowRequest: access.originPolicy.allowRequest,
    // A transport connection that joins no namespace is closed this soon (Socket.IO's default is 45 s).
    connectTimeout: NAMESPACE_JOIN_TIMEOUT_MS,
  });
  // Only /transcription serves clients, behind its handshake checks; Socket.IO's default namespace "/" would accept
  // anyone, past every one of them.
  io.of('/').use((_socket, next) => next(connectError(ConnectErrorCode.UNKNOWN_NAMESPACE, `UNKNOWN_NAMESPACE: this server serves the ${NAMESPACE} namespace only`)));
  const scheduler = new EngineScheduler({
    limit: engineConcurrency(config, deps.engine, deps.limitMemory),
    maxRetries: config.engine.maxRetries,
    metrics,
    logger,
  });
  const admission = new AdmissionControl(scheduler, { maxResultDelayMs: config.maxResultDelayMs, priorSessionRate: priorSessionRate(config.segmentation.maxMs) });
  const eventLoopLoad = new EventLoopLoad({ maxUtilization: config.maxEventLoopUtilization, windowMs: EVENT_LOOP_WINDOW_MS, onSample: (share) => metrics.eventLoopUtilization(share) });
  const registry = new SessionRegistry({
    leaseMs: config.sessionLeaseMs,
    store: deps.store,
    engine: deps.engine,
    scheduler,
    admission,
    segmentation: config.segmentation,
    speech: deps.speech ?? energySpeechDetector(config.segmentation.speechDbfs),
    telemetry,
    metrics,
    logger,
  });
  const streamLimits = new StreamLimits({ ...config.limits, forgetAfterMs: config.sessionTtlS * 1000 });
  // A new session waits while this process is full (its cap, its CPU) or the engine is.
  const capacity = {
    refusal: (active: number) => sessionCapRefusal(active, config.maxSessionsPerProcess) ?? eventLoopLoad.refusal() ?? admission.refusal(active),
  };
  const sessions = new Sessions({ store: deps.store, registry, capacity, telemetry, metrics, limits: { maxBufferMs: config.maxBufferMs, leaseMs: config.sessionLeaseMs }, streamLimits });
  streamLimits.startIdleSweep((id) => {
    sessions.endIdle(id, config.limits.sessionIdleTimeoutMs).catch((error: unknown) => logger.error({ session_id: id, err: error }, 'could not end an idle session'));
  });
  registerTranscriptionNamespace(
    io,
    {
      sessions,
      maxChunkBytes: config.maxChunkBytes,
      // A segment is at most SEGMENT_MAX_MS long: a longer interval would never give an interim.
      interim: { defaultMs: Math.min(config.interimIntervalMs, config.segmentation.maxMs), minMs: 250, maxMs: config.segmentation.maxMs },
      models: modelPolicy(config.engine.allowedModels, deps.engine.model),
      telemetry,
      metrics,
      logger,
    },
    { handshake: access.handshake, allowance: config.limits },
  );

  return {
    httpServer,
    io,
    sessions,
    registry,
    scheduler,
    listen(port = config.port, host = config.host) {
      return new Promise((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(port, host, () => {
          httpServer.off('error', reject);
          resolve((httpServer.address() as AddressInfo).port);
        });
      });
    },
    async close() {
      streamLimits.stopIdleSweep();
      eventLoopLoad.stop();
      if (!deps.access) await access.close();
      scheduler.close();
      await new Promise<void>((resolve) => io.close(() => resolve()));
    },
  };
}

/** One serving process's parts, built from the config. */
export interface TranscriptionServer {
  app: App;
  store: BufferStore;
  engine: TranscriptionEngine;
  /** This process's Prometheus registry: served on its ops server, or collected by a cluster primary. */
  prometheus: PrometheusMetrics;
  drain: Drain;
  /** After the drain: closes the app, the store and the engine, and sends the last telemetry. */
  close(): Promise<void>;
}

export async function composeServer(config: Config, logger: Logger): Promise<TranscriptionServer> {
  // Prometheus metrics on a registry of this process's own: the pipeline (and the store's failovers) report to it.
  const prometheus = createPrometheusMetrics();
  const store = await createStore(config, {
    failover: () => prometheus.metrics.storeFailover(),
    waitTimeout: () => prometheus.metrics.storeWaitTimeout(),
  });
  const engine = await createEngine(config, logger);
  // A local engine's decoders load their model before the first session comes, not under its first segments.
  await engine.warmUp?.();
  (engine as Partial<FallbackEngine>).watchBreaker?.((state) => prometheus.metrics.engineBreakerState(state));
  // Sentry telemetry when instrument.ts started Sentry (SENTRY_DSN or SENTRY_SPOTLIGHT), else the no-op seam; what
  // the SDK drops is counted in the metrics.
  const telemetry = createTelemetry({ tags: { engine: engine.name, model: engine.model }, metrics: prometheus.metrics });
  // With Redis, client-token claims and the per-address limits are shared by every node and worker, so a token
  // opens one connection in all and MAX_CONNECTIONS_PER_IP holds for the deployment.
  const redis = await connectAccessRedis(config);
  const access = createAccess(config, { logger, redis });
  // On the same connection: it fails fast (REDIS_CHECK_TIMEOUT_MS), and access closes it last.
  const limitMemory = await openEngineLimitMemory(config, engine, redis, logger);
  const speech = config.speechDetector === 'silero' ? await loadSileroSpeechDetector(config.segmentation.speechDbfs, logger) : undefined;
  const httpHandler = createRequestRouter({ [TOKEN_PATH]: access.tokenEndpoint }, createPageHandler());
  // The drain check comes before every other handshake check: a draining node must not redeem a one-time token.
  const gate = createDrainGate();
  const app = createApp(config, { store, engine, logger, telemetry, metrics: prometheus.metrics, access: { ...access, handshake: [gate.handshake, ...access.handshake] }, httpHandler, ...(limitMemory ? { limitMemory } : {}), ...(speech ? { speech } : {}) });
  const drain = createDrain({
    io: app.io,
    gate,
    graceMs: config.shutdownGraceMs,
    stopTakingWork: () => app.sessions.startDraining(),
    idle: () => app.sessions.settled(),
    logger,
  });
  return {
    app,
    store,
    engine,
    prometheus,
    drain,
    async close() {
      await app.close();
      await limitMemory?.close();
      await access.close();
      await store.close();
      await engine.close?.();
      // Transactions of the last events are still queued: send them before exiting.
      await flushTelemetry();
    },
  };
}
