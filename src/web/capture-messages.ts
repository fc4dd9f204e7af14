// Messages between the page and the capture worklet, shared so both sides agree on their shape.

/** The processor's registered name. */
export const CAPTURE_PROCESSOR = 'pcm-capture';

export type WorkletToPage =
  /** One chunk of 16 kHz mono 16-bit PCM (100 ms, or less for the last one) and its level for the meter. */
  | { type: 'chunk'; pcm: ArrayBuffer; levelDbfs: number }
  /** Everything captured before the flush request has been posted. */
  | { type: 'flushed' };

export type PageToWorklet = { type: 'flush' };
