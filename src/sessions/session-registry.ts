// The sessions this process is serving: their runtimes by id, indexed by the connection they report to, and
// dropped as soon as one has no connection and nothing left to transcribe (the store keeps the session).
import type { BufferStore, SessionRecord } from '../store/buffer-store.js';
import { SessionRuntime, type ResultSink, type RuntimeDeps } from './session-runtime.js';

export class SessionRegistry {
  private readonly runtimes = new Map<string, SessionRuntime>();
  /** Which sessions each connection's sink receives: a disconnect touches only its own. */
  private readonly bySink = new Map<ResultSink, Set<SessionRuntime>>();
  private readonly deps: RuntimeDeps;

  constructor(deps: Omit<RuntimeDeps, 'onIdle' | 'onTakenOver'> & { store: BufferStore }) {
    this.deps = { ...deps, onIdle: (runtime) => this.release(runtime), onTakenOver: (runtime) => this.remove(runtime) };
  }

  get size(): number {
    return this.runtimes.size;
  }

  /** Every runtime in this process (for drain and metrics). */
  all(): IterableIterator<SessionRuntime> {
    return this.runtimes.values();
  }

  find(id: string): SessionRuntime | undefined {
    return this.runtimes.get(id);
  }

  /** Sessions whose results go to the connection behind `sink` now. */
  countAttached(sink: ResultSink): number {
    return this.bySink.get(sink)?.size ?? 0;
  }

  /**
   * The runtime of a session used on the connection behind `sink` (opened, resumed, or — after this process
   * restarted — fed without a new start_session); its results now go there.
   */
  attach(record: SessionRecord, sink: ResultSink): SessionRuntime {
    const runtime = this.runtimes.get(record.id) ?? this.create(record);
    const previous = runtime.attachedTo;
    if (previous && previous !== sink) this.bySink.get(previous)?.delete(runtime);
    runtime.attach(sink);
    let sessions = this.bySink.get(sink);
    if (!sessions) this.bySink.set(sink, (sessions = new Set()));
    sessions.add(runtime);
    return runtime;
  }

  /** The connection behind `sink` went away: its sessions keep their state in the store and may resume. */
  detach(sink: ResultSink): void {
    const sessions = this.bySink.get(sink);
    if (!sessions) return;
    this.bySink.delete(sink);
    for (const runtime of sessions) if (runtime.attachedTo === sink) runtime.detach();
  }

  /** The session ended: forget it here. */
  remove(runtime: SessionRuntime): void {
    // Its decoder's wasm memory goes with it; the store keeps the decoder state for a resume.
    runtime.decoder?.close();
    if (this.runtimes.get(runtime.id) === runtime) this.runtimes.delete(runtime.id);
    const sink = runtime.attachedTo;
    if (sink) this.bySink.get(sink)?.delete(runtime);
  }

  private release(runtime: SessionRuntime): void {
    if (runtime.attachedTo || !runtime.idle || runtime.isEnding) return;
    if (this.runtimes.get(runtime.id) !== runtime) return;
    this.runtimes.delete(runtime.id);
    runtime.decoder?.close();
    // Released after its connection left (its last segment done): the gauge must not wait for the next session event.
    this.deps.metrics.sessionsActive(this.runtimes.size);
  }

  private create(record: SessionRecord): SessionRuntime {
    const runtime = new SessionRuntime(record.id, record.settings, record, this.deps);
    this.runtimes.set(record.id, runtime);
    return runtime;
  }
}
