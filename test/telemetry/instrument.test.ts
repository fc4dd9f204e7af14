// Start-up of the instrument module in the built server: its one log line, a bad sample rate stopping start-up,
// and a server without SENTRY_DSN working as before.
import { afterEach, describe, expect, it } from 'vitest';
import { chunksOf, silentPcm } from '../support/audio.js';
import { connect } from '../support/harness.js';
import { sendChunks, startSession } from '../support/pipeline.js';
import { startSentrySink, type SentrySink } from '../support/sentry-sink.js';
import { runServerToExit, spawnServer, type SpawnedServer } from '../support/spawn-server.js';

/** The pocketsphinx engine is only started, never called (silent audio), so these tests need no stub. */
const BASE = { TRANSCRIBER: 'pocketsphinx' };

let server: SpawnedServer | undefined;
let sink: SentrySink | undefined;
afterEach(async () => {
  await server?.stop();
  await sink?.close();
  server = sink = undefined;
});

function sentryLines(lines: string[]): string[] {
  return lines.filter((line) => line.includes('Sentry')).map((line) => (JSON.parse(line) as { msg: string }).msg);
}

describe('instrument module', () => {
  it('logs "Sentry disabled" once without SENTRY_DSN, and the server works as before', async () => {
    server = await spawnServer(BASE);
    expect(sentryLines(server.stdout)).toEqual(['Sentry disabled: SENTRY_DSN not set']);

    const c = await connect(server.url);
    const id = await startSession(c, {});
    expect((await sendChunks(c, id, chunksOf(silentPcm(300), 100))).every((a) => a.ok)).toBe(true);
    expect((await c.call('end_session', { session_id: id })).ok).toBe(true);
    c.close();
    expect(await (await fetch(`${server.opsUrl}/healthz`)).json()).toEqual({ status: 'ok' });
  });

  it('logs "Sentry initialized" once with the environment, release and rates', async () => {
    sink = await startSentrySink();
    server = await spawnServer({ ...BASE, SENTRY_DSN: sink.dsn, SENTRY_ENVIRONMENT: 'staging', SENTRY_TRACES_SAMPLE_RATE: '0.25', SENTRY_PROFILES_SAMPLE_RATE: '0' });
    expect(sentryLines(server.stdout)).toEqual(['Sentry initialized: env=staging, release=transcription-server@0.1.0, traces=0.25, profiles=0']);
  });

  it('uses SENTRY_RELEASE and the default rates when given', async () => {
    sink = await startSentrySink();
    server = await spawnServer({ ...BASE, SENTRY_DSN: sink.dsn, SENTRY_RELEASE: 'transcription-server@abc123', NODE_ENV: 'production', ALLOW_ANONYMOUS: 'true' });
    expect(sentryLines(server.stdout)).toEqual(['Sentry initialized: env=production, release=transcription-server@abc123, traces=0.1, profiles=0.1']);
  });

  it('sends to a local Spotlight sidecar without any DSN', async () => {
    sink = await startSentrySink();
    // The sink stands in for the sidecar: it accepts envelopes on any path.
    const sidecar = sink.dsn.replace(/^http:\/\/publickey@([^/]+)\/1$/, 'http://$1/stream');
    server = await spawnServer({ ...BASE, SENTRY_SPOTLIGHT: sidecar, SENTRY_TRACES_SAMPLE_RATE: '1', SENTRY_PROFILES_SAMPLE_RATE: '0' });
    expect(sentryLines(server.stdout)).toEqual([`Sentry initialized: env=development, release=transcription-server@0.1.0, traces=1, profiles=0, spotlight=${sidecar}`]);

    const c = await connect(server.url);
    const id = await startSession(c, {});
    c.close();
    const received = await sink.waitFor((r) => r.transactions.some((t) => t.data['session.id'] === id), 'the start_session transaction at the sidecar');
    expect(received.envelopes.every((e) => e.path === '/stream')).toBe(true);
  });

  it.each([
    ['SENTRY_TRACES_SAMPLE_RATE', '1.5'],
    ['SENTRY_PROFILES_SAMPLE_RATE', '-0.1'],
    ['SENTRY_TRACES_SAMPLE_RATE', 'often'],
  ])('stops start-up with exit code 1 when %s=%s, naming the variable', async (variable, value) => {
    const result = await runServerToExit({ ...BASE, SENTRY_DSN: 'http://publickey@127.0.0.1:9/1', [variable]: value });
    expect(result.code).toBe(1);
    expect(result.stderr.join('\n')).toContain(`${variable} must be a number from 0 to 1, got "${value}"`);
    expect(result.stdout.join('\n')).not.toContain('listening');
  });
});
