// start_session: opens a new session or resumes a live one, and re-sends a resumed client its results.
import { randomUUID } from 'node:crypto';
import {
  AUDIO_FORMAT,
  DEFAULT_SAMPLE_RATE,
  ErrorCode,
  MAX_SAMPLE_RATE,
  MIN_SAMPLE_RATE,
  ProtocolError,
  startSessionSchema,
  type SessionSettings,
} from '../protocol/index.js';
import type { EventHandler } from './handler.js';
import { invalidPayload } from './refusal.js';

function settingsFrom(payload: unknown): { sessionId: string | undefined; settings: SessionSettings } {
  const parsed = startSessionSchema.safeParse(payload ?? {});
  if (!parsed.success) throw invalidPayload('start_session', parsed.error);
  const p = parsed.data;
  if (p.format !== undefined && p.format !== AUDIO_FORMAT) {
    throw new ProtocolError(ErrorCode.UNSUPPORTED_FORMAT, `start_session: format "${p.format}" is not supported; send "${AUDIO_FORMAT}" (16-bit little-endian PCM)`);
  }
  const sampleRate = p.sample_rate ?? DEFAULT_SAMPLE_RATE;
  if (!Number.isInteger(sampleRate) || sampleRate < MIN_SAMPLE_RATE || sampleRate > MAX_SAMPLE_RATE) {
    throw new ProtocolError(ErrorCode.UNSUPPORTED_FORMAT, `start_session: sample_rate must be a whole number from ${MIN_SAMPLE_RATE} to ${MAX_SAMPLE_RATE} Hz, got ${sampleRate}`);
  }
  if (p.channels !== undefined && p.channels !== 1) {
    throw new ProtocolError(ErrorCode.UNSUPPORTED_FORMAT, `start_session: channels must be 1 (mono), got ${p.channels}; mix down before sending`);
  }
  const settings: SessionSettings = { format: AUDIO_FORMAT, sample_rate: sampleRate, channels: 1 };
  if (p.language) settings.language = p.language;
  if (p.prompt) settings.prompt = p.prompt;
  if (p.model) settings.model = p.model;
  return { sessionId: p.session_id, settings };
}

export const startSession: EventHandler<'start_session'> = async (payload, { trace, reply, sink, context }) => {
  const { store, registry } = context;
  const { sessionId, settings } = await trace.span('process', 'Validate session settings', {}, () => settingsFrom(payload));
  const id = sessionId ?? randomUUID();
  trace.setSession(id);
  const { record, created } = await store.openSession(id, settings);
  if (record.ended) {
    throw new ProtocolError(ErrorCode.SESSION_ENDED, `start_session: session ${id} has ended; start a new one without session_id`);
  }
  const runtime = registry.attach(record, sink);
  trace.setAttributes({ 'session.id': id, 'session.resumed': !created, 'session.next_seq': record.nextSeq, 'audio.sample_rate': record.settings.sample_rate });
  reply({ ok: true, session_id: id, resumed: !created, next_seq: record.nextSeq, sample_rate: record.settings.sample_rate });
  if (!created && record.segments > 0) {
    // A resumed client may have missed results while it was away; it keeps the first copy of each segment.
    for (const stored of await store.segmentsFrom(id, 0)) sink.result({ ...runtime.toResult(stored, 0), replayed: true });
  }
};
