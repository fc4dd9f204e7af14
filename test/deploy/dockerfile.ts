// Reads deploy/Dockerfile into its stages and replays their COPY and RUN steps in temp folders, so a test can
// perform the image build without a Docker engine and the Dockerfile cannot rot unnoticed.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';

export interface Instruction {
  keyword: string;
  args: string;
  /** 1-based line in the Dockerfile, for messages. */
  line: number;
}

export interface Stage {
  name: string;
  image: string;
  instructions: Instruction[];
}

/** Joins continuation lines, drops comments, and groups instructions by FROM. */
export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    while (line.endsWith('\\') && i + 1 < lines.length) line = `${line.slice(0, -1).trim()} ${lines[++i]!.trim()}`;
    const [keyword = '', ...rest] = line.split(/\s+/);
    const instruction = { keyword: keyword.toUpperCase(), args: rest.join(' '), line: start + 1 };
    if (instruction.keyword === 'FROM') {
      const [image = '', as, name] = rest;
      stages.push({ image, name: as?.toUpperCase() === 'AS' && name ? name : String(stages.length), instructions: [] });
    } else {
      if (stages.length === 0) throw new Error(`Dockerfile line ${instruction.line}: ${keyword} before FROM`);
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return stages;
}

/** `--flag=value` options at the front of an instruction's arguments, and the rest. */
function splitFlags(args: string): { flags: Record<string, string>; rest: string } {
  const flags: Record<string, string> = {};
  let rest = args;
  for (let match = /^--([\w-]+)=(\S+)\s+/.exec(rest); match; match = /^--([\w-]+)=(\S+)\s+/.exec(rest)) {
    flags[match[1]!] = match[2]!;
    rest = rest.slice(match[0].length);
  }
  return { flags, rest };
}

/** `ENV A=1 B=2` (quotes allowed around values) or the legacy `ENV A 1`. */
function parseEnv(args: string): Record<string, string> {
  if (!/^\w+=/.test(args)) {
    const [key = '', ...value] = args.split(/\s+/);
    return { [key]: value.join(' ') };
  }
  const env: Record<string, string> = {};
  for (const match of args.matchAll(/(\w+)=("([^"]*)"|\S*)/g)) env[match[1]!] = match[3] ?? match[2]!;
  return env;
}

export interface ReplayedStage {
  stage: Stage;
  /** The folder standing in for the stage's filesystem root. */
  root: string;
  workdir: string;
  env: Record<string, string>;
  user: string | undefined;
  /** RUN commands that install system packages (apt-get): not replayed; the host must already have them. */
  systemSteps: string[];
  /** RUN commands that were run, in order. */
  ran: string[];
  cmd: string[] | undefined;
  healthcheck: string[] | undefined;
}

export interface ReplayOptions {
  /** The build context (the repository root). */
  context: string;
  /** Each stage gets `<into>/<stage name>` as its root. */
  into: string;
  /** Added to every RUN's environment (e.g. npm cache settings). */
  runEnv?: NodeJS.ProcessEnv;
  /** Called before each RUN, e.g. to log progress. */
  onRun?: (stage: string, command: string) => void;
}

/** The exec form `["a", "b"]` of CMD / HEALTHCHECK CMD; the shell form becomes `sh -c`. */
function execForm(args: string): string[] {
  return args.startsWith('[') ? (JSON.parse(args) as string[]) : ['sh', '-c', args];
}

/** Performs every stage in order: COPY from the context or an earlier stage, ENV, WORKDIR, RUN. */
export function replayDockerfile(stages: Stage[], options: ReplayOptions): ReplayedStage[] {
  const done = new Map<string, ReplayedStage>();
  for (const stage of stages) {
    const root = path.join(options.into, stage.name);
    mkdirSync(root, { recursive: true });
    const state: ReplayedStage = { stage, root, workdir: '/', env: {}, user: undefined, systemSteps: [], ran: [], cmd: undefined, healthcheck: undefined };
    const inStage = (p: string) => path.join(root, path.posix.isAbsolute(p) ? p : path.posix.join(state.workdir, p));
    for (const { keyword, args, line } of stage.instructions) {
      switch (keyword) {
        case 'WORKDIR':
          state.workdir = path.posix.resolve(state.workdir, args);
          mkdirSync(inStage('.'), { recursive: true });
          break;
        case 'ENV':
          Object.assign(state.env, parseEnv(args));
          break;
        case 'USER':
          state.user = args;
          break;
        case 'COPY': {
          const { flags, rest } = splitFlags(args);
          const parts = rest.split(/\s+/);
          const dest = parts.pop()!;
          const from = flags.from ? done.get(flags.from) : undefined;
          if (flags.from && !from) throw new Error(`Dockerfile line ${line}: no earlier stage "${flags.from}"`);
          for (const source of parts) {
            const src = from ? path.join(from.root, source) : path.join(options.context, source);
            const target = inStage(dest);
            // Docker copies a folder's contents into dest; a file into dest/ when dest names a folder.
            const intoFolder = dest.endsWith('/') || parts.length > 1;
            const isFolder = statSync(src).isDirectory();
            cpSync(src, isFolder || !intoFolder ? target : path.join(target, path.basename(source)), { recursive: true });
          }
          break;
        }
        case 'RUN': {
          const { rest: command } = splitFlags(args);
          if (/\bapt-get\b/.test(command)) {
            state.systemSteps.push(command);
            break;
          }
          options.onRun?.(stage.name, command);
          execFileSync('sh', ['-c', command], {
            cwd: inStage('.'),
            env: { ...process.env, ...options.runEnv, ...state.env },
            stdio: ['ignore', 'pipe', 'pipe'],
            maxBuffer: 64 * 1024 * 1024,
          });
          state.ran.push(command);
          break;
        }
        case 'CMD':
          state.cmd = execForm(args);
          break;
        case 'HEALTHCHECK': {
          const { rest } = splitFlags(args);
          state.healthcheck = rest.startsWith('CMD ') ? execForm(rest.slice(4).trim()) : undefined;
          break;
        }
        case 'EXPOSE':
        case 'LABEL':
        case 'ARG':
          break;
        default:
          throw new Error(`Dockerfile line ${line}: the replay does not know ${keyword}; teach test/deploy/dockerfile.ts`);
      }
    }
    done.set(stage.name, state);
  }
  return [...done.values()];
}
