// The chunks of one session that the server has not yet accepted: numbered, kept for resending, settled in order.
import type { AudioChunkAccepted } from '../protocol/index.js';
import { Waiters } from './waiters.js';
import type { TranscriptionClientError } from './errors.js';

export interface PendingChunk {
  seq: number;
  pcm: Uint8Array;
  /** Retries caused by trouble with this chunk; resends after a reconnect do not count. */
  retries: number;
  /** Busy refusals of this chunk (BUFFER_FULL, OVERLOADED, RATE_LIMITED), and when the first came (performance.now()). */
  busyRefusals: number;
  busySince: number | undefined;
  transmissions: number;
  settled: boolean;
  resolve: (ack: AudioChunkAccepted) => void;
  reject: (error: TranscriptionClientError) => void;
}

/**
 * Pending chunks always carry consecutive seqs. The server accepts seqs strictly in order, so acceptance is
 * cumulative: an ack (or a next_seq) for seq N settles every chunk up to N.
 */
export class ChunkQueue {
  private chunks: PendingChunk[] = [];
  private next = 0;
  /** Resolved whenever the queue becomes empty; rejected when the session fails. */
  readonly drained = new Waiters<void>();
  readonly counts = { acked: 0, failed: 0 };

  get size(): number {
    return this.chunks.length;
  }

  /** The seq the next new chunk will get. */
  get nextSeq(): number {
    return this.next;
  }

  get first(): PendingChunk | undefined {
    return this.chunks[0];
  }

  at(seq: number): PendingChunk | undefined {
    const first = this.chunks[0];
    return first ? this.chunks[seq - first.seq] : undefined;
  }

  /** Still waiting, under the seq it was sent with (not renumbered since). */
  isLive(chunk: PendingChunk, seq: number): boolean {
    return !chunk.settled && chunk.seq === seq;
  }

  /** Numbers `pcm` and keeps it until the server accepts it; the promise settles with the outcome. */
  add(pcm: Uint8Array): Promise<AudioChunkAccepted> {
    return new Promise<AudioChunkAccepted>((resolve, reject) => {
      this.chunks.push({
        seq: this.next,
        pcm,
        retries: 0,
        busyRefusals: 0,
        busySince: undefined,
        transmissions: 0,
        settled: false,
        resolve,
        reject,
      });
      this.next += 1;
    });
  }

  /** Settles every chunk up to `seq` as accepted; `ack` is the server's answer for that seq when there was one. */
  acceptThrough(seq: number, ack: AudioChunkAccepted | undefined, bufferedMs: number): void {
    while (this.chunks.length > 0 && this.chunks[0]!.seq <= seq) {
      const chunk = this.chunks.shift()!;
      // Chunks settled by a later ack or by next_seq had reached the server before; say so.
      this.settle(chunk, ack && chunk.seq === ack.seq ? ack : { seq: chunk.seq, buffered_ms: bufferedMs, duplicate: true });
    }
    this.checkDrained();
  }

  /** Gives the pending chunks consecutive seqs from `seq`; new chunks follow them. */
  renumberFrom(seq: number): void {
    this.chunks.forEach((chunk, index) => {
      chunk.seq = seq + index;
    });
    this.next = seq + this.chunks.length;
  }

  /** Rejects one chunk the server will never take and closes the hole it leaves in the numbering. */
  drop(chunk: PendingChunk, error: TranscriptionClientError): boolean {
    const index = this.chunks.indexOf(chunk);
    if (index < 0) return false;
    const base = this.chunks[0]!.seq;
    this.chunks.splice(index, 1);
    this.settle(chunk, error);
    this.renumberFrom(base);
    this.checkDrained();
    return true;
  }

  /** Rejects every pending chunk and every drain waiter with `error`. */
  failAll(error: TranscriptionClientError): void {
    const chunks = this.chunks;
    this.chunks = [];
    for (const chunk of chunks) this.settle(chunk, error);
    this.drained.rejectAll(error);
  }

  /** Forgets everything for a new session (callers fail pending chunks first). */
  reset(): void {
    this.chunks = [];
    this.next = 0;
  }

  private settle(chunk: PendingChunk, outcome: AudioChunkAccepted | TranscriptionClientError): void {
    if (chunk.settled) return;
    chunk.settled = true;
    if (outcome instanceof Error) {
      this.counts.failed += 1;
      chunk.reject(outcome as TranscriptionClientError);
    } else {
      this.counts.acked += 1;
      chunk.resolve(outcome);
    }
  }

  private checkDrained(): void {
    if (this.chunks.length === 0) this.drained.resolveAll();
  }
}
