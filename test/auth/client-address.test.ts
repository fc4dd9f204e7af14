// The address per-address limits count: IPv4 as itself, IPv6 by its /64 (one customer's block), however it is spelt.
import { describe, expect, it } from 'vitest';
import { clientAddress, limitKey } from '../../src/auth/client-address.js';

describe('limitKey', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['::FFFF:203.0.113.7', '203.0.113.7'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::ffff', '2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002:aaaa:bbbb:cccc:dddd', '2001:db8:1:2::/64'],
    ['2001:DB8:1:2::1', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
  ])('%s counts as %s', (address, key) => {
    expect(limitKey(address)).toBe(key);
  });

  it('puts every address of one /64 under one key, and neighbouring /64s under others', () => {
    const keys = new Set(Array.from({ length: 50 }, (_, i) => limitKey(`2001:db8:aa:bb:${i.toString(16)}:1:2:3`)));
    expect([...keys]).toEqual(['2001:db8:aa:bb::/64']);
    expect(limitKey('2001:db8:aa:bc::1')).not.toBe(limitKey('2001:db8:aa:bb::1'));
  });

  it('applies to the peer and to a trusted proxy\'s last X-Forwarded-For entry alike', () => {
    expect(clientAddress('2001:db8:1:2::9', {}, false)).toBe('2001:db8:1:2::/64');
    expect(clientAddress('10.0.0.1', { 'x-forwarded-for': '198.51.100.1, 2001:db8:5:6::7' }, true)).toBe('2001:db8:5:6::/64');
    expect(clientAddress('10.0.0.1', { 'x-forwarded-for': '2001:db8:5:6::7' }, false)).toBe('10.0.0.1');
  });
});
