// CPU accounting for a shared machine: how much CPU the benchmark's own processes used over a step, and how
// much went to anything else, so a step disturbed by other work can be told apart and run again.
import { readFileSync } from 'node:fs';
import { cpuSeconds } from './processes.js';

/** CPU seconds the whole machine has been busy (all cores), from /proc/stat; Linux counts in 1/100 s ticks. */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  // cpu user nice system idle iowait irq softirq steal …
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return (user! + nice! + system! + irq! + softirq! + steal!) / 100;
}

export interface CpuReading {
  wallSeconds: number;
  /** Cores busy on average in each watched process (by name), and in this process. */
  cores: Record<string, number>;
  /** Cores busy on average in everything else on the machine. */
  otherCores: number;
}

/** Watches named processes (by pid) and this one from `start()` until `read()`. */
export class CpuMeter {
  private readonly wall0 = performance.now();
  private readonly machine0 = machineBusySeconds();
  private readonly self0 = process.cpuUsage();
  private readonly pids0: Map<string, { pid: number; seconds: number }>;

  constructor(pids: Record<string, number>) {
    this.pids0 = new Map(Object.entries(pids).map(([name, pid]) => [name, { pid, seconds: safeCpuSeconds(pid) }]));
  }

  read(): CpuReading {
    const wallSeconds = (performance.now() - this.wall0) / 1000;
    const self = process.cpuUsage(this.self0);
    const cores: Record<string, number> = { generator: (self.user + self.system) / 1e6 / wallSeconds };
    let ours = cores.generator! * wallSeconds;
    for (const [name, { pid, seconds }] of this.pids0) {
      const used = Math.max(0, safeCpuSeconds(pid) - seconds);
      cores[name] = used / wallSeconds;
      ours += used;
    }
    const machine = machineBusySeconds() - this.machine0;
    return { wallSeconds, cores, otherCores: Math.max(0, machine - ours) / wallSeconds };
  }
}

/** A process that has exited counts as having used nothing more. */
function safeCpuSeconds(pid: number): number {
  try {
    return cpuSeconds(pid);
  } catch {
    return 0;
  }
}

/**
 * Waits (at most `maxWaitMs`) until everything outside `pids` and this process uses less than `maxOtherCores`
 * over a one-second window; returns what the last window saw.
 */
export async function waitForQuiet(pids: Record<string, number>, maxOtherCores: number, maxWaitMs: number): Promise<number> {
  const deadline = performance.now() + maxWaitMs;
  for (;;) {
    const meter = new CpuMeter(pids);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const other = meter.read().otherCores;
    if (other < maxOtherCores || performance.now() >= deadline) return other;
  }
}
