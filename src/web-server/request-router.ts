// Sends each plain HTTP request on PORT to the handler registered for its path, and the rest to the fallback (the page).
import type { IncomingMessage, ServerResponse } from 'node:http';

export type RequestHandler = (request: IncomingMessage, response: ServerResponse) => void;

/** `routes` maps exact paths (query ignored) to handlers; each handler answers every method of its path itself. */
export function createRequestRouter(routes: Record<string, RequestHandler>, fallback: RequestHandler): RequestHandler {
  const table = new Map(Object.entries(routes));
  return (request, response) => {
    const url = request.url ?? '/';
    const query = url.indexOf('?');
    const handler = table.get(query === -1 ? url : url.slice(0, query)) ?? fallback;
    handler(request, response);
  };
}
