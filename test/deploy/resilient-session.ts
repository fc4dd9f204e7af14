// A test client that streams one session through whatever node it reaches and survives losing it: on a lost
// connection or a server_notice it reconnects (through the load balancer), resumes with session_id + resume_token,
// resends every chunk from the server's next_seq, and keeps the first copy of each result. Raw socket.io-client, so
// the test depends on the wire protocol only.
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerNotice, ServerToClientEvents, TranscriptionResult } from '../../src/protocol/index.js';

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface SessionRun {
  sessionId: string | undefined;
  /** Results by segment number, first copy kept. */
  results: Map<number, TranscriptionResult>;
  notices: ServerNotice[];
  /** Connections made, the first included. */
  connections: number;
  /** Chunk sends refused with SERVER_DRAINING. */
  drainingRefusals: number;
  /** Chunks sent more than once (after a resume). */
  resent: number;
  end: { ok: boolean; text?: string; segments?: number; duration_ms?: number; error?: unknown } | undefined;
  /** Every start_session's next_seq, with how many chunks the server had acknowledged before it. */
  opens: { nextSeq: number; acknowledged: number }[];
}

export interface SessionOptions {
  url: string;
  chunks: Buffer[];
  sampleRate?: number;
  /** Pause between chunks (ms): paces the stream so a kill lands mid-stream. */
  paceMs?: number;
  /** The pause before each chunk, when it changes during the run (overrides paceMs). */
  pace?: () => number;
  /** Gives up after this long. */
  timeoutMs?: number;
  /** Called after chunk `seq` was acknowledged (e.g. to kill a node at a chosen point). */
  onAck?: (seq: number) => void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function runResilientSession(options: SessionOptions): Promise<SessionRun> {
  const { url, chunks, sampleRate = 16000, paceMs = 20, timeoutMs = 120_000 } = options;
  const run: SessionRun = { sessionId: undefined, results: new Map(), notices: [], connections: 0, drainingRefusals: 0, resent: 0, end: undefined, opens: [] };
  let acknowledged = 0;
  const deadline = Date.now() + timeoutMs;
  let resumeToken: string | undefined;
  const sentOnce = new Set<number>();
  const socket: ClientSocket = io(`${url}/transcription`, {
    transports: ['websocket'],
    forceNew: true,
    reconnection: true,
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
    randomizationFactor: 0.2,
    reconnectionAttempts: Infinity,
  });
  socket.on('transcription_result', (result) => {
    if (!run.results.has(result.segment)) run.results.set(result.segment, result);
  });
  socket.on('server_notice', (notice) => run.notices.push(notice));
  socket.on('connect', () => (run.connections += 1));

  /** Emits with an ack; undefined when the connection dropped or the ack did not come in time. */
  async function call(event: keyof ClientToServerEvents, payload: unknown, ackTimeoutMs = 15_000): Promise<any> {
    if (!socket.connected) return undefined;
    try {
      return await (socket.timeout(ackTimeoutMs) as any).emitWithAck(event, payload);
    } catch {
      return undefined;
    }
  }

  async function connected(): Promise<void> {
    while (!socket.connected) {
      if (Date.now() > deadline) throw new Error(`session ${run.sessionId}: no connection before the deadline`);
      await sleep(20);
    }
  }

  /** start_session (a resume when the id is known): the seq to send next, or undefined to try again. */
  async function open(): Promise<number | undefined> {
    await connected();
    const payload = run.sessionId
      ? { session_id: run.sessionId, resume_token: resumeToken, sample_rate: sampleRate }
      : { sample_rate: sampleRate };
    const ack = await call('start_session', payload);
    if (!ack) return undefined;
    if (!ack.ok) {
      // Draining, or the store between primaries: the client library waits and tries again.
      if (ack.error?.code === 'SERVER_DRAINING' || ack.error?.retryable) {
        await sleep(ack.error.retry_after_ms ?? 200);
        return undefined;
      }
      throw new Error(`start_session refused: ${JSON.stringify(ack.error)}`);
    }
    run.sessionId = ack.session_id;
    resumeToken ??= ack.resume_token;
    run.opens.push({ nextSeq: ack.next_seq as number, acknowledged });
    return ack.next_seq as number;
  }

  socket.connect();
  try {
    let seq: number | undefined;
    while (seq === undefined) seq = await open();
    while (seq < chunks.length) {
      if (Date.now() > deadline) throw new Error(`session ${run.sessionId}: not all chunks acknowledged before the deadline (at ${seq})`);
      if (sentOnce.has(seq)) run.resent += 1;
      sentOnce.add(seq);
      const ack = await call('audio_chunk', { session_id: run.sessionId, seq, chunk: chunks[seq] });
      if (ack?.ok) {
        acknowledged = Math.max(acknowledged, seq + 1);
        options.onAck?.(seq);
        seq += 1;
        const pause = options.pace?.() ?? paceMs;
        if (pause > 0) await sleep(pause);
        continue;
      }
      if (ack && !ack.ok && ack.error?.code === 'SERVER_DRAINING') run.drainingRefusals += 1;
      else if (ack && !ack.ok && ack.error?.code !== 'STORE_UNAVAILABLE' && ack.error?.code !== 'UNKNOWN_SESSION') {
        throw new Error(`audio_chunk ${seq} refused: ${JSON.stringify(ack.error)}`);
      }
      // Lost, refused while draining, or the node is gone: resume wherever the next connection lands.
      await sleep(ack?.error?.retry_after_ms ?? 50);
      let next: number | undefined;
      while (next === undefined) next = await open();
      seq = next;
    }
    for (;;) {
      if (Date.now() > deadline) throw new Error(`session ${run.sessionId}: end_session did not succeed before the deadline`);
      const ack = await call('end_session', { session_id: run.sessionId }, 60_000);
      if (ack?.ok) {
        run.end = ack;
        break;
      }
      if (ack && !ack.ok && !ack.error?.retryable) {
        run.end = { ok: false, error: ack.error };
        break;
      }
      await sleep(ack?.error?.retry_after_ms ?? 100);
      while ((await open()) === undefined);
    }
    return run;
  } finally {
    socket.disconnect();
  }
}

/** Asserts-friendly view: the results in segment order, and whether their byte ranges cover [0, totalMs) with no gap. */
export function coverage(run: SessionRun): { segments: TranscriptionResult[]; contiguous: boolean; endMs: number } {
  const segments = [...run.results.values()].sort((a, b) => a.segment - b.segment);
  let at = 0;
  let contiguous = true;
  segments.forEach((result, i) => {
    if (result.segment !== i || Math.abs(result.start_ms - at) > 0.001) contiguous = false;
    at = result.end_ms;
  });
  return { segments, contiguous, endMs: at };
}
