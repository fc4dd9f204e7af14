// Limits on each session's audio stream, checked before a chunk touches the store: audio rate (AUDIO_RATE_LIMIT × real time with an
// AUDIO_BURST_MS burst), total audio (MAX_SESSION_MS, or a client token's lower max_session_ms), and idleness
// (SESSION_IDLE_TIMEOUT_MS without a chunk).
//
// API, for the per-chunk path (one Map lookup and a few additions per chunk):
//   limits.track(id, { receivedMs, maxSessionMs })     when a session is opened or resumed on this node
//   const refusal = limits.admit(id, audioMs)         before the store: RateLimitedError, SessionTimeLimitError or undefined
//   limits.settle(id, audioMs, receivedMs | undefined) after the store answered (receivedMs when it appended)
//   limits.forget(id)                                 when the session ends
//   limits.startIdleSweep(onIdle) / stopIdleSweep()   onIdle(id) is called once for a session idle too long
import { RateLimitedError, SessionTimeLimitError } from '../errors/server-errors.js';
import { TokenBucket } from './token-bucket.js';

export interface StreamLimitSettings {
  /** Audio ms accepted per wall ms; 0 = no rate limit. */
  audioRateLimit: number;
  audioBurstMs: number;
  /** Server-wide cap on a session's audio, ms; 0 = none. */
  maxSessionMs: number;
  /** 0 = sessions never time out for idleness. */
  sessionIdleTimeoutMs: number;
  /** Without an idle time-out, a session silent this long (the store's TTL) is forgotten here without being ended. */
  forgetAfterMs?: number;
}

interface TrackedSession {
  bucket: TokenBucket | undefined;
  /** Audio the store holds for the session, ms (from the last append's answer). */
  receivedMs: number;
  /** Audio admitted but not yet answered by the store, ms. */
  pendingMs: number;
  /** 0 = none. */
  maxSessionMs: number;
  lastChunkAt: number;
}

export class StreamLimits {
  private readonly sessions = new Map<string, TrackedSession>();
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly settings: StreamLimitSettings,
    private readonly now: () => number = Date.now,
  ) {}

  /** Starts (or refreshes, on resume) a session's limits; `maxSessionMs` from a client token lowers the server's. */
  track(id: string, options: { receivedMs: number; maxSessionMs?: number }): void {
    const at = this.now();
    const existing = this.sessions.get(id);
    const limit = lowest(this.settings.maxSessionMs, options.maxSessionMs ?? 0);
    if (existing) {
      // A resume on this node keeps the bucket: reconnecting must not buy a fresh burst.
      existing.receivedMs = options.receivedMs;
      existing.maxSessionMs = limit;
      existing.lastChunkAt = at;
      return;
    }
    const { audioRateLimit, audioBurstMs } = this.settings;
    this.sessions.set(id, {
      bucket: audioRateLimit > 0 ? new TokenBucket(audioRateLimit, audioBurstMs, at) : undefined,
      receivedMs: options.receivedMs,
      pendingMs: 0,
      maxSessionMs: limit,
      lastChunkAt: at,
    });
  }

  /** Undefined when `audioMs` more audio may go to the store now; else the refusal to ack with. */
  admit(id: string, audioMs: number): RateLimitedError | SessionTimeLimitError | undefined {
    const session = this.sessions.get(id);
    if (!session) return undefined;
    const at = this.now();
    session.lastChunkAt = at;
    if (session.maxSessionMs > 0 && session.receivedMs + session.pendingMs + audioMs > session.maxSessionMs) {
      return new SessionTimeLimitError(
        `session ${id} reached its limit of ${session.maxSessionMs} ms of audio (MAX_SESSION_MS or the token's max_session_ms); end it and start a new session to go on`,
      );
    }
    if (session.bucket) {
      const waitMs = session.bucket.take(audioMs, at);
      if (waitMs > 0) {
        return new RateLimitedError(
          `session ${id} sends audio faster than ${this.settings.audioRateLimit}× real time (AUDIO_RATE_LIMIT); resend this chunk after retry_after_ms`,
          { retryAfterMs: waitMs },
        );
      }
    }
    session.pendingMs += audioMs;
    return undefined;
  }

  /** The store answered an admitted chunk: `receivedMs` is its new total when appended, undefined when it stored nothing. */
  settle(id: string, audioMs: number, receivedMs: number | undefined): void {
    const session = this.sessions.get(id);
    if (!session) return;
    session.pendingMs = Math.max(0, session.pendingMs - audioMs);
    if (receivedMs !== undefined) session.receivedMs = receivedMs;
    // Nothing stored (duplicate, gap, full): the audio did no work worth charging against the rate.
    else session.bucket?.refund(audioMs);
  }

  forget(id: string): void {
    this.sessions.delete(id);
  }

  has(id: string): boolean {
    return this.sessions.has(id);
  }

  /** Sessions without a chunk for SESSION_IDLE_TIMEOUT_MS; they are forgotten here, so each is reported once. */
  takeIdle(): string[] {
    const timeout = this.settings.sessionIdleTimeoutMs;
    if (timeout <= 0) return [];
    const cutoff = this.now() - timeout;
    const idle: string[] = [];
    for (const [id, session] of this.sessions) {
      if (session.lastChunkAt <= cutoff && session.pendingMs === 0) {
        idle.push(id);
        this.sessions.delete(id);
      }
    }
    return idle;
  }

  /**
   * Checks for idle sessions a few times per time-out (at least every 5 s); the timer never keeps the process alive.
   * Without a time-out it only forgets sessions the store has expired, so abandoned ones do not pile up here.
   */
  startIdleSweep(onIdle: (id: string) => void): void {
    if (this.sweepTimer) return;
    const timeout = this.settings.sessionIdleTimeoutMs;
    const forgetAfter = this.settings.forgetAfterMs;
    if (timeout > 0) {
      this.sweepTimer = setInterval(() => {
        for (const id of this.takeIdle()) onIdle(id);
      }, Math.max(10, Math.min(5000, Math.floor(timeout / 4))));
    } else if (forgetAfter !== undefined && forgetAfter > 0) {
      this.sweepTimer = setInterval(() => {
        const cutoff = this.now() - forgetAfter;
        for (const [id, session] of this.sessions) if (session.lastChunkAt <= cutoff && session.pendingMs === 0) this.sessions.delete(id);
      }, Math.max(1000, Math.min(60_000, Math.floor(forgetAfter / 4))));
    } else return;
    this.sweepTimer.unref();
  }

  stopIdleSweep(): void {
    clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  get size(): number {
    return this.sessions.size;
  }
}

/** The lower of two limits where 0 means "none". */
function lowest(a: number, b: number): number {
  if (a <= 0) return b;
  if (b <= 0) return a;
  return Math.min(a, b);
}
