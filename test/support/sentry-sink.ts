// Starts test/support/envelope-sink.mjs in its own process and reads back what it received, with transactions
// (classic transaction items) and v2 span items turned into one shape: a root span and its spans.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SINK = path.join(path.dirname(fileURLToPath(import.meta.url)), 'envelope-sink.mjs');

export interface SpanRecord {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  op: string | undefined;
  name: string;
  status: string | undefined;
  /** Seconds since the epoch. */
  startTimestamp: number;
  data: Record<string, unknown>;
}

/** A transaction (root span) with its child spans, whichever format it arrived in. */
export interface TransactionRecord extends SpanRecord {
  tags: Record<string, unknown>;
  spans: SpanRecord[];
  /** The transaction event itself (static lifecycle) or the root span item (stream lifecycle). */
  raw: Record<string, any>;
}

export interface Received {
  envelopes: Array<{ path: string; header: Record<string, any>; items: Array<{ header: Record<string, any>; payload: any }> }>;
  /** Every request body after decompression. */
  bodies: Buffer[];
  transactions: TransactionRecord[];
  /** Error events. */
  errors: Array<Record<string, any>>;
  /** profile and profile_chunk items. */
  profiles: Array<{ type: string; payload: any }>;
  /** What the SDK reported it discarded (client_report items), one entry per reason and category of a report. */
  discarded: Array<{ reason: string; category: string; quantity: number }>;
}

export interface SentrySink {
  dsn: string;
  received(): Promise<Received>;
  /** Polls until `predicate` holds for what was received; fails naming `what`. */
  waitFor(predicate: (received: Received) => boolean, what: string, timeoutMs?: number): Promise<Received>;
  close(): Promise<void>;
}

/** `delayMs`: the sink answers each envelope this late (a slow ingest). */
export async function startSentrySink(options: { delayMs?: number } = {}): Promise<SentrySink> {
  const args = options.delayMs ? [SINK, `--delay-ms=${options.delayMs}`] : [SINK];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (data: Buffer) => {
      out += data.toString();
      const match = /listening on port (\d+)/.exec(out);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`envelope sink exited with ${code}`)));
  });
  const base = `http://127.0.0.1:${port}`;

  async function received(): Promise<Received> {
    const body = (await (await fetch(`${base}/received`)).json()) as { envelopes: Received['envelopes']; raw: string[] };
    return toReceived(body.envelopes, body.raw);
  }

  return {
    dsn: `http://publickey@127.0.0.1:${port}/1`,
    received,
    async waitFor(predicate, what, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const now = await received();
        if (predicate(now)) return now;
        if (Date.now() > deadline) {
          const names = now.transactions.map((t) => t.name).join(', ');
          throw new Error(`timed out waiting for ${what}; the sink has ${now.envelopes.length} envelopes, transactions: ${names}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async close() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

function toReceived(envelopes: Received['envelopes'], raw: string[]): Received {
  const transactions: TransactionRecord[] = [];
  const streamed: Array<Record<string, any>> = [];
  const errors: Array<Record<string, any>> = [];
  const profiles: Received['profiles'] = [];
  const discarded: Received['discarded'] = [];
  for (const envelope of envelopes) {
    for (const item of envelope.items) {
      const type = item.header.type as string;
      if (type === 'transaction') transactions.push(fromTransactionEvent(item.payload));
      else if (type === 'span') streamed.push(...((item.payload.items ?? []) as Array<Record<string, any>>));
      else if (type === 'event') errors.push(item.payload);
      else if (type === 'profile' || type === 'profile_chunk') profiles.push({ type, payload: item.payload });
      else if (type === 'client_report') discarded.push(...((item.payload.discarded_events ?? []) as Received['discarded']));
    }
  }
  transactions.push(...fromStreamedSpans(streamed));
  return { envelopes, bodies: raw.map((b) => Buffer.from(b, 'base64')), transactions, errors, profiles, discarded };
}

function fromTransactionEvent(event: Record<string, any>): TransactionRecord {
  const trace = event.contexts?.trace ?? {};
  return {
    traceId: trace.trace_id,
    spanId: trace.span_id,
    parentSpanId: trace.parent_span_id,
    op: trace.op,
    name: event.transaction,
    status: trace.status,
    startTimestamp: event.start_timestamp,
    data: trace.data ?? {},
    tags: event.tags ?? {},
    raw: event,
    spans: ((event.spans ?? []) as Array<Record<string, any>>).map((span) => ({
      traceId: span.trace_id,
      spanId: span.span_id,
      parentSpanId: span.parent_span_id,
      op: span.op,
      name: span.description,
      status: span.status,
      startTimestamp: span.start_timestamp,
      data: span.data ?? {},
    })),
  };
}

/** v2 span items carry typed attributes ({type, value}) and point at their segment (root) span. */
function fromStreamedSpans(items: Array<Record<string, any>>): TransactionRecord[] {
  const plain = (attributes: Record<string, any> = {}) =>
    Object.fromEntries(Object.entries(attributes).map(([key, attribute]) => [key, attribute?.value ?? attribute]));
  const record = (item: Record<string, any>): SpanRecord => {
    const data = plain(item.attributes);
    return {
      traceId: item.trace_id,
      spanId: item.span_id,
      parentSpanId: item.parent_span_id,
      op: data['sentry.op'] as string | undefined,
      name: item.name,
      status: (data['sentry.status.message'] as string | undefined) ?? item.status,
      startTimestamp: item.start_timestamp,
      data,
    };
  };
  return items
    .filter((item) => item.is_segment)
    .map((root) => ({
      ...record(root),
      tags: {},
      raw: root,
      spans: items.filter((item) => !item.is_segment && plain(item.attributes)['sentry.segment.id'] === root.span_id).map(record),
    }));
}

/** The spans of `transaction` whose parent is `parent` (the root when omitted), in the order they started. */
export function childrenOf(transaction: TransactionRecord, parent: SpanRecord = transaction): SpanRecord[] {
  return transaction.spans.filter((span) => span.parentSpanId === parent.spanId).sort((a, b) => a.startTimestamp - b.startTimestamp);
}
