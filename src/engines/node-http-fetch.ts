// A fetch for the OpenAI SDK over node:http(s) with keep-alive: a segment upload through Node's built-in fetch (undici,
// web streams) costs several times the main-thread CPU of one request written from a buffer, and the server makes one
// upload per segment of every session (BENCHMARKS.md, "Ack path, per chunk").
import * as http from 'node:http';
import * as https from 'node:https';

export type NodeHttpFetch = typeof fetch & { Response: typeof Response; close(): void };

/** What the SDK sends: nothing, JSON text, or the segment's multipart body already built as one buffer. */
function encodeBody(body: unknown): Buffer | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  throw new TypeError(`the engine's HTTP client cannot send a ${Object.prototype.toString.call(body)} body`);
}

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new DOMException('This operation was aborted', 'AbortError');
}

export function createNodeHttpFetch(options: { maxSockets?: number } = {}): NodeHttpFetch {
  const agents = {
    'http:': new http.Agent({ keepAlive: true, maxSockets: options.maxSockets ?? Infinity }),
    'https:': new https.Agent({ keepAlive: true, maxSockets: options.maxSockets ?? Infinity }),
  };

  async function nodeHttpFetch(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    if (url.protocol === 'data:') return fetch(url, init); // the SDK's feature probe
    const agent = agents[url.protocol as 'http:' | 'https:'];
    if (!agent) throw new TypeError(`the engine's HTTP client cannot fetch ${url.protocol} URLs`);
    const headers = new Headers(init.headers);
    const body = encodeBody(init.body);
    if (body) headers.set('content-length', String(body.length));
    const signal = init.signal ?? undefined;
    if (signal?.aborted) throw abortError(signal);

    return new Promise<Response>((resolve, reject) => {
      const request = (url.protocol === 'https:' ? https : http).request(
        url,
        { method: init.method ?? 'GET', headers: Object.fromEntries(headers), agent },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', reject);
          response.on('end', () => {
            signal?.removeEventListener('abort', onAbort);
            const responseHeaders = new Headers();
            for (const [name, value] of Object.entries(response.headers)) {
              if (value === undefined) continue;
              for (const one of Array.isArray(value) ? value : [value]) responseHeaders.append(name, one);
            }
            const status = response.statusCode ?? 0;
            const nullBody = status === 204 || status === 205 || status === 304 || init.method === 'HEAD';
            resolve(new Response(nullBody ? null : Buffer.concat(chunks), { status, statusText: response.statusMessage, headers: responseHeaders }));
          });
        },
      );
      const onAbort = () => request.destroy(abortError(signal!));
      signal?.addEventListener('abort', onAbort, { once: true });
      request.on('error', (error) => {
        signal?.removeEventListener('abort', onAbort);
        reject(signal?.aborted ? abortError(signal) : new TypeError('fetch failed', { cause: error }));
      });
      request.end(body);
    });
  }

  return Object.assign(nodeHttpFetch as typeof fetch, {
    Response,
    close: () => {
      agents['http:'].destroy();
      agents['https:'].destroy();
    },
  });
}
