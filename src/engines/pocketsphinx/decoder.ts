// One long-lived pocketsphinx_batch process: the model is loaded once, then segments are decoded one at a time.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { constants, openSync } from 'node:fs';
import { mkdtemp, open, rm, writeFile, type FileHandle } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { EngineError } from '../engine.js';
import { INSTALL_HINT, POCKETSPHINX_MODEL, POCKETSPHINX_SAMPLE_RATE } from './install.js';

const STDERR_TAIL_BYTES = 4096;
/**
 * One segmentation line per utterance (-hypseg): "<utterance id> S <n> T <n> A <n> L <n>" then, per word, its first
 * frame, acoustic and language scores and the word, and at the end the frame after the last; no words for silence.
 */
const HYPSEG = /^(\S+) S -?\d+ T -?\d+ A -?\d+ L -?\d+((?: \S+)*)$/;
/** The decoder's frame rate (-frate, default 100 a second). */
const FRAME_MS = 10;

/** A word as pocketsphinx aligned it, in ms from the start of the segment. */
export interface DecodedWord {
  word: string;
  startMs: number;
  endMs: number;
}

export interface Decoded {
  text: string;
  words: DecodedWord[];
}

/**
 * The words of a -hypseg line's tail, fillers (<s>, </s>, <sil>, [NOISE]) left out and alternative pronunciations'
 * marks ("we're(3)") removed: the same words, in order, as the plain hypothesis (-hyp) holds.
 */
export function parseSegmentation(tail: string): Decoded {
  const fields = tail.trim().split(/\s+/).filter(Boolean);
  const words: DecodedWord[] = [];
  for (let i = 0; i + 3 < fields.length; i += 4) {
    const startFrame = Number(fields[i]);
    const word = fields[i + 3]!;
    const endFrame = Number(fields[i + 4] ?? startFrame);
    if (/^[<[]/.test(word)) continue;
    words.push({ word: word.replace(/\(\d+\)$/, ''), startMs: startFrame * FRAME_MS, endMs: endFrame * FRAME_MS });
  }
  return { text: words.map((w) => w.word).join(' '), words };
}

/** The process ended (crash, kill, OOM killer) before answering: the segment may succeed on a new decoder. */
export class DecoderGoneError extends EngineError {
  constructor(message: string, cause?: unknown) {
    super(message, { retryable: true, cause });
    this.name = 'DecoderGoneError';
  }
}

export interface DecoderOptions {
  /** Executable name (looked up in PATH) or path, e.g. "pocketsphinx_batch". */
  command: string;
  /** Parent of the decoder's own working directory (control pipe, hypothesis pipe, segment files). */
  tmpDir: string;
  /** Search settings (beams, passes, frame rate); default DECODER_SEARCH_ARGS. */
  searchArgs?: readonly string[];
  logger?: Logger;
}

/**
 * The decoder's search settings (POCKETSPHINX_SEARCH), measured in BENCHMARKS.md, "Offline engine: decoder pool".
 * pocketsphinx spends ~80 % of its time in the first (tree) pass, so both prune that pass; the second (flat) pass and
 * best-path search stay on: without them word accuracy fell from 98 % to 68–89 %. Every narrower beam, fewer Gaussians
 * (-topn) or skipped frames (-ds) measured cost words.
 */
export const DECODER_SEARCH = {
  /**
   * About 0.75× the CPU of pocketsphinx's defaults (0.65–0.9× measured), the same words on every clip measured: at most
   * 5,000 active HMMs a frame (default 30,000), so busy frames drop their worst-scoring ones, which never won.
   */
  accurate: ['-maxhmmpf', '5000'],
  /**
   * About 0.8× the CPU of `accurate`, a few words in a hundred lost: word-final phones also kept only within 1e-30 /
   * 1e-20 of the best (defaults 1e-40 / 7e-29).
   */
  fast: ['-maxhmmpf', '5000', '-lpbeam', '1e-30', '-lponlybeam', '1e-20'],
} as const satisfies Record<string, readonly string[]>;

export type DecoderSearch = keyof typeof DECODER_SEARCH;

export const DEFAULT_DECODER_SEARCH: DecoderSearch = 'accurate';
export const DECODER_SEARCH_ARGS: readonly string[] = DECODER_SEARCH[DEFAULT_DECODER_SEARCH];

interface Request {
  id: string;
  settle(error: EngineError | undefined, decoded?: Decoded): void;
}

/**
 * pocketsphinx_batch reads utterance names from a control file and appends each hypothesis to a hypothesis file.
 * Both are named pipes here, so the process waits on the next name with the model in memory. Pipes, not stdio:
 * Node hands children sockets, which pocketsphinx cannot fopen("/dev/stdin") (ENXIO).
 */
export class Decoder {
  private current: Request | undefined;
  private failure: EngineError | undefined;
  private count = 0;
  private stderrTail = '';
  private stderrLine = '';
  private hypLine = '';
  private stopping: Promise<void> | undefined;
  private readonly exited: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    private readonly control: FileHandle,
    private readonly hypotheses: net.Socket,
    private readonly command: string,
    private readonly logger: Logger | undefined,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        // Its last log lines may still be in the pipe: wait for them (briefly: a wrapper's child may hold it open).
        const stderrEnded = child.stderr!.destroyed ? Promise.resolve() : new Promise((done) => child.stderr!.once('close', done));
        void Promise.race([stderrEnded, new Promise((done) => setTimeout(done, 200))]).then(() => {
          this.fail(new DecoderGoneError(`pocketsphinx ${how}: ${summariseLog(this.stderrTail) || 'no error output'}`));
          resolve();
        });
      });
      child.once('error', (error: NodeJS.ErrnoException) => {
        const missing = error.code === 'ENOENT' || error.code === 'EACCES';
        this.fail(
          new EngineError(
            missing ? `${INSTALL_HINT}; cannot run "${command}" (${error.code})` : `pocketsphinx could not start: ${error.message}`,
            { retryable: !missing, cause: error },
          ),
        );
        resolve();
      });
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => this.onStderr(chunk));
    hypotheses.setEncoding('utf8').on('data', (chunk: string) => this.onHypotheses(chunk));
  }

  /** Makes the working directory and pipes and starts the process; the model loads while the first segment waits. */
  static async start({ command, tmpDir, searchArgs = DECODER_SEARCH_ARGS, logger }: DecoderOptions): Promise<Decoder> {
    let dir: string;
    try {
      dir = await mkdtemp(path.join(tmpDir, 'pocketsphinx-'));
    } catch (error) {
      throw new EngineError(`cannot create a pocketsphinx working directory in ${tmpDir}: ${(error as Error).message}`, { cause: error });
    }
    const controlPath = path.join(dir, 'control');
    const hypothesesPath = path.join(dir, 'hypotheses');
    let control: FileHandle | undefined;
    let hypotheses: net.Socket | undefined;
    try {
      await promisify(execFile)('mkfifo', ['-m', '600', controlPath, hypothesesPath]);
      // Read-write opens of a pipe do not wait for the other end (Linux), and keep it from reading end-of-file.
      control = await open(controlPath, 'r+');
      hypotheses = new net.Socket({ fd: openSync(hypothesesPath, constants.O_RDWR | constants.O_NONBLOCK), readable: true, writable: false });
    } catch (error) {
      hypotheses?.destroy();
      await control?.close();
      await rm(dir, { recursive: true, force: true });
      throw new EngineError(`cannot create the pocketsphinx pipes in ${dir}: ${(error as Error).message}`, { cause: error });
    }
    const args = [
      ...['-hmm', POCKETSPHINX_MODEL.hmm, '-lm', POCKETSPHINX_MODEL.lm, '-dict', POCKETSPHINX_MODEL.dict],
      ...['-samprate', String(POCKETSPHINX_SAMPLE_RATE), '-adcin', 'yes', '-cepdir', dir, '-cepext', '.raw'],
      ...['-ctl', controlPath, '-hypseg', hypothesesPath],
      ...searchArgs,
    ];
    // Its own process group, so stop() also ends whatever a wrapper script (POCKETSPHINX_COMMAND) started.
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    const decoder = new Decoder(child, dir, control, hypotheses, command, logger);
    logger?.debug({ pid: child.pid }, 'pocketsphinx decoder started');
    return decoder;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** False once the process has ended or been killed: the pool then starts another. */
  get alive(): boolean {
    return this.failure === undefined;
  }

  /** Decodes one segment of 16 kHz mono s16le PCM; a decoder takes one segment at a time. */
  async decode(pcm: Buffer, timeoutMs: number): Promise<Decoded> {
    if (this.failure) throw this.failure;
    if (this.current) throw new Error('pocketsphinx decoder is busy: the pool gives it one segment at a time');
    const id = `segment-${++this.count}`;
    const file = path.join(this.dir, `${id}.raw`);
    try {
      await writeFile(file, pcm, { mode: 0o600, flag: 'wx' });
    } catch (error) {
      await rm(file, { force: true });
      throw new EngineError(`cannot write the segment to ${this.dir}: ${(error as Error).message}`, { cause: error });
    }
    try {
      return await new Promise<Decoded>((resolve, reject) => {
        if (this.failure) return reject(this.failure);
        const timer = setTimeout(() => {
          this.fail(new EngineError(`pocketsphinx took longer than ${timeoutMs} ms on a segment and was restarted`));
          this.kill();
        }, timeoutMs);
        this.current = {
          id,
          settle: (error, decoded) => {
            clearTimeout(timer);
            this.current = undefined;
            if (error) reject(error);
            else resolve(decoded ?? { text: '', words: [] });
          },
        };
        this.control.write(`${id}\n`).catch((error: unknown) => {
          this.current?.settle(new EngineError(`cannot hand the segment to pocketsphinx: ${(error as Error).message}`, { cause: error }));
        });
      });
    } finally {
      await rm(file, { force: true }).catch((error: unknown) => this.logger?.warn({ err: error }, 'could not delete a segment temp file'));
    }
  }

  /** Ends the process (and its group) and removes the working directory. Safe to call more than once. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.fail(new DecoderGoneError('pocketsphinx decoder stopped'));
      this.kill();
      await this.exited;
      this.hypotheses.destroy();
      await this.control.close().catch(() => undefined);
      await rm(this.dir, { recursive: true, force: true });
    })();
    return this.stopping;
  }

  /** Marks the decoder unusable and fails the segment in hand, keeping the first reason. */
  private fail(error: EngineError): void {
    this.failure ??= error;
    this.current?.settle(this.failure);
  }

  private kill(): void {
    const { pid } = this.child;
    if (pid === undefined || this.child.exitCode !== null || this.child.signalCode !== null) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      this.child.kill('SIGKILL'); // the group is already gone; make sure of the process itself
    }
  }

  private onHypotheses(chunk: string): void {
    const lines = (this.hypLine + chunk).split('\n');
    this.hypLine = lines.pop()!;
    for (const line of lines) {
      const match = HYPSEG.exec(line);
      const current = this.current;
      if (match && current && current.id === match[1]) current.settle(undefined, parseSegmentation(match[2]!));
      else this.logger?.warn({ command: this.command, line: line.slice(0, 200) }, 'unexpected pocketsphinx hypothesis line');
    }
  }

  private onStderr(chunk: string): void {
    this.stderrTail = (this.stderrTail + chunk).slice(-STDERR_TAIL_BYTES);
    const lines = (this.stderrLine + chunk).split('\n');
    this.stderrLine = lines.pop()!.slice(-STDERR_TAIL_BYTES);
    // An unreadable segment gets no hypothesis line at all, only this log line.
    const current = this.current;
    if (current && lines.some((line) => line.includes('Failed to open') && line.includes(`/${current.id}.raw`))) {
      current.settle(new EngineError(`pocketsphinx could not read the segment file: ${summariseLog(lines.join('\n'))}`));
    }
  }
}

/** The ERROR/FATAL lines of pocketsphinx's log, or its last lines when there are none. */
function summariseLog(tail: string): string {
  const lines = tail.split('\n').map((line) => line.trim()).filter((line) => line !== '');
  const errors = lines.filter((line) => /^(ERROR|FATAL|FATAL_ERROR)\b/.test(line));
  return (errors.length > 0 ? errors : lines).slice(-3).join(' | ');
}
