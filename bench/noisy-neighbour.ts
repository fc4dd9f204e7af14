// Noisy neighbour: a real-time client streams beside one that floods 6,000 chunks without waiting for acks. Reports
// the real-time client's ack latency (target P99 ≤ 20 ms) and checks the flooding session holds exactly the audio it
// was acked for. The server (dist/), the flooding client and the real-time client each run in their own process, so
// neither client's work delays the other's timers. Run: npm run build && npx tsx bench/noisy-neighbour.ts
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { io, type Socket } from 'socket.io-client';
import { nearestRank } from '../src/loadtest/stats.js';
import { stopAll } from './processes.js';
import { CONFIGURATIONS, startInfrastructure, startServer } from './servers.js';

const FLOOD_CHUNKS = Number(process.env.FLOOD_CHUNKS ?? 6000);
const CHUNK_MS = 100;
/** How long the real-time stream runs alone first, as the machine's baseline. */
const ALONE_MS = Number(process.env.ALONE_MS ?? 10_000);
const CHUNK = Buffer.alloc((16000 * CHUNK_MS) / 1000 * 2, 7);

async function connect(url: string): Promise<Socket> {
  const socket = io(`${url}/transcription`, { transports: ['websocket'], forceNew: true, reconnection: false });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return socket;
}

interface FloodReport {
  answeredMs: number;
  codes: Record<string, number>;
  ackedMs: number;
  heldMs: number | undefined;
}

/** The flooding client (a child process): its own session, every chunk emitted at once, acks counted. */
async function flood(url: string): Promise<FloodReport> {
  const flooder = await connect(url);
  const opened = await flooder.emitWithAck('start_session', {});
  const codes: Record<string, number> = {};
  let ackedMs = 0;
  // Tells the parent the flood starts now (this process's start-up is not part of the measurement).
  process.stdout.write('flooding\n');
  const start = performance.now();
  // Without seq, each accepted chunk is appended as the next: the session must hold exactly the acked audio.
  await Promise.all(
    Array.from({ length: FLOOD_CHUNKS }, () =>
      flooder
        .timeout(120_000)
        .emitWithAck('audio_chunk', { session_id: opened.session_id, chunk: CHUNK })
        .then((ack: any) => {
          const code = ack.ok ? 'ok' : ack.error.code;
          codes[code] = (codes[code] ?? 0) + 1;
          if (ack.ok && !ack.duplicate) ackedMs += CHUNK_MS;
        }),
    ),
  );
  const answeredMs = performance.now() - start;
  const end = await flooder.timeout(120_000).emitWithAck('end_session', { session_id: opened.session_id });
  flooder.disconnect();
  return { answeredMs, codes, ackedMs, heldMs: end.ok ? end.duration_ms : undefined };
}

function runFlooder(url: string, onStart: () => void): Promise<FloodReport> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--flood', url], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (data: Buffer) => {
    out += data.toString();
    if (out.startsWith('flooding\n')) onStart();
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out.slice('flooding\n'.length)) as FloodReport) : reject(new Error(`the flooding client failed (exit ${code})`)),
    );
  });
}

async function main(): Promise<void> {
  // The server's default limits, which the benchmark's other scenarios turn off (bench/servers.ts).
  process.env.BENCH_SERVER_AUDIO_RATE_LIMIT ??= '10';
  const infra = await startInfrastructure(false);
  const configuration = CONFIGURATIONS.find((c) => c.id === 'memory-no-sentry')!;
  // NOISY_PROFILE_DIR=<dir> writes the server's CPU profile there (summarised with bench/cpu-profile.ts).
  const server = await startServer(configuration, infra, { cpuProfileDir: process.env.NOISY_PROFILE_DIR });
  try {
    const realtime = await connect(server.url);
    const rt = await realtime.emitWithAck('start_session', {});

    // The real-time client: one 100 ms chunk every 100 ms, each ack timed into the current phase's list.
    const phases: Record<'alone' | 'flood', number[]> = { alone: [], flood: [] };
    let phase: keyof typeof phases = 'alone';
    let running = true;
    const realtimeDone = (async () => {
      let seq = 0;
      const start = performance.now();
      while (running) {
        const sent = performance.now();
        const current = phases[phase];
        const ack = await realtime.timeout(10_000).emitWithAck('audio_chunk', { session_id: rt.session_id, seq, chunk: CHUNK });
        current.push(performance.now() - sent);
        if (!ack.ok) throw new Error(`real-time chunk refused: ${JSON.stringify(ack)}`);
        seq++;
        const next = start + seq * CHUNK_MS;
        await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
      }
    })();

    // First the stream alone (what this machine gives it), then beside the flood.
    await new Promise((r) => setTimeout(r, ALONE_MS));
    const report = await runFlooder(server.url, () => (phase = 'flood'));
    running = false;
    await realtimeDone;
    await realtime.timeout(120_000).emitWithAck('end_session', { session_id: rt.session_id });
    realtime.disconnect();

    const line = (latencies: number[]) => {
      latencies.sort((a, b) => a - b);
      const p = (q: number) => nearestRank(latencies, q)!.toFixed(2);
      return `${latencies.length} chunks: P50 ${p(50)} · P95 ${p(95)} · P99 ${p(99)} · max ${latencies.at(-1)!.toFixed(2)}`;
    };
    console.log(`Noisy neighbour: ${FLOOD_CHUNKS} chunks flooded by another process without waiting for acks (all answered in ${(report.answeredMs / 1000).toFixed(2)} s)`);
    console.log(`  real-time ack latency (ms), alone:       ${line(phases.alone)}`);
    console.log(`  real-time ack latency (ms), beside flood: ${line(phases.flood)}   (target P99 ≤ 20)`);
    console.log(`  flood answers: ${Object.entries(report.codes).map(([code, n]) => `${code} ${n}`).join(', ')}`);
    console.log(`  flood session: ${report.heldMs} ms held, ${report.ackedMs} ms acked → ${report.heldMs === report.ackedMs ? 'exact' : 'MISMATCH'}`);
  } finally {
    await server.child.stop(2000);
    await stopAll();
  }
}

if (process.argv[2] === '--flood') {
  flood(process.argv[3]!).then(
    (report) => {
      process.stdout.write(JSON.stringify(report));
      process.exit(0);
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
} else {
  main().catch(async (error: unknown) => {
    console.error(error);
    await stopAll();
    process.exit(1);
  });
}
