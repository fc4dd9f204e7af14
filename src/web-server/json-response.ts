// A JSON answer on the main HTTP port (the page's errors, the token endpoint), with the headers every one of them needs,
// and the port's one error shape: `{ error: <snake_case code>, message: <what to do> }`.
import type { ServerResponse } from 'node:http';

export function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  response.end(text);
}

export function sendError(response: ServerResponse, status: number, error: string, message: string, headers: Record<string, string> = {}): void {
  sendJson(response, status, { error, message }, headers);
}
