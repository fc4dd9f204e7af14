// The SENTRY_* settings loader: defaults, every bad value named, and secrets collected for scrubbing.
import { describe, expect, it } from 'vitest';
import { loadSentrySettings, sdkDebugWanted, SentryConfigError, sentryWanted } from '../../src/telemetry/sentry-config.js';

const DSN = 'https://abc123@o1.ingest.sentry.io/42';

describe('loadSentrySettings', () => {
  it('defaults: disabled, development, package release, 0.1 traces and profiles, static lifecycle', () => {
    const settings = loadSentrySettings({});
    expect(settings).toMatchObject({
      dsn: undefined,
      spotlight: false,
      environment: 'development',
      release: 'transcription-server@0.1.0',
      tracesSampleRate: 0.1,
      profilesSampleRate: 0.1,
      debug: false,
      traceLifecycle: 'static',
      trustClientSampling: false,
      samplingSecret: undefined,
    });
    expect(sentryWanted(settings)).toBe(false);
  });

  it('reads every variable', () => {
    const settings = loadSentrySettings({
      SENTRY_DSN: DSN,
      SENTRY_ENVIRONMENT: 'staging',
      SENTRY_RELEASE: 'transcription-server@1.2.3',
      SENTRY_TRACES_SAMPLE_RATE: '0',
      SENTRY_PROFILES_SAMPLE_RATE: '1',
      SENTRY_DEBUG: 'true',
      SENTRY_TRACE_LIFECYCLE: 'stream',
      SENTRY_TRUST_CLIENT_SAMPLING: 'true',
      SENTRY_SAMPLING_SECRET: 'shared-sampling-secret',
    });
    expect(settings).toMatchObject({
      trustClientSampling: true,
      samplingSecret: 'shared-sampling-secret',
      dsn: DSN,
      environment: 'staging',
      release: 'transcription-server@1.2.3',
      tracesSampleRate: 0,
      profilesSampleRate: 1,
      debug: true,
      traceLifecycle: 'stream',
    });
    expect(sentryWanted(settings)).toBe(true);
  });

  it('falls back to NODE_ENV for the environment', () => {
    expect(loadSentrySettings({ NODE_ENV: 'production' }).environment).toBe('production');
    expect(loadSentrySettings({ NODE_ENV: 'production', SENTRY_ENVIRONMENT: 'eu-1' }).environment).toBe('eu-1');
  });

  it('turns Sentry on for a local Spotlight sidecar without a DSN', () => {
    expect(loadSentrySettings({ SENTRY_SPOTLIGHT: '1' }).spotlight).toBe(true);
    expect(sentryWanted(loadSentrySettings({ SENTRY_SPOTLIGHT: 'true' }))).toBe(true);
    expect(loadSentrySettings({ SENTRY_SPOTLIGHT: 'http://localhost:9000/stream' }).spotlight).toBe('http://localhost:9000/stream');
    expect(sentryWanted(loadSentrySettings({ SENTRY_SPOTLIGHT: 'false' }))).toBe(false);
  });

  it.each([
    ['SENTRY_TRACES_SAMPLE_RATE', '1.01'],
    ['SENTRY_TRACES_SAMPLE_RATE', '-1'],
    ['SENTRY_PROFILES_SAMPLE_RATE', 'half'],
    ['SENTRY_PROFILES_SAMPLE_RATE', 'Infinity'],
  ])('refuses %s=%s, naming it', (variable, value) => {
    expect(() => loadSentrySettings({ [variable]: value })).toThrow(new SentryConfigError(`Invalid Sentry configuration: ${variable} must be a number from 0 to 1, got "${value}"`));
  });

  it('sizes the transport: 2000 envelopes and 200 connections by default, or as set', () => {
    expect(loadSentrySettings({})).toMatchObject({ transportBufferSize: 2000, transportConcurrency: 200 });
    expect(loadSentrySettings({ SENTRY_TRANSPORT_BUFFER_SIZE: '64', SENTRY_TRANSPORT_CONCURRENCY: '30' })).toMatchObject({
      transportBufferSize: 64,
      transportConcurrency: 30,
    });
  });

  it.each([
    ['SENTRY_TRANSPORT_BUFFER_SIZE', '0', 100000],
    ['SENTRY_TRANSPORT_BUFFER_SIZE', 'lots', 100000],
    ['SENTRY_TRANSPORT_CONCURRENCY', '2.5', 1000],
    ['SENTRY_TRANSPORT_CONCURRENCY', '5000', 1000],
  ])('refuses %s=%s, naming it', (variable, value, max) => {
    expect(() => loadSentrySettings({ [variable]: value })).toThrow(
      new SentryConfigError(`Invalid Sentry configuration: ${variable} must be a whole number from 1 to ${max}, got "${value}"`),
    );
  });

  it('names every bad variable at once', () => {
    const error = (() => {
      try {
        loadSentrySettings({ SENTRY_DSN: 'not-a-dsn', SENTRY_DEBUG: 'maybe', SENTRY_TRACES_SAMPLE_RATE: '2', SENTRY_TRACE_LIFECYCLE: 'later' });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error).toBeInstanceOf(SentryConfigError);
    for (const variable of ['SENTRY_DSN', 'SENTRY_DEBUG', 'SENTRY_TRACES_SAMPLE_RATE', 'SENTRY_TRACE_LIFECYCLE']) expect(error!.message).toContain(variable);
  });

  it('collects the configured secrets, including a Redis password, for scrubbing', () => {
    const { secrets } = loadSentrySettings({
      OPENAI_API_KEY: 'sk-live-key-123456',
      AUTH_TOKEN: 'client-token-abc',
      OPS_TOKEN: 'ops-token-xyz',
      SENTRY_SAMPLING_SECRET: 'sampling-secret-1',
      REDIS_URL: 'redis://:p%40ssword-1@redis.internal:6379/0',
    });
    expect(secrets.sort()).toEqual(['client-token-abc', 'ops-token-xyz', 'p@ssword-1', 'sampling-secret-1', 'sk-live-key-123456'].sort());
  });

  it('refuses a SENTRY_TRUST_CLIENT_SAMPLING that is not a boolean', () => {
    expect(() => loadSentrySettings({ SENTRY_TRUST_CLIENT_SAMPLING: 'sometimes' })).toThrow(
      new SentryConfigError('Invalid Sentry configuration: SENTRY_TRUST_CLIENT_SAMPLING must be true or false, got "sometimes"'),
    );
  });
});

describe('sdkDebugWanted', () => {
  it("keeps the SDK's debug code only when SENTRY_DEBUG is true", () => {
    expect(sdkDebugWanted({})).toBe(false);
    expect(sdkDebugWanted({ SENTRY_DEBUG: 'false' })).toBe(false);
    expect(sdkDebugWanted({ SENTRY_DEBUG: 'maybe' })).toBe(false);
    expect(sdkDebugWanted({ SENTRY_DEBUG: ' TRUE ' })).toBe(true);
    expect(sdkDebugWanted({ SENTRY_DEBUG: '1' })).toBe(true);
  });
});
