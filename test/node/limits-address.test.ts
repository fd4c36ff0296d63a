import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressKey } from '../../src/node/limits-address.js';

const CASES: Array<[address: string, prefix: number, key: string]> = [
  ['127.0.0.1', 64, '127.0.0.1'],
  ['203.0.113.9', 1, '203.0.113.9'], // IPv4 is never grouped
  ['::ffff:192.0.2.1', 64, '192.0.2.1'], // a dual-stack socket's IPv4 peer
  ['::ffff:c000:201', 64, '192.0.2.1'],
  ['2001:db8:1:2:3:4:5:6', 64, '2001:db8:1:2::/64'],
  ['2001:db8:1:2:ffff:ffff:ffff:ffff', 64, '2001:db8:1:2::/64'], // same /64: same client
  ['2001:0db8:0001:0002::1', 64, '2001:db8:1:2::/64'], // leading zeros, ::
  ['2001:db8:1:3::1', 64, '2001:db8:1:3::/64'], // the next /64: another client
  ['2001:db8:1:2::1', 48, '2001:db8:1::/48'],
  ['2001:db8:1:2::1', 56, '2001:db8:1:0::/56'],
  ['2001:db8:1:2ff::1', 56, '2001:db8:1:200::/56'],
  ['2001:db8::1', 128, '2001:db8:0:0:0:0:0:1'],
  ['::1', 64, '0:0:0:0::/64'],
  ['fe80::1%eth0', 64, 'fe80:0:0:0::/64'], // the zone goes
  ['', 64, ''], // no address (a Unix socket): its own key
  ['not an address', 64, 'not an address'],
];

test('addressKey: IPv4 as is, IPv4-mapped as IPv4, IPv6 grouped by its prefix', () => {
  for (const [address, prefix, key] of CASES) assert.equal(addressKey(address, prefix), key, `${address} /${prefix}`);
});
