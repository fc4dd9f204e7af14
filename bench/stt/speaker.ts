// One simulated speaker of the speech-to-text latency benchmark: a Socket.IO connection that opens a session,
// streams a recording in real time from its own offset, ends the session, and records when each chunk left and each
// result arrived. It speaks the protocol directly rather than through TranscriptionClient: the benchmark must ask
// for interim results and must count an OVERLOADED refusal instead of retrying it, and the client library does neither.
// With `resume` it survives a lost connection as a resume-aware client does (docs/protocol.md, the client library).
import { io, type Socket } from 'socket.io-client';
import { backoffDelay, type BackoffOptions } from '../../src/client/backoff.js';
import type { SpeechSample } from '../../src/loadtest/index.js';
import {
  msToBytes,
  NAMESPACE,
  type Ack,
  type ClientToServerEvents,
  type EndSessionAccepted,
  type ServerToClientEvents,
  type StartSessionAccepted,
  type StartSessionRequest,
  type TranscriptionResult,
} from '../../src/protocol/index.js';
import { forEachFrame } from '../../src/audio/vad.js';

/** The recording as every speaker reads it: two passes back to back, so a chunk from any offset is one view. */
export class SpeakerAudio {
  readonly chunkBytes: number;
  readonly passBytes: number;
  private readonly doubled: Buffer;

  constructor(
    readonly recording: SpeechSample,
    readonly chunkMs: number,
  ) {
    this.chunkBytes = msToBytes(chunkMs, recording.sampleRate);
    this.passBytes = recording.pcm.length;
    if (this.chunkBytes > this.passBytes) throw new Error(`${recording.file} is shorter than one ${chunkMs} ms chunk`);
    this.doubled = Buffer.concat([recording.pcm, recording.pcm]);
  }

  /** Bytes [from, to) of the looped recording as heard by a speaker who starts at `offset`. */
  slice(offset: number, from: number, to: number): Buffer {
    const parts: Buffer[] = [];
    for (let at = from; at < to; ) {
      const start = (offset + at) % this.passBytes;
      const length = Math.min(to - at, this.doubled.length - start);
      parts.push(this.doubled.subarray(start, start + length));
      at += length;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  bytesOf(ms: number): number {
    return msToBytes(ms, this.recording.sampleRate);
  }

  msOf(bytes: number): number {
    return (bytes / 2 / this.recording.sampleRate) * 1000;
  }
}

export interface SpeakerPlan {
  url: string;
  index: number;
  /** performance.now() at which it connects. */
  startAt: number;
  /** Where in the recording it starts (even: whole samples), so speakers do not pause in lockstep. */
  offsetBytes: number;
  /** Audio it sends in all. */
  audioMs: number;
  interim: boolean;
  interimIntervalMs?: number;
  /** OVERLOADED answers to start_session it retries (after retry_after_ms) before giving up. */
  overloadRetries: number;
  /** The server's speech threshold, to tell whether audio no final covers held speech. */
  speechDbfs: number;
  /** How late each chunk left against its schedule (ms), shared by every speaker of a run. */
  sendLag: number[];
  /**
   * Survive a lost connection: reconnect with this backoff, start_session with session_id and resume_token, send again
   * from the ack's next_seq what was not acknowledged. Without it a lost connection ends the speaker (DISCONNECTED).
   */
  resume?: BackoffOptions;
}

export interface FinalTiming {
  segment: number;
  startMs: number;
  endMs: number;
  text: string;
  /** The server's latency_ms: the segment's cut to the emit. */
  serverMs: number;
  /**
   * The segment's last chunk sent (or end_session, for what it cut) to the result's arrival; after a resume, counted
   * from no earlier than the resumed ack (the server could not have had the audio before).
   */
  clientMs: number;
  /** performance.now() at its arrival, to place it before or after a restart. */
  arrivedAt: number;
  byEnd: boolean;
}

export interface SpeakerOutcome {
  index: number;
  /** OVERLOADED answers at start_session. */
  refusals: number;
  /** Their retry_after_ms, as the server handed them out. */
  retryAfterMs: number[];
  /** From its first start_session to the one accepted (ms), when it started. */
  startWaitMs: number | undefined;
  started: boolean;
  /** end_session answered. */
  completed: boolean;
  /** Why it did not start or complete: an error code. */
  failure: string | undefined;
  ackedBytes: number;
  ended: EndSessionAccepted | undefined;
  finals: FinalTiming[];
  interims: number;
  /** Per segment: its first result (interim or final) minus the moment its first 2 s of audio had been sent. */
  firstTextMs: number[];
  /** transcription_error events and refused chunks, by code. */
  errors: Record<string, number>;
  /** Accepted audio no final covers although it holds speech (ms); and accepted audio end_session did not count. */
  lostSpeechMs: number;
  uncountedMs: number;
  /** Each resume after a lost connection: ms from the loss to the resumed ack. */
  resumeMs: number[];
  /** Chunks sent after a resume because the server's next_seq said it did not have them (unacknowledged, or held back while down). */
  resent: number;
}

const ACK_TIMEOUT_MS = 10_000;
/** Loud audio no final covers counts as lost speech from this much on: about a syllable. */
const MIN_LOST_SPEECH_MS = 200;
/** socket.io-client's own connection timeout (its default), also for a handshake that ends without a connect_error. */
const CONNECT_TIMEOUT_MS = 20_000;
const END_TIMEOUT_MS = 120_000;
/** A resume-aware speaker has at most this many chunks awaiting their ack, as the client library (its default window). */
const RESUME_WINDOW = 32;
/** A resume-aware speaker gives up once its connection has been lost this long. */
const RESUME_GIVE_UP_MS = 60_000;
/** Interim latency is judged once a segment has this much audio: a shorter one counts from its end. */
const FIRST_TEXT_AFTER_MS = 2000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

type Connection = Socket<ServerToClientEvents, ClientToServerEvents>;

/** Emits with an ack, or undefined after `timeoutMs` or when the connection is lost first (no answer will come). */
function request<T>(socket: Connection, timeoutMs: number, emit: (socket: Connection, ack: (response: Ack<T>) => void) => void): Promise<Ack<T> | undefined> {
  return new Promise((resolve) => {
    const settle = (response: Ack<T> | undefined) => {
      clearTimeout(timer);
      socket.off('disconnect', lost);
      resolve(response);
    };
    const lost = () => settle(undefined);
    const timer = setTimeout(lost, timeoutMs);
    socket.once('disconnect', lost);
    emit(socket, settle);
  });
}

export async function runSpeaker(plan: SpeakerPlan, audio: SpeakerAudio): Promise<SpeakerOutcome> {
  const outcome: SpeakerOutcome = {
    index: plan.index,
    refusals: 0,
    retryAfterMs: [],
    startWaitMs: undefined,
    started: false,
    completed: false,
    failure: undefined,
    ackedBytes: 0,
    ended: undefined,
    finals: [],
    interims: 0,
    firstTextMs: [],
    errors: {},
    lostSpeechMs: 0,
    uncountedMs: 0,
    resumeMs: [],
    resent: 0,
  };
  const count = (code: string) => (outcome.errors[code] = (outcome.errors[code] ?? 0) + 1);
  const totalBytes = Math.floor(audio.bytesOf(plan.audioMs) / audio.chunkBytes) * audio.chunkBytes;
  const chunks = totalBytes / audio.chunkBytes;
  /** performance.now() each chunk last left, by seq. */
  const sentAt = new Float64Array(chunks);
  const acked = new Uint8Array(chunks);
  /** Chunks whose time has come: sent, or waiting for a resume to be sent. */
  let scheduled = 0;
  let endCalledAt: number | undefined;
  const finals: { result: TranscriptionResult; at: number }[] = [];
  const finalSegments = new Set<number>();
  const firstSeen = new Map<number, { at: number; startMs: number }>();
  /** performance.now() of each resumed ack. */
  const resumedAt: number[] = [];

  /** The connection the session lives on, once start_session was accepted on it. */
  let live: Connection | undefined;
  let sessionId = '';
  let resumeToken: string | undefined;
  let closing = false;
  let resuming: Promise<void> | undefined;
  const acks: Promise<void>[] = [];
  /** Chunks due and not sent yet, in order; a resume-aware speaker keeps at most RESUME_WINDOW awaiting their ack. */
  let waiting: number[] = [];
  let inFlight = 0;

  const wait = plan.startAt - performance.now();
  if (wait > 0) await sleep(wait);

  /** A new connection with the result listeners, or undefined when it could not connect (counted unless resuming). */
  function connect(countFailure = true): Promise<Connection | undefined> {
    const socket: Connection = io(`${plan.url}${NAMESPACE}`, { transports: ['websocket'], reconnection: false, forceNew: true });
    socket.on('disconnect', () => {
      if (closing || socket !== live) return;
      live = undefined;
      if (!plan.resume) outcome.failure ??= 'DISCONNECTED';
      else resuming ??= resume(performance.now()).finally(() => (resuming = undefined));
    });
    socket.on('transcription_result', (result) => {
      const at = performance.now();
      if (!firstSeen.has(result.segment)) firstSeen.set(result.segment, { at, startMs: result.start_ms });
      if (!result.is_final) outcome.interims += 1;
      // A resume replays every result so far: the first copy of each segment is the one that counts.
      else if (!finalSegments.has(result.segment)) {
        finalSegments.add(result.segment);
        finals.push({ result, at });
      }
    });
    socket.on('transcription_error', (error) => count(`transcription_error ${error.code}`));
    return new Promise((resolve) => {
      let settled = false;
      const failed = (why: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (countFailure) count(`connect_error ${why}`);
        socket.disconnect();
        resolve(undefined);
      };
      // A server killed during the handshake may close the transport with neither 'connect' nor 'connect_error'.
      const timer = setTimeout(() => failed('timeout'), CONNECT_TIMEOUT_MS);
      socket.once('connect', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(socket);
      });
      socket.once('connect_error', (error) => failed((error as { data?: { code?: string } }).data?.code ?? error.message));
      socket.once('disconnect', () => failed('closed'));
    });
  }

  function pump(): void {
    while (live && waiting.length > 0 && (!plan.resume || inFlight < RESUME_WINDOW)) send(waiting.shift()!);
  }

  function send(seq: number): void {
    const socket = live!;
    sentAt[seq] = performance.now();
    const chunk = audio.slice(plan.offsetBytes, seq * audio.chunkBytes, (seq + 1) * audio.chunkBytes);
    inFlight += 1;
    acks.push(
      request(socket, ACK_TIMEOUT_MS, (s, ack) => s.emit('audio_chunk', { session_id: sessionId, seq, chunk }, ack)).then((response) => {
        inFlight -= 1;
        pump();
        if (response?.ok) acked[seq] = 1;
        // Lost with the connection: the resume sends it again if the server's next_seq says so.
        else if (!response && plan.resume && !socket.connected) return;
        else {
          // A refused chunk leaves a gap the server will not fill: this speaker stops.
          outcome.failure ??= response ? response.error.code : 'ACK_TIMEOUT';
          count(response ? `chunk ${response.error.code}` : 'chunk ACK_TIMEOUT');
        }
      }),
    );
  }

  /** Reconnects with backoff and resumes the session; sends again what the server does not have. */
  async function resume(lostAt: number): Promise<void> {
    for (let attempt = 1; !closing && outcome.failure === undefined; attempt++) {
      if (performance.now() - lostAt > RESUME_GIVE_UP_MS) {
        outcome.failure = 'RESUME_GAVE_UP';
        return;
      }
      await sleep(backoffDelay(attempt, plan.resume!));
      const socket = await connect(false);
      if (!socket) continue;
      if (closing) return void socket.disconnect();
      const payload: StartSessionRequest = { sample_rate: audio.recording.sampleRate, session_id: sessionId };
      if (resumeToken !== undefined) payload.resume_token = resumeToken;
      const response = await request<StartSessionAccepted>(socket, ACK_TIMEOUT_MS, (s, ack) => s.emit('start_session', payload, ack));
      if (!response?.ok) {
        socket.disconnect();
        if (!response || response.error.retryable) continue;
        outcome.failure = `resume ${response.error.code}`;
        return;
      }
      live = socket;
      const now = performance.now();
      outcome.resumeMs.push(now - lostAt);
      resumedAt.push(now);
      for (let seq = 0; seq < response.next_seq; seq++) acked[seq] = 1;
      waiting = [];
      for (let seq = response.next_seq; seq < scheduled; seq++) waiting.push(seq);
      outcome.resent += waiting.length;
      pump();
      return;
    }
  }

  try {
    const payload: StartSessionRequest = { sample_rate: audio.recording.sampleRate };
    if (plan.interim) {
      payload.interim_results = true;
      if (plan.interimIntervalMs) payload.interim_interval_ms = plan.interimIntervalMs;
    }
    let first: Connection | undefined;
    let accepted: StartSessionAccepted | undefined;
    // A resume-aware speaker whose connection (or start_session's answer) is lost before the session starts tries
    // again with backoff, as the client library does; otherwise that ends it.
    for (let attempt = 0; !accepted; attempt++) {
      if (attempt > 0) {
        if (!plan.resume || attempt >= 10) return outcome;
        await sleep(backoffDelay(attempt, plan.resume));
      }
      first = await connect();
      if (!first) {
        outcome.failure = 'CONNECT_ERROR';
        continue;
      }
      outcome.failure = undefined;
      for (;;) {
        const response = await request<StartSessionAccepted>(first, ACK_TIMEOUT_MS, (s, ack) => s.emit('start_session', payload, ack));
        if (!response) {
          outcome.failure = first.connected ? 'START_TIMEOUT' : 'DISCONNECTED';
          break;
        }
        if (response.ok) {
          accepted = response;
          break;
        }
        if (response.error.code !== 'OVERLOADED') {
          outcome.failure = response.error.code;
          return outcome;
        }
        outcome.refusals += 1;
        if (response.error.retry_after_ms !== undefined) outcome.retryAfterMs.push(response.error.retry_after_ms);
        if (outcome.refusals > plan.overloadRetries) {
          outcome.failure = 'OVERLOADED';
          return outcome;
        }
        await sleep(response.error.retry_after_ms ?? 1000);
      }
      // An unanswered start_session on a live connection is not retried: the server may be holding it.
      if (!accepted && outcome.failure === 'START_TIMEOUT') return outcome;
    }
    outcome.started = true;
    outcome.startWaitMs = performance.now() - plan.startAt;
    outcome.failure = undefined;
    sessionId = accepted.session_id;
    resumeToken = accepted.resume_token;
    live = first;

    // Real time: chunk i is due i chunk-lengths after the first; a late timer shows as send lag.
    const streamStart = performance.now();
    for (let seq = 0; seq < chunks && outcome.failure === undefined; seq++) {
      const due = streamStart + seq * audio.chunkMs;
      const delay = due - performance.now();
      if (delay > 0) await sleep(delay);
      plan.sendLag.push(Math.max(0, performance.now() - due));
      scheduled = seq + 1;
      // While the connection is down (or the window full) the chunk waits: pump() or the resume sends it.
      waiting.push(seq);
      pump();
    }
    await Promise.all(acks);
    // Resent chunks join `acks` as the resume sends them; the poll ends once every scheduled chunk is acknowledged.
    // Bounded, so a speaker the bench failed to bring back shows as STUCK instead of holding the step forever.
    const deadline = performance.now() + END_TIMEOUT_MS;
    const stuck = () => performance.now() > deadline && (outcome.failure ??= 'STUCK') !== undefined;
    while (plan.resume && outcome.failure === undefined && acked.subarray(0, scheduled).includes(0) && !stuck()) await sleep(50);
    if (outcome.failure !== undefined) return outcome;

    endCalledAt = performance.now();
    for (;;) {
      const socket = live;
      if (stuck()) return outcome;
      if (!socket) {
        await (resuming ?? sleep(50));
        if (outcome.failure !== undefined) return outcome;
        continue;
      }
      const ended = await request<EndSessionAccepted>(socket, END_TIMEOUT_MS, (s, ack) => s.emit('end_session', { session_id: sessionId }, ack));
      // Lost with the connection: asked again once resumed.
      if (!ended && plan.resume && !socket.connected) continue;
      if (!ended?.ok) {
        outcome.failure = ended ? ended.error.code : 'END_TIMEOUT';
        return outcome;
      }
      outcome.ended = ended;
      outcome.completed = true;
      return outcome;
    }
  } finally {
    closing = true;
    live?.disconnect();
    outcome.ackedBytes = acked.reduce((sum, one) => sum + one, 0) * audio.chunkBytes;
    outcome.finals = finals.map(({ result, at }) => timing(result, at));
    outcome.firstTextMs = firstTextLatencies();
    if (outcome.ended) checkCoverage();
  }

  /** The result's end byte, and the moment the audio that completed it had reached the server's side of the wire. */
  function timing(result: TranscriptionResult, at: number): FinalTiming {
    const endByte = audio.bytesOf(result.end_ms);
    const lastChunk = Math.min(chunks - 1, Math.max(0, Math.ceil(endByte / audio.chunkBytes) - 1));
    const sentBytes = scheduled * audio.chunkBytes;
    const byEnd = endCalledAt !== undefined && endByte >= sentBytes && at > endCalledAt;
    const sent = byEnd ? Math.max(endCalledAt!, sentAt[lastChunk]!) : sentAt[lastChunk]!;
    const resumedBefore = resumedAt.filter((t) => t <= at).pop() ?? -Infinity;
    const from = Math.max(sent, resumedBefore);
    return {
      segment: result.segment,
      startMs: result.start_ms,
      endMs: result.end_ms,
      text: result.text,
      serverMs: result.latency_ms,
      clientMs: at - from,
      arrivedAt: at,
      byEnd,
    };
  }

  function firstTextLatencies(): number[] {
    const list: number[] = [];
    for (const [segment, first] of firstSeen) {
      const final = finals.find((f) => f.result.segment === segment)?.result;
      const endMs = final?.end_ms ?? Infinity;
      const byte = audio.bytesOf(Math.min(first.startMs + FIRST_TEXT_AFTER_MS, endMs));
      const chunk = Math.min(chunks - 1, Math.max(0, Math.ceil(byte / audio.chunkBytes) - 1));
      let reference = sentAt[chunk]!;
      if (endCalledAt !== undefined && byte >= scheduled * audio.chunkBytes) reference = Math.max(reference, endCalledAt);
      list.push(first.at - reference);
    }
    return list;
  }

  /**
   * Every accepted byte is either in a final or in audio without speech (which gets no result by design). Speech here is
   * at least a syllable's worth of loud frames (MIN_LOST_SPEECH_MS): a speaker starts and stops at arbitrary points of
   * the recording, and the 10–160 ms of a word's edge caught there is not a word the server's speech detector (Silero)
   * should send to the engine.
   */
  function checkCoverage(): void {
    const ackedMs = audio.msOf(outcome.ackedBytes);
    outcome.uncountedMs = Math.max(0, ackedMs - outcome.ended!.duration_ms);
    const covered = outcome.finals.map((f) => [f.startMs, f.endMs] as const).sort((a, b) => a[0] - b[0]);
    let at = 0;
    const gaps: [number, number][] = [];
    for (const [start, end] of covered) {
      if (start > at) gaps.push([at, start]);
      at = Math.max(at, end);
    }
    if (outcome.ended!.duration_ms > at) gaps.push([at, outcome.ended!.duration_ms]);
    for (const [from, to] of gaps) {
      const pcm = audio.slice(plan.offsetBytes, audio.bytesOf(from), audio.bytesOf(to));
      let loudMs = 0;
      forEachFrame(pcm, audio.recording.sampleRate, plan.speechDbfs, (isSpeech, frameBytes) => {
        if (isSpeech) loudMs += audio.msOf(frameBytes);
      });
      if (loudMs >= MIN_LOST_SPEECH_MS) outcome.lostSpeechMs += to - from;
    }
  }
}
