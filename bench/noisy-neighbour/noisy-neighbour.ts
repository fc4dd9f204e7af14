// Noisy neighbour: a real-time client streams beside a client that floods 6,000-chunk rounds without waiting for acks,
// reconnecting for another round whenever one ends (answered, or its connection closed), for FLOOD_MS. Reports the
// real-time client's ack latency alone and beside the flood (target P99 ≤ 20 ms), the server's CPU in each phase,
// what became of the flood (answers, server_notice, disconnects, chunks the server never read) and checks each flood
// session holds the audio it was acked for. The server (dist/), the flooding client and the real-time client each run
// in their own process, so neither client's work delays the other's timers.
// Run: npm run build && npx tsx bench/noisy-neighbour/noisy-neighbour.ts
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { io, type Socket } from 'socket.io-client';
import { nearestRank } from '../../src/loadtest/stats.js';
import { CpuMeter } from '../shared/cpu-meter.js';
import { stopAll } from '../shared/processes.js';
import { CONFIGURATIONS, startInfrastructure, startServer } from '../shared/servers.js';

const FLOOD_CHUNKS = Number(process.env.FLOOD_CHUNKS ?? 6000);
const CHUNK_MS = 100;
/** How long the real-time stream runs alone first, as the machine's baseline. */
const ALONE_MS = Number(process.env.ALONE_MS ?? 10_000);
/** How long the flooding client keeps flooding, round after round. */
const FLOOD_MS = Number(process.env.FLOOD_MS ?? 10_000);
const CHUNK = Buffer.alloc((16000 * CHUNK_MS) / 1000 * 2, 7);

async function connect(url: string): Promise<Socket> {
  const socket = io(`${url}/transcription`, { transports: ['websocket'], forceNew: true, reconnection: false });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return socket;
}

interface RoundReport {
  answeredMs: number;
  codes: Record<string, number>;
  /** Chunks sent whose ack never came (the connection closed first): never read, or read after the close. */
  unanswered: number;
  notice: string | undefined;
  disconnect: string | undefined;
  ackedMs: number;
  heldMs: number | undefined;
}

/** One flood round: its own connection and session, every chunk emitted at once, acks counted. */
async function floodRound(url: string): Promise<RoundReport> {
  const flooder = await connect(url);
  const opened = await flooder.emitWithAck('start_session', {});
  const codes: Record<string, number> = {};
  let ackedMs = 0;
  let unanswered = 0;
  let notice: string | undefined;
  let disconnect: string | undefined;
  flooder.on('server_notice', (n: { code: string }) => (notice = n.code));
  flooder.on('disconnect', (reason) => (disconnect = reason));
  const start = performance.now();
  // Without seq, each accepted chunk is appended as the next: the session must hold exactly the acked audio.
  await Promise.all(
    Array.from({ length: FLOOD_CHUNKS }, () =>
      flooder
        .timeout(120_000)
        .emitWithAck('audio_chunk', { session_id: opened.session_id, chunk: CHUNK })
        .then(
          (ack: any) => {
            const code = ack.ok ? 'ok' : ack.error.code;
            codes[code] = (codes[code] ?? 0) + 1;
            if (ack.ok && !ack.duplicate) ackedMs += CHUNK_MS;
          },
          () => (unanswered += 1),
        ),
    ),
  );
  const answeredMs = performance.now() - start;
  // Closed by the server: resume the session from a new connection to end it and read what it holds.
  const ender = flooder.connected ? flooder : await connect(url);
  if (ender !== flooder) await ender.timeout(30_000).emitWithAck('start_session', { session_id: opened.session_id, resume_token: opened.resume_token });
  const end = await ender.timeout(120_000).emitWithAck('end_session', { session_id: opened.session_id });
  flooder.disconnect();
  ender.disconnect();
  return { answeredMs, codes, unanswered, notice, disconnect, ackedMs, heldMs: end.ok ? end.duration_ms : undefined };
}

/** The flooding client (a child process): rounds back to back until FLOOD_MS has passed. */
async function flood(url: string): Promise<RoundReport[]> {
  process.stdout.write('flooding\n');
  const until = performance.now() + FLOOD_MS;
  const rounds: RoundReport[] = [];
  do rounds.push(await floodRound(url));
  while (performance.now() < until);
  return rounds;
}

function runFlooder(url: string, onStart: (pid: number) => void): Promise<RoundReport[]> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--flood', url], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  let started = false;
  child.stdout.on('data', (data: Buffer) => {
    out += data.toString();
    if (!started && out.startsWith('flooding\n')) {
      started = true;
      onStart(child.pid!);
    }
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out.slice('flooding\n'.length)) as RoundReport[]) : reject(new Error(`the flooding client failed (exit ${code})`)),
    );
  });
}

async function main(): Promise<void> {
  // The server's default limits, which the benchmark's other scenarios turn off (bench/shared/servers.ts).
  process.env.BENCH_SERVER_AUDIO_RATE_LIMIT ??= '10';
  const infra = await startInfrastructure(false);
  const configuration = CONFIGURATIONS.find((c) => c.id === 'memory-no-sentry')!;
  // NOISY_PROFILE_DIR=<dir> writes the server's CPU profile there (summarised with bench/shared/cpu-profile.ts).
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
    let meter = new CpuMeter({ server: server.pid! });
    await new Promise((r) => setTimeout(r, ALONE_MS));
    const alone = meter.read();
    const rounds = await runFlooder(server.url, (pid) => {
      phase = 'flood';
      meter = new CpuMeter({ server: server.pid!, flooder: pid });
    });
    const flooded = meter.read();
    running = false;
    await realtimeDone;
    const rtEnd = await realtime.timeout(120_000).emitWithAck('end_session', { session_id: rt.session_id });
    realtime.disconnect();

    const line = (latencies: number[]) => {
      latencies.sort((a, b) => a - b);
      const p = (q: number) => nearestRank(latencies, q)!.toFixed(2);
      return `${latencies.length} chunks: P50 ${p(50)} · P95 ${p(95)} · P99 ${p(99)} · max ${latencies.at(-1)!.toFixed(2)}`;
    };
    const cores = (c: number | undefined) => (c ?? 0).toFixed(2);
    const sum = (f: (r: RoundReport) => number) => rounds.reduce((n, r) => n + f(r), 0);
    const codes: Record<string, number> = {};
    for (const r of rounds) for (const [code, n] of Object.entries(r.codes)) codes[code] = (codes[code] ?? 0) + n;
    const count = (values: (string | undefined)[]) =>
      Object.entries(values.reduce<Record<string, number>>((m, v) => ((m[v ?? 'none'] = (m[v ?? 'none'] ?? 0) + 1), m), {}))
        .map(([v, n]) => `${v} ×${n}`)
        .join(', ');
    console.log(`Noisy neighbour: ${rounds.length} rounds of ${FLOOD_CHUNKS} chunks flooded by another process without waiting for acks, over ${(flooded.wallSeconds).toFixed(1)} s`);
    console.log(`  real-time ack latency (ms), alone:        ${line(phases.alone)}`);
    console.log(`  real-time ack latency (ms), beside flood: ${line(phases.flood)}   (target P99 ≤ 20)`);
    console.log(`  real-time stream: ${rtEnd.ok ? rtEnd.duration_ms : 'not ended'} ms held (every chunk acked in order)`);
    console.log(`  server cores busy: alone ${cores(alone.cores.server)}, beside flood ${cores(flooded.cores.server)} (flooder ${cores(flooded.cores.flooder)}); other processes ${cores(alone.otherCores)} / ${cores(flooded.otherCores)}`);
    console.log(`  flood: ${sum(() => FLOOD_CHUNKS)} sent; answers ${Object.entries(codes).map(([code, n]) => `${code} ${n}`).join(', ')}; unanswered ${sum((r) => r.unanswered)}`);
    console.log(`  flood rounds: answered/closed after ${rounds.map((r) => (r.answeredMs / 1000).toFixed(2)).join(', ')} s; notices: ${count(rounds.map((r) => r.notice))}; disconnects: ${count(rounds.map((r) => r.disconnect))}`);
    const held = rounds.map((r) => `${r.heldMs}/${r.ackedMs}`);
    const exact = rounds.every((r) => r.heldMs === r.ackedMs);
    console.log(`  flood sessions, ms held/acked: ${held.join(', ')} → ${exact ? 'exact' : 'held ≠ acked where the connection closed with acks unsent'}`);
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
