// Reads a V8 .cpuprofile (from `node --cpu-prof`) and lists where the time went: self time per function,
// and self time per source file, so a missed target can be traced to a hot path.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface HotSpot {
  name: string;
  where: string;
  selfMs: number;
  share: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Time the process was idle (waiting for I/O), left out of the shares below. */
  idleMs: number;
  functions: HotSpot[];
  files: HotSpot[];
  /** Busy time by part of the system, each sample charged to the nearest library or server frame above it. */
  parts: HotSpot[];
}

/** Parts of the system, recognised by where code lives; the first match wins. */
const PARTS: [string, RegExp][] = [
  ['Sentry SDK and the telemetry module', /@sentry|@opentelemetry|import-in-the-middle|require-in-the-middle|\/telemetry\//],
  ['engine call (openai SDK, fetch, multipart upload)', /node_modules\/openai|undici|internal\/blob|webstreams|formdata|js_transferable|\/engines\//],
  ['VAD and segmenter', /\/sessions\/(vad|segmenter)/],
  ['buffer store (memory store, ioredis)', /\/store\/|ioredis|redis-parser|cluster-key-slot|denque/],
  ['server handlers and session runtime', /\/socket\/|\/sessions\/|\/protocol\/|zod|pino|dist\/app|bench\/bare-server/],
  ['Socket.IO transport (socket.io, engine.io, ws)', /socket\.io|engine\.io|node_modules\/ws\/|component-emitter|node_modules\/debug\//],
  ['module loading (start-up)', /modules\/esm|modules\/cjs|bootstrap\/realm|cjs-module-lexer/],
];

function partOf(url: string): string | undefined {
  for (const [name, pattern] of PARTS) if (pattern.test(url)) return name;
  return undefined;
}

function place(url: string, root: string): string {
  if (!url) return '(native)';
  const path = url.startsWith('file://') ? new URL(url).pathname : url;
  const local = relative(root, path);
  return local.startsWith('..') ? path : local;
}

/** Self time of every sampled function, from the sample timeline (more exact than hit counts). */
export function summarizeProfile(file: string, root = process.cwd(), top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  /** A native or Node-internal leaf (writev, a stream) is charged to the library or server code that called it. */
  const partCache = new Map<number, string>();
  const partOfNode = (id: number): string => {
    const cached = partCache.get(id);
    if (cached) return cached;
    let part: string | undefined;
    const name = byId.get(id)?.callFrame.functionName;
    if (name === '(garbage collector)') part = 'garbage collector';
    for (let at: number | undefined = id; part === undefined && at !== undefined; at = parent.get(at)) {
      part = partOf(byId.get(at)?.callFrame.url ?? '');
    }
    part ??= 'Node runtime (timers, streams, native)';
    partCache.set(id, part);
    return part;
  };
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    // A sample's time is the gap to the next one.
    const us = deltas[i + 1] ?? 0;
    selfUs.set(samples[i]!, (selfUs.get(samples[i]!) ?? 0) + us);
  }
  const totalMs = (profile.endTime - profile.startTime) / 1000;
  let idleMs = 0;
  const functions = new Map<string, HotSpot>();
  const files = new Map<string, HotSpot>();
  const parts = new Map<string, HotSpot>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const name = node.callFrame.functionName || '(anonymous)';
    if (name === '(idle)') {
      idleMs += us / 1000;
      continue;
    }
    const where = place(node.callFrame.url, root);
    const key = `${name} ${where}:${node.callFrame.lineNumber + 1}`;
    const fn = functions.get(key) ?? { name, where: `${where}:${node.callFrame.lineNumber + 1}`, selfMs: 0, share: 0 };
    fn.selfMs += us / 1000;
    functions.set(key, fn);
    const fileSpot = files.get(where) ?? { name: where, where, selfMs: 0, share: 0 };
    fileSpot.selfMs += us / 1000;
    files.set(where, fileSpot);
    const part = partOfNode(id);
    const partSpot = parts.get(part) ?? { name: part, where: part, selfMs: 0, share: 0 };
    partSpot.selfMs += us / 1000;
    parts.set(part, partSpot);
  }
  const busyMs = Math.max(1e-9, totalMs - idleMs);
  const ranked = (spots: Iterable<HotSpot>) =>
    [...spots]
      .map((spot) => ({ ...spot, selfMs: Math.round(spot.selfMs * 10) / 10, share: spot.selfMs / busyMs }))
      .sort((a, b) => b.selfMs - a.selfMs)
      .slice(0, top);
  return { totalMs, idleMs, functions: ranked(functions.values()), files: ranked(files.values()), parts: ranked(parts.values()) };
}

export function formatProfile(summary: ProfileSummary): string {
  const pct = (share: number) => `${(share * 100).toFixed(1)}%`.padStart(6);
  const lines = [
    `CPU profile: ${(summary.totalMs / 1000).toFixed(1)} s, busy ${((summary.totalMs - summary.idleMs) / 1000).toFixed(1)} s (shares are of busy time)`,
    '',
    'Busy time by part (native calls charged to their caller):',
    ...summary.parts.map((p) => `${pct(p.share)} ${p.selfMs.toFixed(0).padStart(7)} ms  ${p.name}`),
    '',
    'Self time by function:',
    ...summary.functions.map((f) => `${pct(f.share)} ${f.selfMs.toFixed(0).padStart(7)} ms  ${f.name}  (${f.where})`),
    '',
    'Self time by file:',
    ...summary.files.map((f) => `${pct(f.share)} ${f.selfMs.toFixed(0).padStart(7)} ms  ${f.where}`),
  ];
  return lines.join('\n');
}
