// Payload schemas of the client events: one definition for validation (server) and types (both ends).
import { z } from 'zod';
import { MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, type AudioFormat } from './audio.js';

const SESSION_ID_MAX = 128;
const SESSION_ID_PATTERN = /^[A-Za-z0-9._:-]+$/;

/** Session ids travel in Redis keys and logs: keep them short and printable. */
export const sessionIdSchema = z
  .string()
  .min(1)
  .max(SESSION_ID_MAX)
  .regex(SESSION_ID_PATTERN, 'session_id may hold only letters, digits and . _ : -');

export const UTTERANCE_END_MIN_MS = 500;
export const UTTERANCE_END_MAX_MS = 10_000;
export const KEYTERMS_MAX = 50;
export const KEYTERM_MAX_CHARS = 50;

/** Keyterms, bounded: they travel in every engine request of the session. */
export const keytermsSchema = z
  .array(
    z
      .string({ error: 'keyterms must be strings' })
      .trim()
      .min(1, 'keyterms may not be empty')
      .max(KEYTERM_MAX_CHARS, `keyterms must each be at most ${KEYTERM_MAX_CHARS} characters`),
    { error: 'keyterms must be an array of strings' },
  )
  .max(KEYTERMS_MAX, `keyterms may hold at most ${KEYTERMS_MAX} terms`);

export const startSessionSchema = z.strictObject({
  session_id: sessionIdSchema.optional(),
  format: z.string().optional(),
  sample_rate: z.number().optional(),
  channels: z.number().optional(),
  language: z
    .string()
    .regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$/, 'language must be an ISO-639 code such as "en" or "pt-BR"')
    .optional(),
  prompt: z.string().max(1000).optional(),
  model: z.string().min(1).max(100).optional(),
  /** Proof of ownership when resuming `session_id` (the `resume_token` of its first ack). */
  resume_token: z.string().min(1).max(200).optional(),
  interim_results: z.boolean().optional(),
  interim_interval_ms: z.number().int('interim_interval_ms must be a whole number').optional(),
  /** Finals (and interims) carry `words` with their times. */
  word_timestamps: z.boolean({ error: 'word_timestamps must be true or false' }).optional(),
  /** utterance_end once this much non-speech (ms) follows speech; absent = none. */
  utterance_end_ms: z
    .number()
    .int('utterance_end_ms must be a whole number')
    .min(UTTERANCE_END_MIN_MS, `utterance_end_ms must be at least ${UTTERANCE_END_MIN_MS}`)
    .max(UTTERANCE_END_MAX_MS, `utterance_end_ms must be at most ${UTTERANCE_END_MAX_MS}`)
    .optional(),
  /** Words and names to favour (the engine's prompt). */
  keyterms: keytermsSchema.optional(),
});

/** Binary audio as any client library sends it; the server always sees a Buffer or a view. */
export type BinaryChunk = Uint8Array | ArrayBuffer;

const binarySchema = z.custom<BinaryChunk>(
  (value) => value instanceof Uint8Array || value instanceof ArrayBuffer,
  'chunk must be binary (Buffer, ArrayBuffer or Uint8Array), not text or JSON',
);

export const audioChunkSchema = z.strictObject({
  session_id: sessionIdSchema,
  seq: z.number().int('seq must be a whole number').nonnegative('seq must be 0 or more').optional(),
  chunk: binarySchema,
});

export type AudioChunkPayload = z.output<typeof audioChunkSchema>;

/**
 * audioChunkSchema.safeParse for the per-chunk path: the usual well-formed chunk (a plain object with a valid
 * session_id, an optional whole seq of 0 or more, binary audio, nothing else) is accepted by the same rules written
 * out, without zod's run and result objects; anything else goes through the schema, so a refusal reads as before.
 */
export function parseAudioChunk(payload: unknown): ReturnType<typeof audioChunkSchema.safeParse> {
  return isWellFormedChunk(payload) ? { success: true, data: payload } : audioChunkSchema.safeParse(payload);
}

function isWellFormedChunk(value: unknown): value is AudioChunkPayload {
  if (typeof value !== 'object' || value === null || Object.getPrototypeOf(value) !== Object.prototype) return false;
  for (const key in value) if (key !== 'session_id' && key !== 'seq' && key !== 'chunk') return false;
  const { session_id: id, seq, chunk } = value as Record<string, unknown>;
  return (
    typeof id === 'string' &&
    id.length >= 1 &&
    id.length <= SESSION_ID_MAX &&
    SESSION_ID_PATTERN.test(id) &&
    (seq === undefined || (Number.isSafeInteger(seq) && (seq as number) >= 0)) &&
    (chunk instanceof Uint8Array || chunk instanceof ArrayBuffer)
  );
}

export const endSessionSchema = z.strictObject({
  session_id: sessionIdSchema,
});

export type StartSessionRequest = z.input<typeof startSessionSchema> & { format?: AudioFormat | string };
export type AudioChunkRequest = z.input<typeof audioChunkSchema>;
export type EndSessionRequest = z.input<typeof endSessionSchema>;

/** The audio settings a session runs with, after defaults. */
export interface SessionSettings {
  /** What the client sends; the store always holds mono 16-bit PCM at sample_rate. */
  format: AudioFormat;
  sample_rate: number;
  channels: 1;
  language?: string;
  prompt?: string;
  model?: string;
  /** Interim results every this many ms of new speech; absent = off. */
  interim_interval_ms?: number;
  /** Results carry word timings. */
  word_timestamps?: boolean;
  /** utterance_end after this much non-speech (ms); absent = off. */
  utterance_end_ms?: number;
  /** Terms put ahead of the engine's prompt. */
  keyterms?: string[];
}

export const SAMPLE_RATE_RANGE = { min: MIN_SAMPLE_RATE, max: MAX_SAMPLE_RATE } as const;
