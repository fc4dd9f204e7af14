// The offline engine: transcribes each segment with one run of Debian's pocketsphinx_continuous (en-us model).
import { availableParallelism } from 'node:os';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { accessSync, constants, statSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { EngineError, EngineUnavailableError, type EngineResult, type SegmentAudio, type TranscriptionEngine } from './engine.js';
import { pcmProblem, resamplePcm16, wavHeader } from './wav.js';

/** Where Debian's pocketsphinx-en-us installs the model pocketsphinx_continuous loads by default. */
export const POCKETSPHINX_MODEL_DIR = '/usr/share/pocketsphinx/model/en-us';
/** The en-us acoustic model is trained on 16 kHz audio; other session rates are resampled to it. */
export const POCKETSPHINX_SAMPLE_RATE = 16000;

const INSTALL_HINT =
  'TRANSCRIBER=pocketsphinx needs Debian\'s pocketsphinx and pocketsphinx-en-us: run `apt-get install pocketsphinx pocketsphinx-en-us` (or set OPENAI_API_KEY to use Whisper)';
const STDERR_TAIL_BYTES = 4096;

export interface PocketsphinxEngineOptions {
  /** Executable name (looked up in PATH) or path, e.g. "pocketsphinx_continuous". */
  command: string;
  /** Where each segment's WAV is written for the process to read. Default: the OS temp dir. */
  tmpDir?: string;
  /** A run longer than this is killed and the segment fails (retryable). Default 60 s. */
  timeoutMs?: number;
  logger?: Logger;
}

/**
 * Throws EngineUnavailableError (with the apt-get command to fix it) unless `command` is an executable
 * and the en-us model is installed. Synchronous: it runs once, at start-up.
 */
export function assertPocketsphinxInstalled(command: string): void {
  if (!resolveCommand(command)) {
    throw new EngineUnavailableError(`${INSTALL_HINT}; "${command}" was not found or is not executable`);
  }
  for (const required of ['en-us', 'en-us.lm.bin', 'cmudict-en-us.dict']) {
    if (!exists(path.join(POCKETSPHINX_MODEL_DIR, required))) {
      throw new EngineUnavailableError(`${INSTALL_HINT}; the model is missing (${path.join(POCKETSPHINX_MODEL_DIR, required)})`);
    }
  }
}

/**
 * One pocketsphinx_continuous process per segment.
 * Measured here: ~0.3 s and ~100 MB RSS per segment for process start + model load, then ~0.2× real time to decode.
 */
export function createPocketsphinxEngine(options: PocketsphinxEngineOptions): TranscriptionEngine {
  const { command } = options;
  const logger = options.logger?.child({ engine: 'pocketsphinx' });
  const timeoutMs = options.timeoutMs ?? 60_000;
  const tmpDir = options.tmpDir ?? os.tmpdir();
  /** Abort functions of the processes now running, for close(). */
  const running = new Set<(error: EngineError) => void>();
  let closed = false;

  async function transcribe(segment: SegmentAudio): Promise<EngineResult> {
    if (closed) throw new EngineError('pocketsphinx engine is closed', { retryable: true });
    const problem = pcmProblem(segment.pcm, segment.sampleRate);
    if (problem) throw new EngineError(problem, { retryable: false });
    if (segment.pcm.length === 0) return { text: '' };
    const pcm = resamplePcm16(segment.pcm, segment.sampleRate, POCKETSPHINX_SAMPLE_RATE);
    const file = await writeSegmentWav(tmpDir, pcm);
    const started = Date.now();
    let text: string;
    try {
      text = await run(file);
    } finally {
      await rm(file, { force: true }).catch((error: unknown) => logger?.warn({ err: error }, 'could not delete a segment temp file'));
    }
    logger?.debug(
      { audioMs: Math.round((pcm.length / 2 / POCKETSPHINX_SAMPLE_RATE) * 1000), elapsedMs: Date.now() - started },
      'pocketsphinx transcribed segment',
    );
    return { text };
  }

  function run(file: string): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      if (closed) return reject(new EngineError('pocketsphinx engine closed while transcribing', { retryable: true }));
      // No -logfn /dev/null: the log goes to stderr, of which only the tail is kept, for error messages.
      const child = spawn(command, ['-infile', file, '-samprate', String(POCKETSPHINX_SAMPLE_RATE)], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const stdout: Buffer[] = [];
      let stderrTail = '';
      let settled = false;

      const finish = (error: EngineError | undefined, text?: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        running.delete(abort);
        if (error) reject(error);
        else resolve(text ?? '');
      };
      // Settles at once rather than on 'close', which would also wait for any grandchild holding stdout
      // (e.g. when POCKETSPHINX_COMMAND is a wrapper script).
      const abort = (error: EngineError) => {
        child.kill('SIGKILL');
        finish(error);
      };
      running.add(abort);
      const timer = setTimeout(
        () => abort(new EngineError(`pocketsphinx took longer than ${timeoutMs} ms on a segment and was killed`, { retryable: true })),
        timeoutMs,
      );

      child.stdout!.on('data', (chunk: Buffer) => stdout.push(chunk));
      child.stderr!.on('data', (chunk: Buffer) => {
        stderrTail = (stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
      });
      child.on('error', (error: NodeJS.ErrnoException) => {
        const missing = error.code === 'ENOENT' || error.code === 'EACCES';
        finish(
          new EngineError(
            missing ? `${INSTALL_HINT}; cannot run "${command}" (${error.code})` : `pocketsphinx could not start: ${error.message}`,
            { retryable: !missing, cause: error },
          ),
        );
      });
      child.on('close', (code, signal) => {
        if (code === 0) {
          finish(undefined, linesToText(Buffer.concat(stdout).toString('utf8')));
        } else {
          // A signal (e.g. the OOM killer) may not recur; a non-zero exit is pocketsphinx refusing the setup or input.
          const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
          finish(new EngineError(`pocketsphinx ${how}: ${summariseLog(stderrTail) || 'no error output'}`, { retryable: signal !== null }));
        }
      });
    });
  }

  return {
    name: 'pocketsphinx',
    model: 'en-us',
    tracesOwnRequests: false,
    // One process per segment: more at once than cores only makes each slower.
    capacity: availableParallelism(),
    transcribe,
    async check() {
      assertPocketsphinxInstalled(command);
    },
    async close() {
      closed = true;
      for (const abort of running) abort(new EngineError('pocketsphinx engine closed while transcribing', { retryable: true }));
    },
  };
}

/**
 * Writes the segment as a 16 kHz WAV file for the process, readable only by this user.
 * A file, not stdin: Node gives children a socket, not a pipe, as stdin, and pocketsphinx_continuous
 * cannot open /dev/stdin on a socket (ENXIO); it also only skips a WAV header in files named *.wav.
 */
async function writeSegmentWav(dir: string, pcm: Buffer): Promise<string> {
  const file = path.join(dir, `segment-${randomUUID()}.wav`);
  let handle;
  try {
    handle = await open(file, 'wx', 0o600);
    const header = wavHeader(pcm.length, POCKETSPHINX_SAMPLE_RATE);
    const { bytesWritten } = await handle.writev([header, pcm]);
    if (bytesWritten !== header.length + pcm.length) throw new Error(`short write (${bytesWritten} bytes)`);
  } catch (error) {
    await handle?.close();
    await rm(file, { force: true });
    throw new EngineError(`cannot write the segment to ${dir}: ${(error as Error).message}`, { retryable: true, cause: error });
  }
  await handle.close();
  return file;
}

/** One hypothesis line per utterance the recogniser found; a segment's text is all of them. */
function linesToText(stdout: string): string {
  return stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .join(' ');
}

/** The ERROR/FATAL lines of pocketsphinx's log, or its last lines when there are none. */
function summariseLog(tail: string): string {
  const lines = tail.split('\n').map((line) => line.trim()).filter((line) => line !== '');
  const errors = lines.filter((line) => /^(ERROR|FATAL|FATAL_ERROR)\b/.test(line));
  return (errors.length > 0 ? errors : lines).slice(-3).join(' | ');
}

function resolveCommand(command: string): string | undefined {
  if (command.includes('/')) return isExecutableFile(command) ? command : undefined;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, command);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

function isExecutableFile(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

function exists(file: string): boolean {
  try {
    statSync(file);
    return true;
  } catch {
    return false;
  }
}
