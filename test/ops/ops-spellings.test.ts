// The ops token against a hostile caller: raw HTTP requests (no client library normalising anything) spelling every
// protected route every way a router or a proxy might read it. Without the token nothing protected answers 2xx.
import { connect as tcpConnect } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrometheusMetrics } from '../../src/metrics/prometheus-metrics.js';
import { createOpsServer, type OpsServer } from '../../src/ops/ops-server.js';
import { createMemoryStore } from '../../src/store/memory-store.js';

const TOKEN = 'ops-token-0123456789abcdef';

/** One raw request; resolves with the status code (0 when the server closed without answering). */
function rawRequest(port: number, method: string, target: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(port, '127.0.0.1');
    let answer = '';
    socket.setEncoding('latin1');
    socket.on('data', (data: string) => (answer += data));
    socket.on('error', reject);
    socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0)));
    const lines = [`${method} ${target} HTTP/1.1`, 'Host: ops.example', 'Connection: close', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    socket.end(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  });
}

const hex = (c: string) => c.charCodeAt(0).toString(16);

/** The ways a path can be spelt so that some reader takes it for `path`. */
function spellings(path: string, port: number): string[] {
  const letters = [...path].map((c, i) => ({ c, i })).filter(({ c }) => /[a-z]/i.test(c));
  const encodeAt = (i: number, upper: boolean) => path.slice(0, i) + '%' + (upper ? hex(path[i]!).toUpperCase() : hex(path[i]!)) + path.slice(i + 1);
  const all = [...path].map((c) => (c === '/' ? c : `%${hex(c)}`)).join('');
  const tail = path.slice(1);
  return [
    path,
    ...letters.flatMap(({ i }) => [encodeAt(i, false), encodeAt(i, true)]),
    all,
    `/${path}`,
    `//${tail}`,
    `/./${tail}`,
    `/%2e/${tail}`,
    `/x/../${tail}`,
    `/x/%2e%2e/${tail}`,
    `${path}/`,
    `${path}//`,
    `${path}/.`,
    `${path}?`,
    `${path}?x=1`,
    `${path}#x`,
    `${path};x`,
    `${path}%3Fx`,
    `${path}%00`,
    `${path}%20`,
    path.toUpperCase(),
    path.replaceAll('/', '%2F'),
    `http://ops.example${path}`,
    `http://127.0.0.1:${port}${path}`,
    `HTTP://OPS.EXAMPLE${path}`,
    `http://ops.example${encodeAt(1, false)}`,
    `http://user:pass@ops.example${path}`,
    `//ops.example${path}`,
  ];
}

let ops: OpsServer;
let port: number;
beforeAll(async () => {
  const prometheus = createPrometheusMetrics();
  ops = createOpsServer({
    config: { opsPort: 0, host: '127.0.0.1', opsToken: TOKEN, production: true },
    store: createMemoryStore({ ttlS: 60 }),
    // Never reached without the token; with it the performance test would run against this.
    engine: { name: 'stub', model: 'stub-1', transcribe: async () => ({ text: 'hello' }), check: async () => {} },
    metrics: prometheus.registry,
  });
  port = await ops.listen();
});
afterAll(() => ops.close());

const guarded = () => ops.routes.filter((route) => route.access !== 'public');

describe('ops routes spelt by an attacker', () => {
  it('covers every route that needs the token (a route added later is in this test too)', () => {
    const urls = new Set(guarded().map((route) => route.url));
    expect([...urls].sort()).toEqual(['/dashboard/data', '/metrics', '/ops/test-sentry-performance']);
    expect(guarded().map((r) => r.method)).toContain('HEAD');
  });

  it('never answers 2xx without the token, whatever the spelling or method', async () => {
    const refused: string[] = [];
    for (const route of guarded()) {
      for (const target of spellings(route.url, port)) {
        for (const method of ['GET', 'HEAD', 'POST', 'OPTIONS']) {
          const status = await rawRequest(port, method, target);
          if (status >= 200 && status < 300) refused.push(`${method} ${target} -> ${status}`);
        }
        // A wrong token, and the right one in the wrong form, are no token.
        for (const authorization of ['Bearer wrong', `bearer ${TOKEN}`, `Bearer  ${TOKEN}`, `Basic ${TOKEN}`, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, TOKEN]) {
          const status = await rawRequest(port, 'GET', target, { authorization });
          if (status >= 200 && status < 300) refused.push(`GET ${target} (${authorization}) -> ${status}`);
        }
      }
    }
    expect(refused).toEqual([]);
  });

  it('answers the canonical spelling with the token, so the refusals above are the check and not a broken route', async () => {
    for (const url of ['/metrics', '/dashboard/data']) {
      expect(await rawRequest(port, 'GET', url, { authorization: `Bearer ${TOKEN}` })).toBe(200);
      // Percent-encoded letters route to the same handler: with the token they work, so without it the hook refused.
      expect(await rawRequest(port, 'GET', `/%${hex(url[1]!)}${url.slice(2)}`, { authorization: `Bearer ${TOKEN}` })).toBe(200);
      expect(await rawRequest(port, 'GET', `/%${hex(url[1]!)}${url.slice(2)}`)).toBe(401);
    }
  });

  it('keeps unknown paths 404 and the probes open', async () => {
    expect(await rawRequest(port, 'GET', '/nothing-here')).toBe(404);
    expect(await rawRequest(port, 'GET', '/ops/other')).toBe(404);
    expect(await rawRequest(port, 'GET', '/healthz')).toBe(200);
    expect(await rawRequest(port, 'GET', '/%68ealthz')).toBe(200);
    expect(await rawRequest(port, 'GET', '/readyz')).toBe(200);
  });

  it('fast-check: random percent-encodings, case and suffixes of the guarded paths never answer 2xx', async () => {
    const pathArb = fc.constantFrom(...new Set(guarded().map((route) => route.url)));
    const spelling = fc
      .tuple(pathArb, fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }), fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }), fc.constantFrom('', '/', '?a=b', '//', '/.', '#', '%2F'), fc.constantFrom('', 'http://h', 'http://127.0.0.1'))
      .map(([path, encode, upper, suffix, origin]) => origin + [...path].map((c, i) => (c !== '/' && encode[i] ? `%${upper[i] ? hex(c).toUpperCase() : hex(c)}` : c)).join('') + suffix);
    await fc.assert(
      fc.asyncProperty(spelling, fc.constantFrom('GET', 'HEAD'), async (target, method) => {
        const status = await rawRequest(port, method, target);
        expect(status < 200 || status >= 300).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('the details of /readyz', () => {
  it('are withheld from callers without the token: status and failed names only', async () => {
    const response = await fetch(`http://127.0.0.1:${port}/readyz`);
    const body = await response.json();
    expect(body).toEqual({ status: 'ready', failed: [], warnings: [] });
    const detailed = await (await fetch(`http://127.0.0.1:${port}/readyz`, { headers: { authorization: `Bearer ${TOKEN}` } })).json();
    expect(detailed.checks).toMatchObject({ store: { ok: true }, engine: { ok: true } });
  });
});

describe('an ops route that declares no access', () => {
  it('cannot be registered', async () => {
    const server = createOpsServer({ config: { opsPort: 0, host: '127.0.0.1', opsToken: TOKEN }, store: createMemoryStore({ ttlS: 60 }), engine: { name: 'stub', model: 'stub-1', transcribe: async () => ({ text: '' }), check: async () => {} } });
    expect(() => server.fastify.get('/undeclared', async () => 'open')).toThrow(/declares no access/);
    await server.close();
  });
});
