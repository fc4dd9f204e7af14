// `npm run bench:stt -- --only restart` in miniature, so the benchmark's restart cannot rot: a server on Redis is killed
// (SIGKILL) under a few real-time speakers and started again on its port; every speaker resumes its session and sends
// again what the new process did not have, and every session completes with its audio covered. Its latencies are not
// checked.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSpeechSample } from '../../src/loadtest/index.js';
import { stopAll } from '../../bench/shared/processes.js';
import { ROOT, startInfrastructure, type Infrastructure } from '../../bench/shared/servers.js';
import { SpeakerAudio } from '../../bench/stt/speaker.js';
import { runStep } from '../../bench/stt/step.js';

const PAUSES = fileURLToPath(new URL('../fixtures/hello-with-pauses.wav', import.meta.url));

let infra: Infrastructure;
beforeAll(async () => {
  infra = await startInfrastructure(true);
}, 20_000);
afterAll(() => stopAll(), 20_000);

describe('bench:stt restart', () => {
  it('speakers resume after a SIGKILL and a restart on the same port, and no accepted audio is lost', { timeout: 45_000 }, async () => {
    expect(existsSync(`${ROOT}dist/main.js`), 'dist/main.js is missing: run npm run build').toBe(true);
    const audio = new SpeakerAudio(await loadSpeechSample(PAUSES), 100);
    const step = await runStep(
      {
        configuration: { id: 'redis', label: 'Redis store', kind: 'server', store: 'redis' },
        enginePath: '/delay/200',
        env: {},
        sessions: 3,
        audioMs: 6000,
        rampUpMs: 500,
        interim: false,
        overloadRetries: 0,
        offsetStep: 0,
        // The recording from its start for every speaker: its 6 s end in speech the server transcribes at end_session
        // (some other offsets end in a tail the server's VAD and the bench's coverage check judge differently).
        fixedOffsetBytes: 0,
        sampleServer: true,
        resume: { delayMs: 200, maxDelayMs: 1000, randomization: 0.5 },
        restartAtMs: 2500,
      },
      infra,
      audio,
      -45,
      { maxOtherCores: Infinity, waitMs: 0 },
    );
    expect(step.failures, JSON.stringify(step.errors)).toEqual({});
    expect(step.completed).toBe(3);
    expect(step.lostSpeechMs).toBe(0);
    expect(step.uncountedMs).toBe(0);
    expect(step.restart!.resumed).toBe(3);
    // Chunks were due while the server was away, so the resumes sent some.
    expect(step.restart!.resent).toBeGreaterThan(0);
    expect(step.restart!.after.finals).toBeGreaterThan(0);
    // The server was read every second, before and after the kill.
    expect(step.series!.limit.filter((v) => v !== null).length).toBeGreaterThan(1);
  });
});
