import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { canonicalIP, formatIP, inRange, ipVersion, isLoopbackIP, parseIP, parseIPv4, parseIPv6, parseRanges, sameIP } from '../../src/protocol/ip-address.js';

describe('IP addresses as text', () => {
  it('reads IPv4 in dotted decimal, refusing leading zeros, out-of-range numbers and other shapes', () => {
    assert.deepEqual([...parseIPv4('10.0.255.1')!], [10, 0, 255, 1]);
    for (const bad of ['010.0.0.1', '256.0.0.1', '1.2.3', '1.2.3.4.5', '1.2.3.', ' 1.2.3.4', '1.2.3.4 ', '0x1.2.3.4', '1.2.3.-4', '']) {
      assert.equal(parseIPv4(bad), null, bad);
    }
  });

  it('reads the IPv6 text forms of RFC 4291 and agrees with net.isIP on them', () => {
    const good = ['::', '::1', '1::', 'fe80::1', '2001:db8:0:0:1:0:0:1', '2001:DB8::1', '::ffff:10.0.0.1', '64:ff9b::192.0.2.33', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:1.2.3.4'];
    for (const text of good) {
      assert.notEqual(parseIPv6(text), null, text);
      assert.equal(isIP(text), 6, text);
    }
    const bad = [':', ':::', '1:::2', '1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '12345::', 'g::', '::1%eth0', '[::1]', '1:2:3:4:5:6:7::8', '::1.2.3', '::010.0.0.1', '1:2:3:4:5:6:7:1.2.3.4'];
    for (const text of bad) assert.equal(parseIPv6(text), null, text);
    assert.equal(ipVersion('::1'), 6);
    assert.equal(ipVersion('127.0.0.1'), 4);
    assert.equal(ipVersion('localhost'), 0);
  });

  it('writes IPv6 as RFC 5952 says: lower case, the longest zero run as ::, single zero groups kept, mapped IPv4 dotted', () => {
    const cases: Array<[string, string]> = [
      ['2001:DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['2001:db8:0:0:0:0:2:1', '2001:db8::2:1'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      ['0:0:0:0:0:0:0:1', '::1'],
      ['0:0:0:0:0:0:0:0', '::'],
      ['1:0:0:0:0:0:0:0', '1::'],
      ['0:0:0:0:0:ffff:7f00:1', '::ffff:127.0.0.1'],
      ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ];
    for (const [input, output] of cases) assert.equal(canonicalIP(input), output, input);
    assert.equal(formatIP(new Uint8Array([192, 0, 2, 1])), '192.0.2.1');
    assert.throws(() => formatIP(new Uint8Array(5)), RangeError);
  });

  it('compares addresses by value', () => {
    assert.ok(sameIP('::1', '0:0::1'));
    assert.ok(!sameIP('::1', '127.0.0.1'));
    assert.ok(!sameIP('x', 'x'));
  });
});

describe('address ranges', () => {
  const matches = (entry: string, address: string): boolean => parseRanges(entry)!.some((range) => inRange(parseIP(address)!, range));

  it('matches CIDR ranges, single addresses and the named ranges', () => {
    assert.ok(matches('10.0.0.0/8', '10.255.1.2'));
    assert.ok(!matches('10.0.0.0/8', '11.0.0.1'));
    assert.ok(matches('172.16.0.0/12', '172.31.255.255'));
    assert.ok(!matches('172.16.0.0/12', '172.32.0.0'));
    assert.ok(matches('0.0.0.0/0', '203.0.113.9'));
    assert.ok(matches('fd00::/8', 'fd12:3456::1'));
    assert.ok(!matches('fd00::/8', 'fe80::1'));
    assert.ok(matches('127.0.0.1', '127.0.0.1'));
    assert.ok(!matches('127.0.0.1', '127.0.0.2'));
    assert.ok(matches('loopback', '127.8.9.10') && matches('loopback', '::1') && !matches('loopback', '::2'));
    assert.ok(matches('uniquelocal', '192.168.1.1') && matches('uniquelocal', 'fc00::5') && !matches('uniquelocal', '8.8.8.8'));
    assert.ok(matches('linklocal', '169.254.3.4') && matches('linklocal', 'fe80::abcd'));
  });

  it('matches an IPv4-mapped IPv6 address (a dual-stack socket) against IPv4 ranges, never IPv4 against IPv6 ranges', () => {
    assert.ok(matches('10.0.0.0/8', '::ffff:10.1.2.3'));
    assert.ok(matches('loopback', '::ffff:127.0.0.1'));
    assert.ok(!matches('::ffff:0:0/96', '10.1.2.3'));
  });

  it('refuses entries that are not addresses, ranges or names', () => {
    for (const bad of ['10.0.0.0/33', '::/129', '10.0.0.0/', '10.0.0.0/08', '10.0.0.0/-1', 'example.com', '10.0.0.0/8/8', '', 'LOOPBACKS']) {
      assert.equal(parseRanges(bad), null, bad);
    }
    assert.notEqual(parseRanges('Loopback'), null);
  });

  it('knows loopback addresses', () => {
    assert.ok(isLoopbackIP('127.0.0.1') && isLoopbackIP('::1') && isLoopbackIP('::ffff:127.1.2.3'));
    assert.ok(!isLoopbackIP('128.0.0.1') && !isLoopbackIP('::') && !isLoopbackIP('localhost'));
  });
});
