// The address a connection comes from: the socket's peer, or — only when TRUST_PROXY says a proxy sits in front —
// the last X-Forwarded-For entry, the one that proxy added (earlier entries are whatever the client claimed).
import type { IncomingHttpHeaders } from 'node:http';

export function clientAddress(peer: string | undefined, headers: IncomingHttpHeaders, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = headers['x-forwarded-for'];
    const list = Array.isArray(forwarded) ? forwarded.join(',') : forwarded;
    const last = list?.split(',').pop()?.trim();
    if (last) return limitKey(last);
  }
  return peer ? limitKey(peer) : 'unknown';
}

/**
 * What per-address limits count an address under. An IPv4 address as itself (also when IPv6-mapped); an IPv6
 * address by its /64, the block one customer is routinely given, so rotating through it does not multiply the limits.
 */
export function limitKey(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!address.includes(':')) return address;
  const [head = '', tail = ''] = address.split('%', 1)[0]!.toLowerCase().split('::');
  const front = head ? head.split(':') : [];
  const back = tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...front, ...Array<string>(8 - front.length - back.length).fill('0'), ...back] : front;
  return `${groups.slice(0, 4).map((group) => group.replace(/^0+(?=.)/, '') || '0').join(':')}::/64`;
}
