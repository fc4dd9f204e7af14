// The speech-to-text benchmark's per-second server series: read from Prometheus text, shown as compact rows.
import { describe, expect, it } from 'vitest';
import { seriesMarkdown } from '../../bench/stt/markdown.js';
import { emptySeries, metricValue } from '../../bench/stt/server-series.js';

const TEXT = [
  '# HELP transcription_engine_concurrency_limit Engine requests allowed at once',
  '# TYPE transcription_engine_concurrency_limit gauge',
  'transcription_engine_concurrency_limit 16',
  'transcription_engine_concurrency_limit_other 99',
  'transcription_event_refusals_total{event="start_session",code="OVERLOADED"} 7',
  'transcription_event_refusals_total{event="audio_chunk",code="OVERLOADED"} 2',
  'transcription_event_refusals_total{event="audio_chunk",code="SEQ_GAP"} 5',
  'transcription_engine_request_duration_seconds_count{kind="final",outcome="429"} 3',
  'transcription_engine_request_duration_seconds_count{kind="interim",outcome="429"} 1',
  'transcription_engine_request_duration_seconds_count{kind="final",outcome="ok"} 40',
].join('\n');

describe('bench:stt server series', () => {
  it('reads a metric by its exact name, summing the series whose labels match', () => {
    expect(metricValue(TEXT, 'transcription_engine_concurrency_limit')).toBe(16);
    expect(metricValue(TEXT, 'transcription_event_refusals_total', 'code="OVERLOADED"')).toBe(9);
    expect(metricValue(TEXT, 'transcription_engine_request_duration_seconds_count', 'outcome="429"')).toBe(4);
    expect(metricValue(TEXT, 'transcription_sessions_active')).toBeUndefined();
  });

  it('shows one value a second, a dot where the server could not be read', () => {
    const series = { ...emptySeries(), limit: [4, null, 8], elu: [0.5, null, 1] };
    const block = seriesMarkdown(series).join('\n');
    expect(block).toContain('limit:         4 · 8');
    expect(block).toContain('ELU (3 s):     0.50 · 1.00');
  });
});
