// A small /transcription server for client tests: seq rules and resume by session_id like the real server, with
// each request's answer (accept, refuse, stay silent) and its handshake chosen by the test.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket as ServerSocket } from 'socket.io';
import { NAMESPACE, type ProtocolErrorBody } from '../../src/protocol/index.js';

export type Answer = 'accept' | 'ignore' | { refuse: ProtocolErrorBody };

export interface StartPayload {
  session_id?: string;
  resume_token?: string;
  interim_results?: boolean;
  interim_interval_ms?: number;
}

export interface FakeServerOptions {
  /** The answer to the n-th start_session (1-based); default 'accept'. */
  start?: (payload: StartPayload, n: number, socket: ServerSocket) => Answer;
  /** The answer to an audio_chunk with the expected seq; default 'accept'. */
  chunk?: (seq: number, transmission: number, socket: ServerSocket) => Answer;
  /** The answer to the n-th end_session; default 'accept'. */
  end?: (n: number) => Answer;
  /** The resume_token a new session's ack carries; undefined plays an older server that issues none. */
  resumeToken?: string;
  /** A Socket.IO middleware of the namespace (the handshake check). */
  handshake?: (socket: ServerSocket, next: (error?: Error) => void) => void;
  /** Called after a start_session was accepted. */
  onStarted?: (socket: ServerSocket, payload: StartPayload) => void;
}

export interface FakeServer {
  url: string;
  io: Server;
  state: {
    expected: number;
    accepted: number[];
    transmissions: Map<number, number>;
    starts: { payload: StartPayload; at: number }[];
    connections: { at: number; auth: Record<string, unknown> }[];
  };
  close(): Promise<void>;
}

export async function startFakeServer(options: FakeServerOptions = {}): Promise<FakeServer> {
  const httpServer = createServer();
  const io = new Server(httpServer);
  const state: FakeServer['state'] = { expected: 0, accepted: [], transmissions: new Map(), starts: [], connections: [] };
  let ends = 0;
  const namespace = io.of(NAMESPACE);
  if (options.handshake) namespace.use(options.handshake);
  namespace.on('connection', (socket) => {
    state.connections.push({ at: performance.now(), auth: socket.handshake.auth as Record<string, unknown> });
    socket.on('start_session', (payload: StartPayload, ack: (r: unknown) => void) => {
      state.starts.push({ payload, at: performance.now() });
      const answer = options.start?.(payload, state.starts.length, socket) ?? 'accept';
      if (answer === 'ignore') return;
      if (answer !== 'accept') return ack({ ok: false, error: answer.refuse });
      const resumed = payload.session_id === 'S1';
      ack({
        ok: true,
        session_id: 'S1',
        resumed,
        next_seq: state.expected,
        sample_rate: 16000,
        ...(!resumed && options.resumeToken ? { resume_token: options.resumeToken } : {}),
        ...(payload.interim_results ? { interim_interval_ms: payload.interim_interval_ms ?? 1000 } : {}),
      });
      options.onStarted?.(socket, payload);
    });
    socket.on('audio_chunk', (payload: { seq: number }, ack: (r: unknown) => void) => {
      const transmission = (state.transmissions.get(payload.seq) ?? 0) + 1;
      state.transmissions.set(payload.seq, transmission);
      if (payload.seq < state.expected) return ack({ ok: true, seq: payload.seq, buffered_ms: 0, duplicate: true });
      if (payload.seq > state.expected) {
        return ack({ ok: false, error: { code: 'SEQ_GAP', message: `expected ${state.expected}`, retryable: false, expected_seq: state.expected } });
      }
      const answer = options.chunk?.(payload.seq, transmission, socket) ?? 'accept';
      if (answer === 'ignore') return;
      if (answer !== 'accept') return ack({ ok: false, error: answer.refuse });
      state.accepted.push(payload.seq);
      state.expected += 1;
      ack({ ok: true, seq: payload.seq, buffered_ms: 100 * state.expected });
    });
    socket.on('end_session', (_payload: unknown, ack: (r: unknown) => void) => {
      ends += 1;
      const answer = options.end?.(ends) ?? 'accept';
      if (answer === 'ignore') return;
      if (answer !== 'accept') return ack({ ok: false, error: answer.refuse });
      ack({ ok: true, session_id: 'S1', text: '', segments: 0, duration_ms: state.expected * 100 });
    });
  });
  const port = await new Promise<number>((resolve) => httpServer.listen(0, '127.0.0.1', () => resolve((httpServer.address() as AddressInfo).port)));
  return {
    url: `http://127.0.0.1:${port}`,
    io,
    state,
    close: () => new Promise<void>((resolve) => io.close(() => resolve())),
  };
}

/** A 100 ms chunk of silence. */
export function chunk(): Uint8Array {
  return new Uint8Array(3200);
}
