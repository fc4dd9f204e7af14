// Settings come from the environment; a bad value stops start-up with a message naming the variable.
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { configWarnings, loadConfig } from '../../src/config/config.js';

describe('loadConfig', () => {
  it('has defaults that run without any setting (memory store, offline engine)', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 3000,
      opsPort: 3001,
      redisUrl: undefined,
      maxChunkBytes: 64000,
      segmentation: { maxMs: 8000, minMs: 1000, silenceMs: 600 },
      engine: {
        transcriber: 'pocketsphinx',
        model: 'whisper-1',
        concurrency: { fixed: undefined, min: 4, max: 256 },
        pocketsphinx: { command: 'pocketsphinx_batch', decoders: os.availableParallelism() },
      },
    });
    expect(loadConfig({ POCKETSPHINX_DECODERS: '3' }).engine.pocketsphinx.decoders).toBe(3);
    expect(loadConfig({}).engine.pocketsphinx.search).toBe('accurate');
    expect(loadConfig({ POCKETSPHINX_SEARCH: 'fast' }).engine.pocketsphinx.search).toBe('fast');
  });

  it('picks Whisper when a key is set and TRANSCRIBER is auto', () => {
    expect(loadConfig({ OPENAI_API_KEY: 'sk-test' }).engine.transcriber).toBe('openai');
    expect(loadConfig({ OPENAI_API_KEY: 'sk-test', TRANSCRIBER: 'pocketsphinx' }).engine.transcriber).toBe('pocketsphinx');
  });

  it.each([
    [{ SEGMENT_MAX_MS: 'abc' }, /SEGMENT_MAX_MS must be a whole number/],
    [{ PORT: '70000' }, /PORT must be a whole number from 0 to 65535, got "70000"/],
    [{ TRANSCRIBER: 'vosk' }, /TRANSCRIBER must be one of auto, openai, pocketsphinx/],
    [{ VAD_SPEECH_DBFS: '10' }, /VAD_SPEECH_DBFS must be a level in dBFS/],
    [{ SEGMENT_MIN_MS: '9000' }, /SEGMENT_MIN_MS \(9000\) must be below SEGMENT_MAX_MS/],
    [{ TRANSCRIBER: 'openai' }, /TRANSCRIBER=openai needs OPENAI_API_KEY/],
    [{ POCKETSPHINX_DECODERS: '0' }, /POCKETSPHINX_DECODERS must be a whole number from 1 to 256, got "0"/],
    [{ POCKETSPHINX_SEARCH: 'fastest' }, /POCKETSPHINX_SEARCH must be one of accurate, fast, got "fastest"/],
    [{ MAX_EVENT_LOOP_UTILIZATION: '90' }, /MAX_EVENT_LOOP_UTILIZATION must be a share above 0 and at most 1 \(1 = never\), got "90"/],
  ])('refuses %o', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('reads every boolean the same way, Sentry\'s included', () => {
    for (const word of ['true', 'on', 'YES', '1']) expect(loadConfig({ TRUST_PROXY: word }).auth.trustProxy).toBe(true);
    for (const word of ['false', 'off', 'No', '0']) expect(loadConfig({ TRUST_PROXY: word }).auth.trustProxy).toBe(false);
    expect(() => loadConfig({ TRUST_PROXY: 'maybe' })).toThrow(/TRUST_PROXY must be true or false, got "maybe"/);
  });

  it('says which retired settings are set and what replaces them, instead of ignoring them', () => {
    expect(configWarnings({ TRANSCRIBE_CONCURRENCY: '4', WS_FAIR_READS: 'true', PORT: '3000' })).toEqual([
      expect.stringMatching(/^TRANSCRIBE_CONCURRENCY is no longer read: use ENGINE_CONCURRENCY/),
      expect.stringMatching(/^WS_FAIR_READS is no longer read/),
    ]);
    expect(loadConfig({ TRANSCRIBE_CONCURRENCY: '4' }).engine.concurrency.fixed).toBeUndefined();
  });

  it('names every bad variable at once', () => {
    expect(() => loadConfig({ SEGMENT_MAX_MS: 'x', SILENCE_MS: '-1' })).toThrow(/SEGMENT_MAX_MS.*SILENCE_MS/);
  });
});
