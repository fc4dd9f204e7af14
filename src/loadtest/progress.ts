// The live progress line: rewritten in place on a terminal, printed every few seconds into a log.
import type { ProgressSnapshot } from './recorder.js';

export interface ProgressLine {
  update(snapshot: ProgressSnapshot): void;
  /** Leaves the terminal on a fresh line for what follows. */
  done(): void;
}

export function describeProgress(snapshot: ProgressSnapshot, chunksPerSecond: number): string {
  const elapsed = (snapshot.elapsedMs / 1000).toFixed(1).padStart(6);
  return (
    `[${elapsed}s] sessions ${snapshot.sessionsConnected}/${snapshot.sessionsPlanned} connected` +
    `${snapshot.sessionsFinished ? `, ${snapshot.sessionsFinished} finished` : ''}` +
    ` · ${Math.round(chunksPerSecond).toLocaleString('en-US')} chunks/s` +
    ` · ${snapshot.results} results · ${snapshot.errors} error${snapshot.errors === 1 ? '' : 's'}`
  );
}

export function createProgressLine(stream: NodeJS.WriteStream = process.stderr): ProgressLine {
  const tty = stream.isTTY === true;
  let previous: ProgressSnapshot | undefined;
  let lastPrinted = -Infinity;
  let dirty = false;
  return {
    update(snapshot) {
      const chunksPerSecond =
        previous && snapshot.elapsedMs > previous.elapsedMs
          ? ((snapshot.chunksAcked - previous.chunksAcked) * 1000) / (snapshot.elapsedMs - previous.elapsedMs)
          : 0;
      previous = snapshot;
      const line = describeProgress(snapshot, chunksPerSecond);
      if (tty) {
        stream.write(`\r\x1b[2K${line}`);
        dirty = true;
      } else if (snapshot.elapsedMs - lastPrinted >= 5000) {
        // A log gets a line every 5 s, not a carriage-return storm.
        stream.write(`${line}\n`);
        lastPrinted = snapshot.elapsedMs;
      }
    },
    done() {
      if (dirty) stream.write('\n');
      dirty = false;
    },
  };
}
