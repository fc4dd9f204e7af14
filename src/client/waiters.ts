// Promises that wait for a moment: callers settled together (Waiters) and timed pauses cut short on close (Pauses).

/** Callers waiting for the same moment (connected, drained...), resolved or rejected all at once. */
export class Waiters<T> {
  private list: { resolve: (value: T) => void; reject: (error: unknown) => void }[] = [];

  get size(): number {
    return this.list.length;
  }

  wait(): Promise<T> {
    return new Promise<T>((resolve, reject) => this.list.push({ resolve, reject }));
  }

  resolveAll(value: T): void {
    const list = this.list;
    this.list = [];
    for (const waiter of list) waiter.resolve(value);
  }

  rejectAll(error: unknown): void {
    const list = this.list;
    this.list = [];
    for (const waiter of list) waiter.reject(error);
  }
}

/** Timed pauses between retries; close() rejects every one still running, so no retry loop outlives its client. */
export class Pauses {
  private readonly running = new Set<{ timer: ReturnType<typeof setTimeout>; reject: (error: unknown) => void }>();

  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const pause = {
        timer: setTimeout(() => {
          this.running.delete(pause);
          resolve();
        }, ms),
        reject,
      };
      this.running.add(pause);
    });
  }

  cancelAll(error: unknown): void {
    for (const pause of this.running) {
      clearTimeout(pause.timer);
      pause.reject(error);
    }
    this.running.clear();
  }
}
