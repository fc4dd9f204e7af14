// start_session: validates the settings, opens a new session or resumes a live one, and re-sends a resumed
// client the results it may have missed.
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
import { eventSpans } from '../telemetry/event-spans.js';
import type { EventHandler, HandlerContext } from './handler.js';
import { invalidPayload } from './refusal.js';

function settingsFrom(payload: unknown, interim: HandlerContext['interim']): { sessionId: string | undefined; settings: SessionSettings } {
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
  const intervalMs = p.interim_interval_ms ?? interim.defaultMs;
  if (p.interim_results && (intervalMs < interim.minMs || intervalMs > interim.maxMs)) {
    throw new ProtocolError(ErrorCode.INVALID_PAYLOAD, `start_session: interim_interval_ms must be from ${interim.minMs} to ${interim.maxMs}, got ${intervalMs}`);
  }
  const settings: SessionSettings = { format: AUDIO_FORMAT, sample_rate: sampleRate, channels: 1 };
  if (p.language) settings.language = p.language;
  if (p.prompt) settings.prompt = p.prompt;
  if (p.model) settings.model = p.model;
  if (p.interim_results) settings.interim_interval_ms = intervalMs;
  return { sessionId: p.session_id, settings };
}

export const startSession: EventHandler<'start_session'> = async (payload, { trace, reply, sink, context }) => {
  const { sessionId, settings } = await eventSpans.validate(trace, 'session settings', () => settingsFrom(payload, context.interim));
  const opened = await context.sessions.open({ sessionId, settings }, sink, trace);
  trace.setAttributes({
    'session.id': opened.sessionId,
    'session.resumed': opened.resumed,
    'session.next_seq': opened.nextSeq,
    'audio.sample_rate': opened.sampleRate,
    'session.interim_interval_ms': opened.interimIntervalMs,
  });
  reply({
    ok: true,
    session_id: opened.sessionId,
    resumed: opened.resumed,
    next_seq: opened.nextSeq,
    sample_rate: opened.sampleRate,
    ...(opened.interimIntervalMs ? { interim_interval_ms: opened.interimIntervalMs } : {}),
  });
  for (const result of opened.replay) sink.result(result);
};
