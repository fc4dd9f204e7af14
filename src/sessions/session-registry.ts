// The sessions this process is serving: their runtimes by id, and which socket gets each one's results.
import type { BufferStore, SessionRecord } from '../store/buffer-store.js';
import { SessionRuntime, type ResultSink, type RuntimeDeps } from './session-runtime.js';

export class SessionRegistry {
  private readonly runtimes = new Map<string, SessionRuntime>();

  constructor(private readonly deps: RuntimeDeps & { store: BufferStore }) {}

  get size(): number {
    return this.runtimes.size;
  }

  /** The runtime of a session that start_session opened or resumed; its results now go to `sink`. */
  attach(record: SessionRecord, sink: ResultSink): SessionRuntime {
    const runtime = this.runtimes.get(record.id) ?? this.create(record);
    runtime.sink = sink;
    return runtime;
  }

  /**
   * The runtime for a chunk or end_session. A session that lives in the store but not here (resumed after a
   * restart without start_session) gets one made from its record.
   */
  async get(id: string): Promise<SessionRuntime | undefined> {
    const existing = this.runtimes.get(id);
    if (existing) return existing;
    const record = await this.deps.store.getSession(id);
    if (!record || record.ended) return undefined;
    return this.runtimes.get(id) ?? this.create(record);
  }

  /** The socket behind `sink` went away: its sessions keep their state in the store and may resume. */
  detach(sink: ResultSink): void {
    for (const runtime of this.runtimes.values()) {
      if (runtime.sink !== sink) continue;
      runtime.sink = undefined;
      this.releaseIfIdle(runtime);
    }
  }

  remove(id: string): void {
    this.runtimes.delete(id);
  }

  /** A detached runtime is dropped once it has nothing left to transcribe; the store keeps the session. */
  releaseIfIdle(runtime: SessionRuntime): void {
    if (!runtime.sink && runtime.idle && !runtime.closing) this.runtimes.delete(runtime.id);
  }

  private create(record: SessionRecord): SessionRuntime {
    const runtime = new SessionRuntime(record.id, record.settings, record.committedBytes, this.deps);
    this.runtimes.set(record.id, runtime);
    return runtime;
  }
}
