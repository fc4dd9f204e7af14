// At most `perTurn` packets of one connection are handled per event-loop turn; past that its socket is not read again
// until the next turn. ws hands every message of a TCP read to Socket.IO at once and libuv reads a busy socket up to
// 32 × 64 KiB per turn, so a client that sends a burst (a flood, a fresh session's AUDIO_BURST_MS) had hundreds of
// packets handled before a neighbour's chunk was read. A real-time client sends one packet per turn or so and is never
// stopped; unlike WS_FAIR_READS, nobody else pays a loop turn per message.

/** One process-wide turn counter, advanced by one setImmediate per turn in which anybody asked. */
let turn = 0;
let advancing = false;

function currentTurn(): number {
  if (!advancing) {
    advancing = true;
    setImmediate(() => {
      turn += 1;
      advancing = false;
    });
  }
  return turn;
}

/** A flooder goes over its budget every turn; a backlog older than this has drained. */
const BACKLOG_RECENT_MS = 100;

export class ReadBudget {
  private turn = -1;
  private used = 0;
  private waiting = false;
  /** The last turn in which it had more packets than the budget, and when. */
  private overTurn = -Infinity;
  private overAt = -Infinity;

  /** `pause` stops reading (false when it cannot: long-polling); `resume` is called at the next turn. */
  constructor(
    private readonly perTurn: number,
    private readonly pause: () => boolean,
    private readonly resume: () => void,
  ) {}

  /** One packet was received. */
  take(): void {
    const now = currentTurn();
    if (now !== this.turn) {
      this.turn = now;
      this.used = 0;
    }
    this.used += 1;
    if (this.used <= this.perTurn) return;
    this.overTurn = now;
    this.overAt = performance.now();
    if (this.waiting || !this.pause()) return;
    this.waiting = true;
    // Scheduled after the turn counter's setImmediate: the next packet counts against a fresh turn.
    setImmediate(() => {
      this.waiting = false;
      this.resume();
    });
  }

  /**
   * True while packets keep coming faster than the budget: it went over in this turn or the last. A client that waits
   * for acks (at most its window of chunks unanswered, the client library's is 32) drains within a turn.
   */
  backlogged(): boolean {
    // Turns are counted only while packets come: on a quiet server, "the last turn" may be long ago.
    return currentTurn() - this.overTurn <= 1 && performance.now() - this.overAt < BACKLOG_RECENT_MS;
  }
}
