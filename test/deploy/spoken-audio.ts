// The spoken fixture as a session's audio for the multi-process tests, with seeded ±1 LSB dither: each session's
// bytes are its own (an engine upload names the session and range it came from), and no frame is digital silence.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { decodeWavToPcm16 } from '../../src/audio/wav-decode.js';
import { ROOT } from '../support/spawn-server.js';

const speech = decodeWavToPcm16(readFileSync(path.join(ROOT, 'test/fixtures/hello-with-pauses.wav'))).pcm;

export function sessionAudio(seed: number): Buffer {
  const pcm = Buffer.alloc(speech.length);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < speech.length; i += 2) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    pcm.writeInt16LE(Math.max(-32768, Math.min(32767, speech.readInt16LE(i) + ((state >>> 30) % 3) - 1)), i);
  }
  return pcm;
}
