// The AudioWorklet processor: converts what the microphone delivers into 100 ms chunks of 16 kHz 16-bit PCM for the page.
import { levelDbfs } from '../audio/vad.js';
import { CAPTURE_PROCESSOR, type PageToWorklet, type WorkletToPage } from './capture-messages.js';
import { PcmChunker } from './pcm-chunker.js';

class CaptureProcessor extends AudioWorkletProcessor {
  private readonly chunker = new PcmChunker(sampleRate);
  private flushed = false;

  constructor() {
    super();
    this.port.onmessage = (event: MessageEvent<PageToWorklet>) => {
      if (event.data.type !== 'flush' || this.flushed) return;
      // Stop means "send what I said": the tail shorter than 100 ms is sent too, then the page is told it is all there.
      this.flushed = true;
      for (const chunk of this.chunker.flush()) this.post(chunk);
      this.port.postMessage({ type: 'flushed' } satisfies WorkletToPage);
    };
  }

  process(inputs: Float32Array[][]): boolean {
    if (this.flushed) return false;
    const input = inputs[0];
    // An input with no channels is a disconnected source, not silence: there is nothing to count.
    if (input && input.length > 0) {
      for (const chunk of this.chunker.push(input)) this.post(chunk);
    }
    return true;
  }

  private post(chunk: Int16Array): void {
    const message: WorkletToPage = { type: 'chunk', pcm: chunk.buffer as ArrayBuffer, levelDbfs: levelDbfs(chunk) };
    // Transferred, not copied: the audio thread must not spend its time budget on copies.
    this.port.postMessage(message, [chunk.buffer]);
  }
}

registerProcessor(CAPTURE_PROCESSOR, CaptureProcessor);
