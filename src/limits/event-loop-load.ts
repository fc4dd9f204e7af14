// Turns new sessions away while this process's event loop is saturated. Past the streams one core keeps up with,
// acks queue behind one another, clients time out and resend, the resends add load, and every session on the
// process fails together (BENCHMARKS.md, "Past capacity"). Refusing the next session with OVERLOADED and a retry
// delay keeps the running ones served and tells the client (and, through /readyz, the load balancer) to go elsewhere.
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { OverloadedError } from '../errors/server-errors.js';

export interface EventLoopLoadOptions {
  /** Busy share of the event loop (0–1) over the last window above which new sessions are refused; ≥ 1: never. */
  maxUtilization: number;
  /** The window the busy share is measured over, in ms. */
  windowMs: number;
  /** Told the busy share of each window (a metrics gauge). */
  onSample?: (utilization: number) => void;
}

type Measure = (current?: EventLoopUtilization, previous?: EventLoopUtilization) => EventLoopUtilization;

export class EventLoopLoad {
  private previous: EventLoopUtilization;
  private utilization = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly options: EventLoopLoadOptions,
    private readonly measure: Measure = performance.eventLoopUtilization,
  ) {
    this.previous = measure();
    // A timer on the loop it measures: late when the loop is busy, which only lengthens the window it reports on.
    this.timer = setInterval(() => this.sample(), options.windowMs).unref();
  }

  /** The busy share of the last whole window (0 before the first one ends). */
  get current(): number {
    return this.utilization;
  }

  /** Why a new session must wait, or undefined when this process has room for it. */
  refusal(): OverloadedError | undefined {
    const { maxUtilization, windowMs } = this.options;
    if (maxUtilization >= 1 || this.utilization <= maxUtilization) return undefined;
    return new OverloadedError(
      `this server's event loop was busy ${Math.round(this.utilization * 100)} % of the last ${windowMs / 1000} s ` +
        `(MAX_EVENT_LOOP_UTILIZATION=${maxUtilization}): it has as many streams as its CPU keeps up with; retry later or on another node`,
      { retryAfterMs: windowMs },
    );
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sample(): void {
    const now = this.measure();
    this.utilization = this.measure(now, this.previous).utilization;
    this.previous = now;
    this.options.onSample?.(this.utilization);
  }
}
