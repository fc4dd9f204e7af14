// One simulated user: a TranscriptionClient that opens a session, replays the speech sample at the chosen pace,
// ends the session, and reports every ack, result, error and disconnect it sees to the run's recorder.
import {
  TranscriptionClient,
  TranscriptionClientError,
  type ClientStats,
  type EndSessionAccepted,
  type TranscriptionResult,
} from '../client/index.js';
import type { LoadTestOptions } from './options.js';
import type { RunRecorder } from './recorder.js';
import type { ChunkedLoop } from './speech-sample.js';

export interface SessionPlan {
  /** 0-based number of this simulated user in the run. */
  index: number;
  /** performance.now() at which it connects. */
  startAt: number;
  /** No chunk is due at or after this moment (the --duration rule); Infinity otherwise. */
  stopAt: number;
  /** Audio bytes it sends in all (the --loops and --audio rules); Infinity otherwise. */
  totalBytes: number;
}

/** What one session did, for callers that want more than the run's totals (tests, the benchmark). */
export interface SessionOutcome {
  index: number;
  sessionId: string | undefined;
  /** The client's own counters and ack latency percentiles. */
  stats: ClientStats;
  ended: EndSessionAccepted | undefined;
  results: TranscriptionResult[];
  failure: Error | undefined;
}

export interface SessionContext {
  options: LoadTestOptions;
  audio: ChunkedLoop;
  recorder: RunRecorder;
  plan: SessionPlan;
  /** True once the run winds down early (Ctrl-C): stop sending and end the session. */
  stopping(): boolean;
  /** Resolves when the run winds down early, to cut a ramp-up wait short. */
  stopped: Promise<void>;
  /** Registers the client so a run past its time limit can close it; returns the unregister function. */
  track(client: TranscriptionClient): () => void;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Codes for failures that are not the client's own errors (a bug in the load test itself). */
const UNEXPECTED = 'LOAD_TEST_FAILURE';

function codeOf(error: unknown): string {
  return error instanceof TranscriptionClientError ? error.code : UNEXPECTED;
}

/** Counts chunks awaiting their ack, and lets the sender wait until fewer than `n` are. */
class InFlight {
  count = 0;
  private waiter: (() => void) | undefined;

  add(): void {
    this.count += 1;
  }

  settle(): void {
    this.count -= 1;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  async below(n: number): Promise<void> {
    while (this.count >= n) await new Promise<void>((resolve) => (this.waiter = resolve));
  }
}

export async function runSession(context: SessionContext): Promise<SessionOutcome> {
  const { options, audio, recorder, plan } = context;
  const client = new TranscriptionClient({
    url: options.url,
    token: options.token,
    sentryTrace: options.sentryTrace,
    baggage: options.baggage,
    ackTimeoutMs: options.ackTimeoutMs,
    // Realtime: the pacer, not the client's window, decides when audio leaves, so the window must never be
    // what holds a chunk back (that would hide waiting from the ack latency); at max pace it is the window.
    maxInFlight: options.pace === 'max' ? options.window : Math.max(32, Math.ceil(options.ackTimeoutMs / options.chunkMs) + 1),
    reconnect: { attempts: 5 },
    socketOptions: { transports: options.transport === 'websocket' ? ['websocket'] : ['polling', 'websocket'] },
  });
  const untrack = context.track(client);

  /** performance.now() of each chunk's ack, by seq (a new session numbers its chunks from 0). */
  const ackedAt = new Map<number, number>();
  /** Acks below this seq are no longer needed: every segment that could end in them has arrived. */
  let forgottenBelow = 0;
  let bytesQueued = 0;
  let endCalledAt: number | undefined;
  /** Results that arrived before their last chunk's ack was handled, by that chunk's seq. */
  const awaitingAck = new Map<number, { at: number; serverMs: number }[]>();
  const results: TranscriptionResult[] = [];
  let connected = false;
  /** performance.now() at which each chunk (by its index in the looped sample) was first handed to the client. */
  const sentAt = new Map<number, number>();
  let sentForgottenBelow = 0;
  /** Segments below this have had their first text (results of a segment come in order, interims first). */
  let firstTextBelow = 0;

  /** The first result of a segment, interim or final: how long after its first chunk left did text appear. */
  const firstText = (result: TranscriptionResult, now: number) => {
    if (result.replayed || result.segment < firstTextBelow) return;
    firstTextBelow = result.segment + 1;
    const first = audio.chunkHolding(audio.bytesOf(result.start_ms));
    // Later segments start at or after this one: earlier send times are no longer needed.
    for (; sentForgottenBelow < first; sentForgottenBelow++) sentAt.delete(sentForgottenBelow);
    const at = sentAt.get(first);
    if (at !== undefined) recorder.firstText(now - at, now);
  };

  client.on('error', (error) => recorder.error(error.code, error));
  client.on('state', (state) => {
    if (state === 'connected' && !connected) {
      connected = true;
      recorder.sessionsConnected += 1;
    } else if (connected && (state === 'reconnecting' || state === 'disconnected')) {
      connected = false;
      recorder.sessionsConnected -= 1;
      recorder.disconnects += 1;
    }
  });
  client.on('ack', (ack) => {
    const now = performance.now();
    ackedAt.set(ack.seq, now);
    recorder.ack(ack.latencyMs, now);
    const early = awaitingAck.get(ack.seq);
    if (!early) return;
    awaitingAck.delete(ack.seq);
    // Ack and result came in the same read from the socket: the result was right behind the ack.
    for (const result of early) recorder.result(Math.max(0, result.at - now), result.serverMs, result.at);
  });
  client.on('interim', (result) => {
    recorder.interims += 1;
    firstText(result, performance.now());
  });
  client.on('result', (result) => {
    const now = performance.now();
    results.push(result);
    firstText(result, now);
    if (result.replayed) return recorder.result(undefined, result.latency_ms, now);
    // Timed from the moment the server had the segment's last chunk (its ack), or from end_session if that cut it.
    const endByte = audio.bytesOf(result.end_ms);
    const last = audio.chunkEnding(endByte);
    // Results come in segment order: earlier acks can no longer be a reference.
    for (; forgottenBelow < last; forgottenBelow++) ackedAt.delete(forgottenBelow);
    const ackAt = ackedAt.get(last);
    const cutByEnd = endCalledAt !== undefined && endByte >= bytesQueued;
    if (cutByEnd && (ackAt === undefined || endCalledAt! > ackAt)) recorder.result(now - endCalledAt!, result.latency_ms, now);
    else if (ackAt !== undefined) recorder.result(now - ackAt, result.latency_ms, now);
    else {
      // socket.io hands both packets of one read over before the ack's promise continues: wait for the ack.
      const list = awaitingAck.get(last) ?? [];
      list.push({ at: now, serverMs: result.latency_ms });
      awaitingAck.set(last, list);
    }
  });

  const inFlight = new InFlight();
  let ended: EndSessionAccepted | undefined;
  let failure: Error | undefined;
  const fail = (error: unknown) => {
    failure ??= error as Error;
    recorder.error(codeOf(error), error as object);
  };

  try {
    const wait = plan.startAt - performance.now();
    if (wait > 0) await Promise.race([sleep(wait), context.stopped]);
    if (context.stopping()) return outcome();

    try {
      const encoded = audio.sample.encoded;
      await client.start({
        ...(encoded ? { format: encoded.format, sampleRate: encoded.sampleRate } : { sampleRate: audio.sample.sampleRate }),
        language: options.language,
        interimResults: options.interim,
        interimIntervalMs: options.interimIntervalMs,
      });
    } catch (error) {
      fail(error);
      return outcome();
    }
    recorder.sessionsStarted += 1;

    const streamStart = performance.now();
    for (let index = 0; !context.stopping(); index++) {
      if (options.pace === 'realtime') {
        const due = streamStart + index * options.chunkMs;
        if (due >= plan.stopAt) break;
        const delay = due - performance.now();
        if (delay > 0) await sleep(delay);
        if (context.stopping()) break;
        recorder.sendLag.add(Math.max(0, performance.now() - due));
      } else {
        if (performance.now() >= plan.stopAt) break;
        await inFlight.below(options.window);
      }
      if (client.session.phase === 'failed') break;
      const chunk = audio.chunk(index, plan.totalBytes);
      if (!chunk) break;
      send(chunk, index);
    }

    await inFlight.below(1);
    if (client.session.phase !== 'failed') {
      endCalledAt = performance.now();
      try {
        ended = await client.end();
      } catch (error) {
        fail(error);
      }
    }
    return outcome();
  } finally {
    // Read before close(), which marks any unfinished session as failed.
    const failed = failure !== undefined || client.session.phase === 'failed';
    if (connected) recorder.sessionsConnected -= 1;
    connected = false;
    client.close();
    untrack();
    for (const list of awaitingAck.values()) for (const result of list) recorder.result(undefined, result.serverMs, result.at);
    recorder.sessionsFinished += 1;
    const stats = client.stats();
    recorder.chunksResent += stats.resent;
    recorder.chunksDuplicate += stats.duplicates;
    recorder.reconnects += stats.reconnects;
    if (ended) recorder.sessionsCompleted += 1;
    else if (failed) recorder.sessionsFailed += 1;
  }

  function send(chunk: Uint8Array, index: number): void {
    const now = performance.now();
    sentAt.set(index, now);
    recorder.firstSendAt ??= now;
    recorder.chunksSent += 1;
    recorder.audioBytesSent += chunk.length;
    bytesQueued += chunk.length;
    inFlight.add();
    client.sendChunk(chunk).then(
      () => {
        recorder.chunksAcked += 1;
        recorder.audioBytesAcked += chunk.length;
        inFlight.settle();
      },
      (error: unknown) => {
        recorder.chunksFailed += 1;
        // A session-ending error rejects every pending chunk with the same object: it counts once.
        recorder.error(codeOf(error), error as object);
        failure ??= error as Error;
        inFlight.settle();
      },
    );
  }

  function outcome(): SessionOutcome {
    return { index: plan.index, sessionId: client.session.id, stats: client.stats(), ended, results, failure };
  }
}
