// The page handler on a real HTTP server: right files and content types, JSON 404s, and nothing outside its folder.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPageHandler, resolveFile } from '../../src/web-server/static-page.js';

let base: string;
let server: http.Server;
let url: string;

/** A raw request, so paths like /../ reach the server unnormalised (fetch would clean them up). */
function get(pathname: string, method = 'GET', headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(`${url}/`, { method, path: pathname, headers }, (response) => {
      const parts: Buffer[] = [];
      response.on('data', (part: Buffer) => parts.push(part));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(parts).toString() }));
    });
    request.on('error', reject);
    request.end();
  });
}

beforeAll(async () => {
  base = mkdtempSync(path.join(os.tmpdir(), 'page-handler-'));
  const web = path.join(base, 'web');
  mkdirSync(path.join(web, 'nested'), { recursive: true });
  writeFileSync(path.join(web, 'index.html'), '<!doctype html><title>page</title>');
  writeFileSync(path.join(web, 'app.js'), 'console.log("app")');
  writeFileSync(path.join(web, 'styles.css'), 'body{}');
  writeFileSync(path.join(web, 'nested', 'index.html'), 'nested');
  writeFileSync(path.join(web, '.secret'), 'dot file');
  // Neighbours of the page folder that a traversal would reach.
  writeFileSync(path.join(base, 'secret.txt'), 'outside');
  mkdirSync(path.join(base, 'web-evil'));
  writeFileSync(path.join(base, 'web-evil', 'x.js'), 'outside');
  server = http.createServer(createPageHandler(web));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(base, { recursive: true, force: true });
});

describe('createPageHandler', () => {
  it('serves index.html at / with an HTML type and a same-origin content security policy', async () => {
    const response = await get('/');
    expect(response.status).toBe(200);
    expect(response.body).toBe('<!doctype html><title>page</title>');
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(response.headers['content-security-policy']).toContain("default-src 'self'");
    expect(response.headers['x-content-type-options']).toBe('nosniff');
  });

  it.each([
    ['/app.js', 'text/javascript; charset=utf-8', 'console.log("app")'],
    ['/styles.css?v=2', 'text/css; charset=utf-8', 'body{}'],
    ['/nested/', 'text/html; charset=utf-8', 'nested'],
  ])('serves %s as %s', async (pathname, type, body) => {
    const response = await get(pathname);
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe(type);
    expect(response.headers['content-length']).toBe(String(Buffer.byteLength(body)));
    expect(response.body).toBe(body);
  });

  it('answers HEAD without a body and a matching ETag with 304', async () => {
    const head = await get('/app.js', 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(head.headers.etag).toBeTruthy();
    const again = await get('/app.js', 'GET', { 'if-none-match': head.headers.etag! });
    expect(again.status).toBe(304);
    expect(again.body).toBe('');
  });

  it.each([
    '/missing.js',
    '/nested',
    '/../secret.txt',
    '/%2e%2e/secret.txt',
    '/..%2fsecret.txt',
    '/..%5csecret.txt',
    '/../web-evil/x.js',
    '/%2e%2e%2fweb-evil/x.js',
    '/nested/../../secret.txt',
    '/.secret',
    '/app.js%00.html',
    '/%E0%A4%A',
  ])('refuses %s with a JSON 404 and never leaks a file outside the page', async (pathname) => {
    const response = await get(pathname);
    expect(response.status).toBe(404);
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(response.body)).toMatchObject({ error: 'not_found', message: expect.stringMatching(/^Not found/) });
    expect(response.body).not.toContain('outside');
  });

  it('refuses writes with 405 and an Allow header', async () => {
    const response = await get('/', 'POST');
    expect(response.status).toBe(405);
    expect(response.headers.allow).toBe('GET, HEAD');
    expect(JSON.parse(response.body)).toMatchObject({ error: 'method_not_allowed', message: expect.stringContaining('POST') });
  });

  it('says how to build the page when it has not been built', async () => {
    const bare = http.createServer(createPageHandler(path.join(base, 'not-built')));
    await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
    try {
      const response = await fetch(`http://127.0.0.1:${(bare.address() as AddressInfo).port}/`);
      expect(response.status).toBe(404);
      expect((await response.json()).message).toContain('npm run build');
    } finally {
      await new Promise((resolve) => bare.close(resolve));
    }
  });

  it('resolves only paths inside the root', () => {
    const root = path.join(base, 'web');
    expect(resolveFile(root, '/')).toBe(path.join(root, 'index.html'));
    expect(resolveFile(root, '/a/b.js')).toBe(path.join(root, 'a', 'b.js'));
    expect(resolveFile(root, '/../web-evil/x.js')).toBeUndefined();
    expect(resolveFile(root, '/a/../b.js')).toBe(path.join(root, 'b.js'));
    expect(resolveFile(root, '/..%2fweb-evil/x.js')).toBeUndefined();
    expect(resolveFile(root, '/%2e%2e%2f%2e%2e%2fetc/passwd')).toBeUndefined();
    expect(resolveFile(root, '//etc/passwd')).toBe(path.join(root, 'etc', 'passwd'));
    expect(resolveFile(root, 'http://elsewhere/x')).toBeUndefined();
  });
});
