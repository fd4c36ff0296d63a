import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileTrust, MAX_FORWARDED_HOPS, parseForwarded, parseXForwardedFor, resolveClientAddress, type ForwardedNode, type TrustProxy } from '../../src/protocol/forwarded.js';

const ip = (address: string, port?: number): ForwardedNode => (port === undefined ? { kind: 'ip', address } : { kind: 'ip', address, port });

describe('X-Forwarded-For', () => {
  it('reads addresses nearest last, with optional ports and brackets, canonical IPv6, skipping empty elements', () => {
    assert.deepEqual(parseXForwardedFor('203.0.113.7, 10.0.0.1'), [ip('203.0.113.7'), ip('10.0.0.1')]);
    assert.deepEqual(parseXForwardedFor(['203.0.113.7:4711', ' [2001:DB8::1]:80 ,, 2001:db8:0:0::2']), [ip('203.0.113.7', 4711), ip('2001:db8::1', 80), ip('2001:db8::2')]);
    assert.deepEqual(parseXForwardedFor('[::1]'), [ip('::1')]);
    assert.deepEqual(parseXForwardedFor(undefined), []);
    assert.deepEqual(parseXForwardedFor(''), []);
  });

  it('marks unknown and garbage entries', () => {
    assert.deepEqual(parseXForwardedFor('unknown, evil.example, 1.2.3.4:99999, 010.0.0.1, [1.2.3.4], <script>'), [
      { kind: 'unknown' },
      { kind: 'invalid' },
      { kind: 'invalid' },
      { kind: 'invalid' },
      { kind: 'invalid' },
      { kind: 'invalid' },
    ]);
  });
});

describe('Forwarded (RFC 7239)', () => {
  it('reads for= of each element: IPv4, quoted [IPv6]:port, unknown, obfuscated identifiers, ports ignored or obfuscated', () => {
    assert.deepEqual(parseForwarded('for=192.0.2.60;proto=http;by=203.0.113.43'), [ip('192.0.2.60')]);
    assert.deepEqual(parseForwarded('For="[2001:db8:cafe::17]:4711"'), [ip('2001:db8:cafe::17', 4711)]);
    assert.deepEqual(parseForwarded('for="192.0.2.43:47011", for=unknown, for=_hidden, for="_SEVKISEK", for="198.51.100.17:_port"'), [
      ip('192.0.2.43', 47011),
      { kind: 'unknown' },
      { kind: 'obfuscated', name: '_hidden' },
      { kind: 'obfuscated', name: '_SEVKISEK' },
      ip('198.51.100.17'),
    ]);
    // RFC 7239 §4's examples, and the multiple-header form (one list).
    assert.deepEqual(parseForwarded(['for=192.0.2.43, for=198.51.100.17;by=203.0.113.60;proto=http;host=example.com', 'for=10.0.0.5']), [ip('192.0.2.43'), ip('198.51.100.17'), ip('10.0.0.5')]);
  });

  it('takes an element without for= as unknown, and skips empty elements and empty pairs', () => {
    assert.deepEqual(parseForwarded('proto=https;by=10.0.0.1'), [{ kind: 'unknown' }]);
    assert.deepEqual(parseForwarded(' , for=1.2.3.4;;proto=http ,'), [ip('1.2.3.4')]);
  });

  it('marks malformed elements invalid without losing the well-formed ones around them', () => {
    const cases: Array<[string, ForwardedNode[]]> = [
      ['for=[::1], for=1.2.3.4', [{ kind: 'invalid' }, ip('1.2.3.4')]], // IPv6 must be quoted (':' and '[' are not token characters)
      ['for="::1", for=1.2.3.4', [{ kind: 'invalid' }, ip('1.2.3.4')]], // and bracketed
      ['for="[1.2.3.4]", for=1.2.3.4', [{ kind: 'invalid' }, ip('1.2.3.4')]],
      ['for=1.2.3.4;for=5.6.7.8, for=9.9.9.9', [{ kind: 'invalid' }, ip('9.9.9.9')]], // a parameter twice
      ['for, for=1.2.3.4', [{ kind: 'invalid' }, ip('1.2.3.4')]],
      ['=1.2.3.4, for=1.2.3.4', [{ kind: 'invalid' }, ip('1.2.3.4')]],
      ['for=1.2.3.4 junk, for=5.5.5.5', [{ kind: 'invalid' }, ip('5.5.5.5')]],
      ['for="a,b", for=5.5.5.5', [{ kind: 'invalid' }, ip('5.5.5.5')]], // a comma inside quotes does not split
      ['for="\\"1.2.3.4", for=5.5.5.5', [{ kind: 'invalid' }, ip('5.5.5.5')]],
      ['for=example.com', [{ kind: 'invalid' }]],
      ['for="1.2.3.4:0x10"', [{ kind: 'invalid' }]],
    ];
    for (const [header, nodes] of cases) assert.deepEqual(parseForwarded(header), nodes, header);
  });

  it('confines an unterminated quoted string to its own header line', () => {
    assert.deepEqual(parseForwarded('for="1.2.3.4, for=5.6.7.8'), [{ kind: 'invalid' }]);
    assert.deepEqual(parseForwarded(['for="1.2.3.4', 'for=5.6.7.8']), [{ kind: 'invalid' }, ip('5.6.7.8')]);
  });
});

describe('hostile forwarding headers', () => {
  it('keeps only the last entries of a huge header, in time linear in its length', () => {
    const many = Array.from({ length: 200_000 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`).join(', ');
    const xff = parseXForwardedFor(many);
    assert.equal(xff.length, MAX_FORWARDED_HOPS);
    assert.deepEqual(xff.at(-1), ip(`10.3.13.63`)); // 199,999 = 3·65536 + 13·256 + 63
    const fwd = parseForwarded(many.replace(/10\./g, 'for=10.'));
    assert.equal(fwd.length, MAX_FORWARDED_HOPS);
    assert.deepEqual(fwd.at(-1), ip('10.3.13.63'));
    // Garbage without structure: quotes, backslashes, separators.
    const garbage = '"\\;,=='.repeat(100_000);
    assert.ok(parseForwarded(garbage).every((node) => node.kind === 'invalid'));
    assert.ok(parseXForwardedFor(garbage).every((node) => node.kind === 'invalid'));
    assert.ok(parseForwarded('\\'.repeat(100_000)).length <= 1);
  });
});

describe('random forwarding headers', () => {
  it('never throw, and give only well-formed nodes', () => {
    let seed = 11;
    const random = (n: number): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) >> 8) % n;
    const alphabet = ['for=', 'For=', '"', '\\', ',', ';', '=', ' ', '[', ']', ':', '_x', '1.2.3.4', '::1', 'unknown', 'by=', 'a', '%'];
    for (let round = 0; round < 5000; round++) {
      const line = Array.from({ length: random(24) }, () => alphabet[random(alphabet.length)]).join('');
      for (const node of [...parseForwarded(line), ...parseXForwardedFor(line)]) {
        assert.ok(['ip', 'obfuscated', 'unknown', 'invalid'].includes(node.kind), line);
        if (node.kind === 'ip') assert.ok(node.address.length > 0, line);
      }
      assert.equal(typeof resolveClientAddress('10.0.0.1', parseForwarded(line), compileTrust(3)), 'string');
    }
  });
});

describe('the walk from the right', () => {
  const walk = (peer: string, header: string, trust: TrustProxy): string => resolveClientAddress(peer, parseXForwardedFor(header), compileTrust(trust));

  it('trusts nobody by default: the socket peer is the client, whatever the headers say', () => {
    assert.equal(walk('203.0.113.9', '1.1.1.1', false), '203.0.113.9');
    assert.equal(walk('10.0.0.2', '1.1.1.1', []), '10.0.0.2');
    assert.equal(resolveClientAddress('10.0.0.2', parseForwarded('for=1.1.1.1'), compileTrust(undefined)), '10.0.0.2');
  });

  it('ignores spoofed entries: a client sending the header itself is not a trusted proxy', () => {
    // The client connects directly (untrusted): its header is ignored.
    assert.equal(walk('198.51.100.66', '127.0.0.1, 10.0.0.1', ['loopback', '10.0.0.0/8']), '198.51.100.66');
    // Through the trusted proxy, which appends the client's real address: the forged entries on the left are never reached.
    assert.equal(walk('10.0.0.1', '127.0.0.1, 10.0.0.3, 198.51.100.66', ['loopback', '10.0.0.0/8']), '198.51.100.66');
  });

  it('skips every trusted hop, and stops at the first untrusted one', () => {
    assert.equal(walk('127.0.0.1', '203.0.113.5, 10.1.1.1, 10.2.2.2', 'loopback, 10.0.0.0/8'), '203.0.113.5');
    assert.equal(walk('::ffff:127.0.0.1', '203.0.113.5', ['127.0.0.1']), '203.0.113.5');
    assert.equal(walk('::1', '[2001:db8::7]:1234', ['::1']), '2001:db8::7');
  });

  it('takes the leftmost entry when every hop is trusted', () => {
    assert.equal(walk('10.0.0.1', '10.0.0.9, 10.0.0.8', ['10.0.0.0/8']), '10.0.0.9');
  });

  it('counts hops with a number: n nearest hops are trusted', () => {
    assert.equal(walk('192.0.2.1', '1.1.1.1, 2.2.2.2, 3.3.3.3', 1), '3.3.3.3');
    assert.equal(walk('192.0.2.1', '1.1.1.1, 2.2.2.2, 3.3.3.3', 2), '2.2.2.2');
    assert.equal(walk('192.0.2.1', '1.1.1.1, 2.2.2.2, 3.3.3.3', 9), '1.1.1.1');
    assert.equal(walk('192.0.2.1', '1.1.1.1', 0), '192.0.2.1');
  });

  it('asks a function with the address and the hop', () => {
    const seen: Array<[string, number]> = [];
    const result = walk('10.0.0.1', '4.4.4.4, 5.5.5.5, 6.6.6.6', (address, hop) => {
      seen.push([address, hop]);
      return address !== '5.5.5.5';
    });
    assert.equal(result, '5.5.5.5');
    assert.deepEqual(seen, [['10.0.0.1', 0], ['6.6.6.6', 1], ['5.5.5.5', 2]]);
  });

  it('stops at the nearest known address when a trusted proxy wrote unknown or garbage', () => {
    assert.equal(walk('10.0.0.1', '1.1.1.1, unknown', ['10.0.0.0/8']), '10.0.0.1');
    assert.equal(walk('10.0.0.1', '1.1.1.1, garbage, 10.0.0.5', ['10.0.0.0/8']), '10.0.0.5');
    assert.equal(resolveClientAddress('10.0.0.1', parseForwarded('for=1.1.1.1, for="[::1'), compileTrust(['10.0.0.0/8'])), '10.0.0.1');
  });

  it('returns an obfuscated identifier as the client when a trusted proxy gave one (RFC 7239 §6.3)', () => {
    assert.equal(resolveClientAddress('10.0.0.1', parseForwarded('for=1.1.1.1, for=_client7'), compileTrust('10.0.0.0/8')), '_client7');
    assert.equal(resolveClientAddress('10.0.0.1', parseForwarded('for=1.1.1.1, for=_edge'), compileTrust((address) => address === '10.0.0.1' || address === '_edge')), '1.1.1.1');
  });

  it('refuses bad trust settings with a clear error', () => {
    assert.throws(() => compileTrust(['10.0.0.0/33']), /trustProxy entry "10.0.0.0\/33"/);
    assert.throws(() => compileTrust('example.com'), TypeError);
    assert.throws(() => compileTrust(-1), RangeError);
    assert.throws(() => compileTrust(1.5), RangeError);
    assert.throws(() => compileTrust(true as unknown as TrustProxy), /would trust every hop/);
    assert.throws(() => compileTrust({} as unknown as TrustProxy), TypeError);
    assert.throws(() => compileTrust([1] as unknown as TrustProxy), TypeError);
  });
});
