// Streams audio through a test client the way a real client does: start, numbered chunks, end.
import type { TestClient } from './harness.js';
import { chunksOf } from './audio.js';

export async function startSession(client: TestClient, payload: Record<string, unknown> = {}): Promise<string> {
  const ack = await client.call('start_session', payload);
  if (!ack.ok) throw new Error(`start_session refused: ${JSON.stringify(ack.error)}`);
  return ack.session_id as string;
}

/** Sends each chunk with its seq (from `firstSeq`), one after another; returns the acks. */
export async function sendChunks(client: TestClient, sessionId: string, chunks: Buffer[], firstSeq = 0): Promise<any[]> {
  const acks = [];
  for (let i = 0; i < chunks.length; i++) {
    acks.push(await client.call('audio_chunk', { session_id: sessionId, seq: firstSeq + i, chunk: chunks[i] }));
  }
  return acks;
}

/** start_session, every 100 ms chunk, end_session: returns the end ack. */
export async function streamWhole(client: TestClient, pcm: Buffer, payload: Record<string, unknown> = {}) {
  const sessionId = await startSession(client, payload);
  const acks = await sendChunks(client, sessionId, chunksOf(pcm, 100));
  const refused = acks.filter((a) => !a.ok);
  if (refused.length > 0) throw new Error(`chunks refused: ${JSON.stringify(refused[0])}`);
  const end = await client.call('end_session', { session_id: sessionId });
  return { sessionId, acks, end };
}
