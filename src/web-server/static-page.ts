// Serves the built demo page (dist/web) on the server's PORT: `/` is index.html, other files by name, nothing outside.
import { createReadStream, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sendError } from './json-response.js';
import type { RequestHandler } from './request-router.js';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * The page loads only its own files and talks only to this origin (Socket.IO over HTTP or WebSocket); the worklet
 * counts as a script. Anything injected from elsewhere is refused by the browser.
 */
const PAGE_POLICY = [
  "default-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** dist/web next to this module once compiled (dist/web-server/static-page.js). */
export const DEFAULT_PAGE_DIR = fileURLToPath(new URL('../web/', import.meta.url));


/** An http request handler serving the files under `rootDir`, for createApp's `httpHandler`. */
export function createPageHandler(rootDir: string = DEFAULT_PAGE_DIR): RequestHandler {
  const root = path.resolve(rootDir);
  return (request, response) => {
    serve(root, request, response).catch((error: unknown) => {
      if (!response.headersSent) sendError(response, 500, 'internal_error', `Could not serve the page: ${(error as Error).message}`);
      else response.destroy();
    });
  };
}

async function serve(root: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('allow', 'GET, HEAD');
    sendError(response, 405, 'method_not_allowed', `${request.method} is not allowed here: the page is read with GET.`);
    return;
  }
  const file = resolveFile(root, request.url ?? '/');
  if (file === undefined) {
    notFound(response, request.url ?? '/');
    return;
  }
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) {
    if (file === path.join(root, 'index.html')) {
      sendError(response, 404, 'not_found', 'The demo page has not been built: run `npm run build` (it bundles src/web into dist/web).');
    } else {
      notFound(response, request.url ?? '/');
    }
    return;
  }
  sendFile(request, response, file, info);
}

/** The file a URL names inside `root`, or undefined when the URL is malformed or points outside `root`. */
export function resolveFile(root: string, url: string): string | undefined {
  let pathname: string;
  try {
    // Not new URL(): it would read "//host/x" as another origin. The request target is a path and a query.
    pathname = decodeURIComponent(url.split(/[?#]/, 1)[0]!);
  } catch {
    return undefined;
  }
  if (!pathname.startsWith('/')) return undefined;
  // Decoded separators and NULs have no business in a page file name; refusing them closes the encoded-traversal tricks.
  if (pathname.includes('\0') || pathname.includes('\\')) return undefined;
  if (pathname.endsWith('/')) pathname += 'index.html';
  const file = path.resolve(root, `.${pathname}`);
  if (!file.startsWith(root + path.sep)) return undefined;
  // Dot files (e.g. an editor's .swp) are never part of the page.
  if (path.relative(root, file).split(path.sep).some((part) => part.startsWith('.'))) return undefined;
  return file;
}

function sendFile(request: IncomingMessage, response: ServerResponse, file: string, info: Stats): void {
  const etag = `"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
  response.setHeader('etag', etag);
  // The files keep their names across builds: the browser must ask again, and a 304 keeps that cheap.
  response.setHeader('cache-control', 'no-cache');
  response.setHeader('x-content-type-options', 'nosniff');
  if (file.endsWith('.html')) response.setHeader('content-security-policy', PAGE_POLICY);
  if (request.headers['if-none-match'] === etag) {
    response.writeHead(304);
    response.end();
    return;
  }
  response.writeHead(200, {
    'content-type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream',
    'content-length': info.size,
  });
  if (request.method === 'HEAD') {
    response.end();
    return;
  }
  const stream = createReadStream(file);
  stream.on('error', () => response.destroy());
  stream.pipe(response);
}

function notFound(response: ServerResponse, url: string): void {
  sendError(response, 404, 'not_found', `Not found: ${url.split('?')[0]!.slice(0, 200)}. The demo page is at /; clients connect with Socket.IO to the /transcription namespace.`);
}

/** The main port's one 404, for a server without the page (createApp's default handler). */
export const pageNotFound: RequestHandler = (request, response) => {
  request.resume();
  notFound(response, request.url ?? '/');
};

