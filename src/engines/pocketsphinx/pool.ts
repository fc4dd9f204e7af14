// A fixed number of long-lived decoders; segments wait for a free one in arrival order.
import type { Logger } from 'pino';
import { EngineError } from '../engine.js';
import { DecoderGoneError, type Decoded, type Decoder } from './decoder.js';

export interface DecoderPoolOptions {
  /** How many decoders (processes) run at once. */
  size: number;
  /** Starts one decoder; called on a slot's first segment and after its decoder died or was killed. */
  startDecoder: () => Promise<Decoder>;
  /** A segment taking longer than this kills and restarts its decoder, and fails (retryable). */
  timeoutMs: number;
  logger?: Logger;
}

/** One decoder's place in the pool: empty until first needed. */
interface Slot {
  decoder: Promise<Decoder> | undefined;
  /** The decoder the slot's last segment ran on, known without waiting. */
  last: Decoder | undefined;
}

export class DecoderPool {
  private readonly slots: Slot[];
  private readonly free: Slot[];
  private readonly waiting: Array<{ resolve(slot: Slot): void; reject(error: EngineError): void }> = [];
  private closed = false;

  constructor(private readonly options: DecoderPoolOptions) {
    this.slots = Array.from({ length: options.size }, (): Slot => ({ decoder: undefined, last: undefined }));
    this.free = [...this.slots];
  }

  get size(): number {
    return this.slots.length;
  }

  /** Decodes one segment on the next free decoder; a decoder that dies under it is replaced and the segment tried once more. */
  async decode(pcm: Buffer): Promise<Decoded> {
    const slot = await this.acquire();
    try {
      try {
        return await this.decodeOn(slot, pcm);
      } catch (error) {
        if (!(error instanceof DecoderGoneError) || this.closed) throw error;
        this.options.logger?.warn({ err: error }, 'pocketsphinx decoder died mid-segment; retrying on a new one');
        return await this.decodeOn(slot, pcm);
      }
    } catch (error) {
      if (this.closed) throw new EngineError('pocketsphinx engine closed while transcribing', { cause: error });
      throw error;
    } finally {
      this.release(slot);
    }
  }

  /**
   * Starts every slot's decoder now, so a cold node's first segments do not wait for the model to load (and the
   * scheduler's first latencies are the decoders' own). A decoder that fails to start is started again on first use.
   */
  async warmUp(): Promise<void> {
    await Promise.all(
      this.slots.map(async (slot) => {
        if (slot.decoder !== undefined || this.closed) return;
        slot.decoder = this.options.startDecoder();
        await slot.decoder.catch(() => undefined);
      }),
    );
  }

  /** Process ids of the decoders now running, for tests and diagnostics. */
  async pids(): Promise<number[]> {
    const decoders = await Promise.all(this.slots.map((slot) => slot.decoder?.catch(() => undefined)));
    return decoders.flatMap((decoder) => (decoder?.alive && decoder.pid !== undefined ? [decoder.pid] : []));
  }

  /** Fails waiting segments, ends every decoder and waits until each process has exited and its files are gone. */
  async close(): Promise<void> {
    this.closed = true;
    for (const waiter of this.waiting.splice(0)) waiter.reject(new EngineError('pocketsphinx engine is closed'));
    await Promise.all(this.slots.map((slot) => this.stopSlot(slot)));
  }

  private async decodeOn(slot: Slot, pcm: Buffer): Promise<Decoded> {
    let decoder = await slot.decoder?.catch(() => undefined);
    if (!decoder?.alive) {
      await this.stopSlot(slot);
      if (this.closed) throw new EngineError('pocketsphinx engine is closed');
      slot.decoder = this.options.startDecoder();
      decoder = await slot.decoder;
    }
    slot.last = decoder;
    return decoder.decode(pcm, this.options.timeoutMs);
  }

  private async stopSlot(slot: Slot): Promise<void> {
    const decoder = await slot.decoder?.catch(() => undefined);
    slot.decoder = undefined;
    await decoder?.stop();
  }

  private acquire(): Promise<Slot> {
    if (this.closed) return Promise.reject(new EngineError('pocketsphinx engine is closed'));
    // A slot whose decoder already has the model loaded beats an empty one.
    const index = Math.max(0, this.free.findIndex((slot) => slot.decoder !== undefined));
    const [slot] = this.free.splice(index, 1);
    if (slot) return Promise.resolve(slot);
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  private release(slot: Slot): void {
    // A decoder that died or was killed by a time-out is replaced now, so the next segment finds the model loading.
    if (slot.last && !slot.last.alive && !this.closed) this.restart(slot);
    const next = this.waiting.shift();
    if (next) next.resolve(slot);
    else this.free.push(slot);
  }

  private restart(slot: Slot): void {
    const old = slot.last;
    slot.last = undefined;
    const replacement = (async () => {
      await old?.stop();
      if (this.closed) throw new EngineError('pocketsphinx engine is closed');
      return this.options.startDecoder();
    })();
    replacement.catch(() => undefined); // reported to the next segment that uses the slot
    slot.decoder = replacement;
  }
}
