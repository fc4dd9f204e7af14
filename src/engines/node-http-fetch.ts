// A fetch for the OpenAI SDK over node:http(s) with keep-alive: a segment upload through Node's built-in fetch (undici,
// web streams, FormData streamed part by part) costs several times the main-thread CPU of one request written from a
// buffer, and the server makes one upload per segment of every session (BENCHMARKS.md, "Ack path, per chunk").
import * as http from 'node:http';
import * as https from 'node:https';
import { randomBytes } from 'node:crypto';

export type NodeHttpFetch = typeof fetch & { Response: typeof Response; close(): void };

/** What the SDK sends: a string, a buffer or a multipart form (the segment's WAV and its fields). */
async function encodeBody(body: unknown, headers: Headers): Promise<Buffer[] | undefined> {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return [Buffer.from(body)];
  if (body instanceof Uint8Array) return [Buffer.from(body.buffer, body.byteOffset, body.byteLength)];
  if (body instanceof ArrayBuffer) return [Buffer.from(body)];
  if (body instanceof FormData) {
    const boundary = `----segment${randomBytes(12).toString('hex')}`;
    const parts: Buffer[] = [];
    for (const [name, value] of body.entries()) {
      if (typeof value === 'string') {
        parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${quoted(name)}"\r\n\r\n${value}\r\n`));
      } else {
        const type = value.type || 'application/octet-stream';
        parts.push(
          Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${quoted(name)}"; filename="${quoted(value.name)}"\r\nContent-Type: ${type}\r\n\r\n`),
          Buffer.from(await value.arrayBuffer()),
          Buffer.from('\r\n'),
        );
      }
    }
    parts.push(Buffer.from(`--${boundary}--\r\n`));
    headers.set('content-type', `multipart/form-data; boundary=${boundary}`);
    // Written part by part: joining them would copy the segment's audio once more for the collector to reclaim.
    return parts;
  }
  throw new TypeError(`the engine's HTTP client cannot send a ${Object.prototype.toString.call(body)} body`);
}

/** Form field names and file names as RFC 7578 escapes them. */
function quoted(text: string): string {
  return text.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
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
    const body = await encodeBody(init.body, headers);
    if (body) headers.set('content-length', String(body.reduce((length, part) => length + part.length, 0)));
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
      request.cork(); // one packet for the parts where they fit; end() uncorks
      for (const part of body ?? []) request.write(part);
      request.end();
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
