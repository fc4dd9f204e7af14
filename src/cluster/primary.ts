// The cluster primary (WORKERS > 1): owns PORT and hands each connection to a worker (@socket.io/sticky keeps an
// HTTP long-polling session on one worker), restarts workers that die, serves the ops server for the whole node
// (readiness; metrics summed over the workers), and on SIGTERM stops accepting, has every worker drain, and exits.
import cluster, { type Worker } from 'node:cluster';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setupMaster } from '@socket.io/sticky';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { createEngine } from '../engines/index.js';
import { createClusterMetricsSource } from '../metrics/cluster-metrics.js';
import { createOpsServer } from '../ops/ops-server.js';
import { createReadinessProbe } from '../ops/readiness.js';
import { createStore } from '../store/index.js';
import { stopOnSignals } from '../server/signals.js';
import { isClusterMessage, WORKER_DRAIN, WORKER_READY } from './messages.js';

/** A worker that dies this soon after starting is crash-looping: its restarts back off up to RESTART_MAX_DELAY_MS. */
const CRASH_LOOP_MS = 5000;
const RESTART_MAX_DELAY_MS = 10_000;
const WORKER_START_TIMEOUT_MS = 30_000;

class WorkerPool {
  private readonly ready = new Set<number>();
  private readonly startedAt = new Map<number, number>();
  private restartDelayMs = 100;
  private stopping = false;
  private allReady: Promise<void>;
  private onAllReady!: () => void;

  constructor(
    private readonly size: number,
    private readonly logger: Logger,
  ) {
    this.allReady = new Promise((resolve) => (this.onAllReady = resolve));
    cluster.on('message', (worker, message) => {
      if (!isClusterMessage(message, WORKER_READY)) return;
      this.ready.add(worker.id);
      this.logger.info({ worker_id: worker.id, worker_pid: worker.process.pid }, `worker ${worker.id} ready`);
      if (this.ready.size >= this.size) this.onAllReady();
    });
    cluster.on('exit', (worker, code, signal) => this.exited(worker, code, signal));
  }

  get readyCount(): number {
    return this.ready.size;
  }

  start(): Promise<void> {
    for (let i = 0; i < this.size; i++) this.fork();
    return this.allReady;
  }

  /** Asks every worker to drain and resolves once all have exited (killing those still there after `timeoutMs`). */
  async drainAll(timeoutMs: number): Promise<void> {
    this.stopping = true;
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    const exits = workers.map((worker) => new Promise<void>((resolve) => (worker.isDead() ? resolve() : worker.once('exit', () => resolve()))));
    for (const worker of workers) worker.send({ type: WORKER_DRAIN }, () => {});
    const timer = setTimeout(() => {
      for (const worker of workers) if (!worker.isDead()) worker.process.kill('SIGKILL');
    }, timeoutMs);
    await Promise.all(exits);
    clearTimeout(timer);
  }

  private fork(): void {
    const worker = cluster.fork();
    this.startedAt.set(worker.id, Date.now());
  }

  private exited(worker: Worker, code: number | null, signal: string | null): void {
    this.ready.delete(worker.id);
    const lived = Date.now() - (this.startedAt.get(worker.id) ?? 0);
    this.startedAt.delete(worker.id);
    if (this.stopping) {
      this.logger.info({ worker_id: worker.id, worker_pid: worker.process.pid, code, signal }, `worker ${worker.id} stopped`);
      return;
    }
    this.restartDelayMs = lived < CRASH_LOOP_MS ? Math.min(this.restartDelayMs * 2, RESTART_MAX_DELAY_MS) : 100;
    this.logger.error(
      { worker_id: worker.id, worker_pid: worker.process.pid, code, signal, lived_ms: lived, restart_in_ms: this.restartDelayMs },
      `worker ${worker.id} (pid ${worker.process.pid}) died (${signal ?? `exit code ${code}`}); starting a new one; its clients reconnect and resume`,
    );
    setTimeout(() => {
      if (!this.stopping) this.fork();
    }, this.restartDelayMs).unref();
  }
}

export async function runPrimary(config: Config, logger: Logger): Promise<void> {
  // Buffers (a polling request's body) cross IPC as Buffers, not as JSON.
  cluster.setupPrimary({ serialization: 'advanced' });
  const server = createServer();
  // Round-robin, not least-connection: the latter counts a client only once its worker reports it, so a burst (every
  // client of a lost node reconnecting at once) would all land on one worker.
  setupMaster(server, { loadBalancingMethod: 'round-robin' });

  const pool = new WorkerPool(config.workers, logger);
  let startTimer: NodeJS.Timeout | undefined;
  await Promise.race([
    pool.start(),
    new Promise<never>((_, reject) => {
      startTimer = setTimeout(() => reject(new Error(`the ${config.workers} workers did not start within ${WORKER_START_TIMEOUT_MS} ms (see their log lines)`)), WORKER_START_TIMEOUT_MS);
    }),
  ]);
  clearTimeout(startTimer);

  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve((server.address() as AddressInfo).port));
  });
  logger.info(
    { port, workers: config.workers, namespace: '/transcription' },
    `Transcription server listening on port ${port} (${config.workers} workers)`,
  );

  // The primary's own store connection and engine answer readiness and the performance test for the whole node.
  const store = await createStore(config);
  const engine = await createEngine(config, logger);
  let draining = false;
  const readiness = createReadinessProbe(store, engine, {
    engineOutage: config.engineOutageReadiness,
    draining: () => draining,
    extraChecks: {
      workers: async () => {
        if (pool.readyCount === 0) throw new Error(`no worker is serving (of ${config.workers}); they are being restarted`);
      },
    },
  });
  // GET /metrics and the dashboard: every worker's registry summed (prom-client's AggregatorRegistry over IPC).
  const ops = createOpsServer({ config, store, engine, logger, readiness, metrics: createClusterMetricsSource() });
  const opsPort = await ops.listen();
  logger.info({ ops_port: opsPort }, `Ops server listening on port ${opsPort} (/healthz, /readyz, /metrics, /dashboard, /ops/test-sentry-performance)`);

  stopOnSignals(logger, async (signal) => {
    draining = true;
    logger.info({ signal, grace_ms: config.shutdownGraceMs }, 'draining: /readyz answers 503, no new connections, workers finish in-flight segments');
    server.close();
    // The workers' own grace, plus time for telling clients and closing.
    await pool.drainAll(config.shutdownGraceMs + 10_000);
    await ops.close();
    await store.close();
    await engine.close?.();
    logger.info('stopped: sessions stay in the store for another node to resume');
  });
}
