// Helpers for the multi-process deployment tests: reading the servers' JSON log lines, and checking what the OpenAI
// stub received against the audio a session sent.
import type { TranscriptionResult } from '../../src/protocol/index.js';
import type { OpenAIStub } from '../support/openai-stub.js';

export type LogLine = Record<string, any>;

export function jsonLines(lines: string[]): LogLine[] {
  const out: LogLine[] = [];
  for (const line of lines) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as LogLine);
    } catch {
      // a partial line
    }
  }
  return out;
}

/** 16 kHz mono 16-bit: bytes per millisecond. */
const BYTES_PER_MS = 32;

/** The stub upload behind a result: the stub answers upload number K with the text "segment K". */
export function uploadOf(stub: OpenAIStub, result: TranscriptionResult) {
  const match = /^segment (\d+)$/.exec(result.text);
  return match ? stub.uploads[Number(match[1])] : undefined;
}

/** True when every result's upload holds exactly the bytes of `source` its [start_ms, end_ms) names. */
export function uploadedAudioMatches(stub: OpenAIStub, results: TranscriptionResult[], source: Buffer): boolean {
  return results.every((result) => {
    const upload = uploadOf(stub, result);
    const expected = source.subarray(Math.round(result.start_ms * BYTES_PER_MS), Math.round(result.end_ms * BYTES_PER_MS));
    return upload !== undefined && upload.pcm.equals(expected);
  });
}

/** How many stub uploads carried exactly the audio [startMs, endMs) of `source` (a segment sent twice counts 2). */
export function uploadsOfRange(stub: OpenAIStub, source: Buffer, startMs: number, endMs: number): number {
  const expected = source.subarray(Math.round(startMs * BYTES_PER_MS), Math.round(endMs * BYTES_PER_MS));
  return stub.uploads.filter((upload) => upload.pcm.equals(expected)).length;
}
