// The address a connection comes from: the socket's peer, or — only when TRUST_PROXY says a proxy sits in front —
// the last X-Forwarded-For entry, the one that proxy added (earlier entries are whatever the client claimed).
import type { IncomingHttpHeaders } from 'node:http';

export function clientAddress(peer: string | undefined, headers: IncomingHttpHeaders, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = headers['x-forwarded-for'];
    const list = Array.isArray(forwarded) ? forwarded.join(',') : forwarded;
    const last = list?.split(',').pop()?.trim();
    if (last) return last;
  }
  return peer ?? 'unknown';
}
