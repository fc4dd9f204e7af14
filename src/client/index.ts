// The transcription client's public surface: import from here, in Node or in the browser.
export * from './transcription-client.js';
export type * from './types.js';
export * from './errors.js';
export { LatencyTracker, type LatencySummary } from './latency.js';
export { SegmentOrder, type SegmentOrderOptions } from './segment-order.js';
export type {
  AudioChunkAccepted,
  EndSessionAccepted,
  StartSessionAccepted,
  TranscriptionErrorEvent,
  TranscriptionResult,
} from '../protocol/index.js';
