// The AudioWorkletGlobalScope names capture-worklet.ts uses: TypeScript's DOM lib describes the page, not the worklet.

declare abstract class AudioWorkletProcessor {
  readonly port: MessagePort;
  constructor(options?: AudioWorkletNodeOptions);
  abstract process(inputs: Float32Array[][], outputs: Float32Array[][], parameters: Record<string, Float32Array>): boolean;
}

declare function registerProcessor(name: string, processorCtor: new (options?: AudioWorkletNodeOptions) => AudioWorkletProcessor): void;

/** The AudioContext's rate, as seen inside the worklet. */
declare const sampleRate: number;
