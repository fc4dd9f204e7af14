// The /transcription protocol: import this, not the files behind it.
export * from './audio.js';
export * from './errors.js';
export * from './events.js';
export * from './payloads.js';
