// The benchmark's engine stub behaves as its base URL path says: a concurrency quota answered with 429 and
// Retry-After, deterministic text from the uploaded audio, and counts of what it answered and refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChild, stopAll } from '../../bench/shared/processes.js';
import { wavHeader } from '../../src/audio/wav.js';

let origin = '';

beforeAll(async () => {
  const { match } = await startChild('engine stub', {
    command: process.execPath,
    args: ['bench/shared/engine-stub.mjs'],
    env: { PATH: process.env.PATH },
    readyLine: /listening on port (\d+)/,
  });
  origin = `http://127.0.0.1:${match![1]}`;
});

afterAll(() => stopAll());

/** A multipart upload as the OpenAI SDK sends it: a WAV file part, then a model field. */
function upload(pcm: Buffer): FormData {
  const form = new FormData();
  const wav = new Uint8Array(Buffer.concat([wavHeader(pcm.length, 16000), pcm]));
  form.append('file', new Blob([wav], { type: 'audio/wav' }), 'segment.wav');
  form.append('model', 'whisper-1');
  return form;
}

const pcmOf = (seed: number) => Buffer.from(Array.from({ length: 3200 }, (_, i) => (i * seed) % 256));

async function transcribe(path: string, pcm: Buffer): Promise<Response> {
  return fetch(`${origin}${path}/v1/audio/transcriptions`, { method: 'POST', body: upload(pcm) });
}

describe('engine stub', () => {
  it('answers beyond its quota with 429, Retry-After and retry-after-ms, and counts both', async () => {
    const before = (await (await fetch(`${origin}/count`)).json()) as { answered: number; refused: number };
    const responses = await Promise.all([0, 1, 2].map(() => transcribe('/delay/1000/quota/2', pcmOf(3))));
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 429]);
    const refused = responses.find((r) => r.status === 429)!;
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const retryMs = Number(refused.headers.get('retry-after-ms'));
    expect(retryMs).toBeGreaterThan(0);
    expect(retryMs).toBeLessThanOrEqual(1000);
    const after = (await (await fetch(`${origin}/count`)).json()) as { answered: number; refused: number };
    expect(after.answered - before.answered).toBe(2);
    expect(after.refused - before.refused).toBe(1);
  });

  it('gives the same text for the same audio and another for other audio in /text/hash mode', async () => {
    const text = async (pcm: Buffer) => ((await (await transcribe('/text/hash', pcm)).json()) as { text: string }).text;
    const first = await text(pcmOf(3));
    expect(first).toMatch(/^a3200 h[0-9a-f]{10}$/);
    expect(await text(pcmOf(3))).toBe(first);
    expect(await text(pcmOf(5))).not.toBe(first);
  });
});
