import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatProxyV1, parseProxyHeader, PROXY_V2_SIGNATURE, type ProxyParseResult } from '../../src/protocol/proxy-protocol.js';

const ascii = (text: string): Buffer => Buffer.from(text, 'latin1');

/** A v2 header: version/command byte, family/transport byte, the address block, then TLVs. */
function v2(versionCommand: number, familyTransport: number, addresses: number[], tlvs: number[] = [], length?: number): Buffer {
  const body = [...addresses, ...tlvs];
  const size = length ?? body.length;
  return Buffer.from([...PROXY_V2_SIGNATURE, versionCommand, familyTransport, size >> 8, size & 0xff, ...body]);
}
const ipv4Block = [192, 0, 2, 7, 10, 0, 0, 1, 0x12, 0x34, 0x01, 0xbb]; // 192.0.2.7:4660 → 10.0.0.1:443
const ipv6Block = [0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), 0x07, ...new Array<number>(15).fill(0), 1, 0xff, 0xff, 0, 80];
const unixBlock = [...Buffer.from('/run/client.sock'), ...new Array<number>(108 - 16).fill(0), ...Buffer.from('/run/haproxy.sock'), ...new Array<number>(108 - 17).fill(0)];

function header(result: ProxyParseResult): unknown {
  assert.equal(result.kind, 'header', JSON.stringify(result.kind === 'error' ? result.error.message : result));
  return result.kind === 'header' ? { ...result.header, length: result.length } : null;
}
function errorOf(result: ProxyParseResult): { code: string; message: string } {
  assert.equal(result.kind, 'error');
  return result.kind === 'error' ? { code: result.error.code, message: result.error.message } : { code: '', message: '' };
}

describe('PROXY protocol v1', () => {
  it('reads TCP4 and TCP6 lines', () => {
    assert.deepEqual(header(parseProxyHeader(ascii('PROXY TCP4 192.0.2.7 10.0.0.1 56324 443\r\n'))), {
      version: 1,
      command: 'proxy',
      family: 'tcp4',
      source: { address: '192.0.2.7', port: 56324 },
      destination: { address: '10.0.0.1', port: 443 },
      length: 41,
    });
    assert.deepEqual(header(parseProxyHeader(ascii('PROXY TCP6 2001:DB8:0::7 ::1 0 65535\r\n'))), {
      version: 1,
      command: 'proxy',
      family: 'tcp6',
      source: { address: '2001:db8::7', port: 0 },
      destination: { address: '::1', port: 65535 },
      length: 38,
    });
  });

  it('takes UNKNOWN (with or without the rest of the line) as "use the real addresses"', () => {
    assert.deepEqual(header(parseProxyHeader(ascii('PROXY UNKNOWN\r\n'))), { version: 1, command: 'local', length: 15 });
    assert.deepEqual(header(parseProxyHeader(ascii('PROXY UNKNOWN ffff:f::f:ffff ffff:f::f:ffff 65535 65535\r\nGET'))), { version: 1, command: 'local', length: 57 });
  });

  it('keeps the bytes after the header for the application', () => {
    const bytes = ascii('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nGET / HTTP/1.1\r\n');
    const result = parseProxyHeader(bytes);
    assert.equal(result.kind, 'header');
    assert.equal(bytes.subarray(result.kind === 'header' ? result.length : 0).toString(), 'GET / HTTP/1.1\r\n');
  });

  it('asks for more until the CRLF, byte by byte', () => {
    const line = ascii('PROXY TCP4 192.0.2.7 10.0.0.1 56324 443\r\n');
    for (let i = 0; i < line.length; i++) assert.deepEqual(parseProxyHeader(line.subarray(0, i)), { kind: 'more' }, `after ${i} bytes`);
    assert.equal(parseProxyHeader(line).kind, 'header');
  });

  it('refuses every line that does not match exactly', () => {
    const bad = [
      'PROXY TCP4 192.0.2.7 10.0.0.1 56324 443\n', // LF alone
      'PROXY TCP4 192.0.2.7 10.0.0.1 56324 443\rX',
      'PROXY TCP4 192.0.2.7  10.0.0.1 56324 443\r\n', // two spaces
      'PROXY TCP4 192.0.2.7 10.0.0.1 56324\r\n',
      'PROXY TCP4 192.0.2.7 10.0.0.1 56324 443 1\r\n',
      'PROXY TCP4 192.0.2.07 10.0.0.1 56324 443\r\n', // leading zero
      'PROXY TCP4 192.0.2.7 10.0.0.1 056324 443\r\n',
      'PROXY TCP4 192.0.2.7 10.0.0.1 65536 443\r\n',
      'PROXY TCP4 ::1 10.0.0.1 1 2\r\n', // family mismatch
      'PROXY TCP6 192.0.2.7 ::1 1 2\r\n',
      'PROXY TCP6 1:2:3 ::1 1 2\r\n', // not 128 bits
      'PROXY UDP4 192.0.2.7 10.0.0.1 1 2\r\n',
      'PROXY tcp4 192.0.2.7 10.0.0.1 1 2\r\n',
      'PROXY UNKNOWNX\r\n',
      'PROXY \r\n',
      'PROXY TCP4 192.0.2.7 10.0.0.1 1 2\x00\r\n',
      'PROXX TCP4',
      'proxy TCP4',
    ];
    for (const line of bad) assert.equal(errorOf(parseProxyHeader(ascii(line))).code, 'FD_ERR_PROXY_HEADER_INVALID', JSON.stringify(line));
  });

  it('refuses a line without CRLF in the first 107 bytes, and never reads further', () => {
    const long = ascii(`PROXY UNKNOWN ${'f'.repeat(200)}\r\n`);
    assert.deepEqual(parseProxyHeader(long.subarray(0, 106)), { kind: 'more' });
    assert.equal(errorOf(parseProxyHeader(long.subarray(0, 107))).code, 'FD_ERR_PROXY_HEADER_TOO_LARGE');
    assert.equal(errorOf(parseProxyHeader(long)).code, 'FD_ERR_PROXY_HEADER_TOO_LARGE');
    // The longest valid line (107 bytes) passes.
    const longest = ascii(`PROXY UNKNOWN ${'ffff:'.repeat(7)}ffff ${'ffff:'.repeat(7)}ffff 65535 65535\r\n`);
    assert.equal(longest.length, 107);
    assert.equal(parseProxyHeader(longest).kind, 'header');
  });

  it('writes a line that it reads back', () => {
    const line = formatProxyV1({ address: '2001:db8::1', port: 1 }, { address: '::1', port: 2 });
    assert.equal(line, 'PROXY TCP6 2001:db8::1 ::1 1 2\r\n');
    assert.equal(parseProxyHeader(ascii(line)).kind, 'header');
  });
});

describe('PROXY protocol v2', () => {
  it('reads TCP over IPv4 and IPv6, and UDP', () => {
    assert.deepEqual(header(parseProxyHeader(v2(0x21, 0x11, ipv4Block))), {
      version: 2,
      command: 'proxy',
      family: 'tcp4',
      source: { address: '192.0.2.7', port: 0x1234 },
      destination: { address: '10.0.0.1', port: 443 },
      length: 28,
    });
    assert.deepEqual(header(parseProxyHeader(v2(0x21, 0x21, ipv6Block))), {
      version: 2,
      command: 'proxy',
      family: 'tcp6',
      source: { address: '2001:db8::7', port: 65535 },
      destination: { address: '::1', port: 80 },
      length: 52,
    });
    const udp = header(parseProxyHeader(v2(0x21, 0x12, ipv4Block))) as { family: string };
    assert.equal(udp.family, 'udp4');
  });

  it('reads UNIX socket paths', () => {
    assert.deepEqual(header(parseProxyHeader(v2(0x21, 0x31, unixBlock))), {
      version: 2,
      command: 'proxy',
      family: 'unix-stream',
      source: { address: '/run/client.sock', port: 0 },
      destination: { address: '/run/haproxy.sock', port: 0 },
      length: 16 + 216,
    });
  });

  it('takes LOCAL, and the UNSPEC family or transport, as "use the real addresses", skipping what follows', () => {
    assert.deepEqual(header(parseProxyHeader(v2(0x20, 0x00, []))), { version: 2, command: 'local', length: 16 });
    assert.deepEqual(header(parseProxyHeader(v2(0x20, 0x11, ipv4Block))), { version: 2, command: 'local', length: 28 });
    assert.deepEqual(header(parseProxyHeader(v2(0x21, 0x00, [1, 2, 3]))), { version: 2, command: 'local', length: 19 });
    assert.deepEqual(header(parseProxyHeader(v2(0x21, 0x10, ipv4Block))), { version: 2, command: 'local', length: 28 });
  });

  it('skips TLVs, and keeps the bytes after the header', () => {
    const tlvs = [0x01, 0x00, 0x02, 0x68, 0x32, /* ALPN h2 */ 0x04, 0x00, 0x00 /* NOOP, empty */, 0x05, 0x00, 0x03, 1, 2, 3 /* UNIQUE_ID */];
    const bytes = Buffer.concat([v2(0x21, 0x11, ipv4Block, tlvs), ascii('GET / HTTP/1.1\r\n')]);
    const result = parseProxyHeader(bytes);
    assert.equal(result.kind, 'header');
    const length = result.kind === 'header' ? result.length : 0;
    assert.equal(length, 16 + 12 + tlvs.length);
    assert.equal(bytes.subarray(length).toString(), 'GET / HTTP/1.1\r\n');
  });

  it('asks for more until the whole header is there, byte by byte', () => {
    const bytes = v2(0x21, 0x21, ipv6Block, [0x04, 0x00, 0x01, 0x00]);
    for (let i = 0; i < bytes.length; i++) assert.deepEqual(parseProxyHeader(bytes.subarray(0, i)), { kind: 'more' }, `after ${i} bytes`);
    assert.equal(parseProxyHeader(bytes).kind, 'header');
  });

  it('refuses a wrong signature at the first wrong byte, a wrong version, command, family or transport', () => {
    const signature = Buffer.from(PROXY_V2_SIGNATURE);
    for (let i = 0; i < signature.length; i++) {
      const wrong = Buffer.from(signature.subarray(0, i + 1));
      wrong[i] = wrong[i]! ^ 0x40;
      assert.equal(errorOf(parseProxyHeader(wrong)).code, 'FD_ERR_PROXY_HEADER_INVALID', `byte ${i}`);
    }
    assert.match(errorOf(parseProxyHeader(v2(0x11, 0x11, ipv4Block))).message, /version 1, expected 2/);
    assert.match(errorOf(parseProxyHeader(v2(0x11, 0x11, ipv4Block).subarray(0, 13))).message, /version 1/);
    assert.match(errorOf(parseProxyHeader(v2(0x22, 0x11, ipv4Block))).message, /unknown command 2/);
    assert.match(errorOf(parseProxyHeader(v2(0x21, 0x41, ipv4Block))).message, /unknown address family 4/);
    assert.match(errorOf(parseProxyHeader(v2(0x21, 0x13, ipv4Block))).message, /unknown transport 3/);
  });

  it('refuses addresses shorter than the family needs, and TLVs that do not fit', () => {
    assert.match(errorOf(parseProxyHeader(v2(0x21, 0x11, ipv4Block.slice(0, 11)))).message, /11 bytes of addresses, 12 needed/);
    assert.match(errorOf(parseProxyHeader(v2(0x21, 0x21, ipv4Block))).message, /36 needed/);
    assert.match(errorOf(parseProxyHeader(v2(0x21, 0x11, ipv4Block, [0x04, 0x00]))).message, /truncated TLV/);
    assert.match(errorOf(parseProxyHeader(v2(0x21, 0x11, ipv4Block, [0x04, 0x00, 0x05, 1]))).message, /TLV longer than the header/);
  });

  it('refuses a header over the byte limit as soon as its length is known', () => {
    const big = v2(0x21, 0x11, ipv4Block, [], 65535).subarray(0, 16 + 12);
    assert.equal(errorOf(parseProxyHeader(big)).code, 'FD_ERR_PROXY_HEADER_TOO_LARGE');
    assert.equal(errorOf(parseProxyHeader(big.subarray(0, 16))).code, 'FD_ERR_PROXY_HEADER_TOO_LARGE');
    const tlvs = [0x04, 0x00, 0x64, ...new Array<number>(100).fill(0)];
    assert.equal(parseProxyHeader(v2(0x21, 0x11, ipv4Block, tlvs), 128).kind, 'error');
    assert.equal(parseProxyHeader(v2(0x21, 0x11, ipv4Block, tlvs), 131).kind, 'header');
  });
});

describe('not a PROXY header', () => {
  it('refuses an HTTP request, TLS, or garbage at the first byte', () => {
    for (const start of ['GET / HTTP/1.1\r\n', '\x16\x03\x01', '\x00', ' PROXY', 'X']) {
      assert.equal(errorOf(parseProxyHeader(ascii(start).subarray(0, 1))).code, 'FD_ERR_PROXY_HEADER_INVALID', JSON.stringify(start));
    }
    assert.deepEqual(parseProxyHeader(new Uint8Array(0)), { kind: 'more' });
    assert.deepEqual(parseProxyHeader(ascii('P')), { kind: 'more' });
    assert.deepEqual(parseProxyHeader(ascii('\r')), { kind: 'more' });
    assert.equal(parseProxyHeader(ascii('POST / HTTP/1.1')).kind, 'error');
  });

  it('survives random bytes: every result is more, a header within the input, or an error', () => {
    let seed = 7;
    const random = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
    for (let round = 0; round < 3000; round++) {
      const length = random() % 64;
      const prefix = round % 3 === 0 ? ascii('PROXY ') : round % 3 === 1 ? Buffer.from(PROXY_V2_SIGNATURE) : Buffer.alloc(0);
      const bytes = Buffer.concat([prefix, Buffer.from(Array.from({ length }, random))]);
      const result = parseProxyHeader(bytes);
      if (result.kind === 'header') assert.ok(result.length <= bytes.length);
    }
  });
});
