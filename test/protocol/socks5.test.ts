import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import {
  Socks5Handshake,
  Socks5Error,
  SOCKS5_REPLIES,
  socks5Address,
  socks5ReplyName,
  type Socks5Step,
  type Socks5Target,
} from '../../src/protocol/socks5.js';
import { formatIPv6Groups as formatIPv6, parseIPv6 } from '../../src/protocol/ip-address.js';

const bytes = (...values: number[]): Buffer => Buffer.from(values);
const SUCCESS_V4 = bytes(5, 0, 0, 1, 10, 0, 0, 7, 0x1f, 0x90); // bound 10.0.0.7:8080

/** Feed `chunks` one call each; the steps in order. */
function feed(handshake: Socks5Handshake, ...chunks: Buffer[]): Socks5Step[] {
  return chunks.map((chunk) => handshake.receive(chunk));
}

/** Feed every byte of `data` separately; the `send`s joined and the last step. */
function feedBytewise(handshake: Socks5Handshake, data: Buffer): { sent: Buffer; last: Socks5Step } {
  const sent: Buffer[] = [];
  let last: Socks5Step | undefined;
  for (const byte of data) {
    last = handshake.receive(bytes(byte));
    if (last.send !== null) sent.push(last.send);
    if (last.open !== null) break;
  }
  return { sent: Buffer.concat(sent), last: last! };
}

function failure(target: Socks5Target, ...chunks: Buffer[]): Socks5Error {
  const handshake = new Socks5Handshake(target);
  handshake.greeting();
  try {
    feed(handshake, ...chunks);
  } catch (error) {
    assert.ok(error instanceof Socks5Error, String(error));
    return error;
  }
  assert.fail('expected a Socks5Error');
}

describe('SOCKS5 client handshake (RFC 1928, RFC 1929)', () => {
  it('greets offering "no authentication" only, without credentials', () => {
    assert.deepEqual(new Socks5Handshake({ host: 'example.com', port: 80 }).greeting(), bytes(5, 1, 0));
  });

  it('greets offering "no authentication" and username/password, with credentials', () => {
    const handshake = new Socks5Handshake({ host: 'example.com', port: 80, credentials: { username: 'u', password: 'p' } });
    assert.deepEqual(handshake.greeting(), bytes(5, 2, 0, 2));
  });

  it('sends CONNECT with a domain name (ATYP 3) for a host name: remote DNS', () => {
    const handshake = new Socks5Handshake({ host: 'example.com', port: 443 });
    const [step] = feed(handshake, bytes(5, 0));
    assert.deepEqual(step!.send, Buffer.concat([bytes(5, 1, 0, 3, 11), Buffer.from('example.com'), bytes(1, 187)]));
    assert.equal(step!.open, null);
  });

  it('sends CONNECT with ATYP 1 for an IPv4 address and ATYP 4 for an IPv6 address', () => {
    const v4 = new Socks5Handshake({ host: '127.0.0.1', port: 8080 });
    assert.deepEqual(v4.receive(bytes(5, 0)).send, bytes(5, 1, 0, 1, 127, 0, 0, 1, 0x1f, 0x90));
    const v6 = new Socks5Handshake({ host: '::1', port: 1 });
    assert.deepEqual(v6.receive(bytes(5, 0)).send, Buffer.concat([bytes(5, 1, 0, 4), parseIPv6('::1')!, bytes(0, 1)]));
    const bracketed = new Socks5Handshake({ host: '[2001:db8::1]', port: 1 });
    assert.deepEqual(bracketed.address, { type: 'ipv6', host: '2001:db8::1' });
  });

  it('runs the username/password sub-negotiation when the proxy picks method 0x02', () => {
    const handshake = new Socks5Handshake({ host: 'h', port: 1, credentials: { username: 'üser', password: 'pa:ss' } });
    const [chosen, accepted, replied] = feed(handshake, bytes(5, 2), bytes(1, 0), SUCCESS_V4);
    const user = Buffer.from('üser');
    assert.deepEqual(chosen!.send, Buffer.concat([bytes(1, user.length), user, bytes(5), Buffer.from('pa:ss')]));
    assert.deepEqual(accepted!.send, Buffer.concat([bytes(5, 1, 0, 3, 1), Buffer.from('h'), bytes(0, 1)]));
    assert.deepEqual(replied!.open, { bound: { type: 'ipv4', host: '10.0.0.7' }, port: 8080 });
  });

  it('skips the sub-negotiation when a proxy picks "no authentication" although credentials were offered', () => {
    const handshake = new Socks5Handshake({ host: 'h', port: 1, credentials: { username: 'u', password: 'p' } });
    const [step] = feed(handshake, bytes(5, 0));
    assert.equal(step!.send![1], 1); // CONNECT
  });

  it('takes the whole exchange one byte at a time', () => {
    const handshake = new Socks5Handshake({ host: 'h', port: 1, credentials: { username: 'u', password: 'p' } });
    const { sent, last } = feedBytewise(handshake, Buffer.concat([bytes(5, 2, 1, 0), SUCCESS_V4]));
    assert.deepEqual(sent, Buffer.concat([bytes(1, 1), Buffer.from('u'), bytes(1), Buffer.from('p'), bytes(5, 1, 0, 3, 1), Buffer.from('h'), bytes(0, 1)]));
    assert.deepEqual(last.open, { bound: { type: 'ipv4', host: '10.0.0.7' }, port: 8080 });
    assert.equal(handshake.open, true);
  });

  it('takes the method selection, the auth status and the reply in one chunk', () => {
    const handshake = new Socks5Handshake({ host: 'h', port: 1, credentials: { username: 'u', password: 'p' } });
    const step = handshake.receive(Buffer.concat([bytes(5, 2, 1, 0), SUCCESS_V4]));
    assert.ok(step.send !== null && step.send.length > 0);
    assert.notEqual(step.open, null);
  });

  it('parses BND.ADDR of every address type', () => {
    const cases: [Buffer, unknown][] = [
      [bytes(5, 0, 0, 1, 192, 168, 1, 2, 0, 80), { bound: { type: 'ipv4', host: '192.168.1.2' }, port: 80 }],
      [Buffer.concat([bytes(5, 0, 0, 4), parseIPv6('2001:db8::8:0:1')!, bytes(0x01, 0xbb)]), { bound: { type: 'ipv6', host: '2001:db8::8:0:1' }, port: 443 }],
      [Buffer.concat([bytes(5, 0, 0, 3, 9), Buffer.from('proxy.lan'), bytes(0, 0)]), { bound: { type: 'domain', host: 'proxy.lan' }, port: 0 }],
    ];
    for (const [reply, expected] of cases) {
      const whole = new Socks5Handshake({ host: 'h', port: 1 });
      assert.deepEqual(feed(whole, bytes(5, 0), reply)[1]!.open, expected);
      const bytewise = new Socks5Handshake({ host: 'h', port: 1 });
      bytewise.receive(bytes(5, 0));
      assert.deepEqual(feedBytewise(bytewise, reply).last.open, expected);
    }
  });

  it('keeps the bytes after the reply for the tunnel', () => {
    const handshake = new Socks5Handshake({ host: 'h', port: 1 });
    const [, step] = feed(handshake, bytes(5, 0), Buffer.concat([SUCCESS_V4, Buffer.from('HTTP/1.1 101')]));
    assert.equal(step!.rest.toString(), 'HTTP/1.1 101');
    assert.throws(() => handshake.receive(bytes(1)), /handshake is over/);
  });

  it('names every reply code 0x01–0x08 as RFC 1928 §6 does, with the code in the error', () => {
    assert.deepEqual(Object.keys(SOCKS5_REPLIES).map(Number), [1, 2, 3, 4, 5, 6, 7, 8]);
    for (let reply = 1; reply <= 9; reply++) {
      const error = failure({ host: 'h', port: 1 }, bytes(5, 0), bytes(5, reply));
      assert.equal(error.kind, 'refused');
      assert.equal(error.reply, reply);
      assert.ok(error.message.includes(socks5ReplyName(reply)), error.message);
      assert.ok(error.message.includes(`0x0${reply}`), error.message);
    }
    assert.equal(socks5ReplyName(5), 'Connection refused');
    assert.equal(socks5ReplyName(9), 'unassigned reply code');
  });

  it('reports "no acceptable methods" (0xFF) as an authentication failure', () => {
    const without = failure({ host: 'h', port: 1 }, bytes(5, 0xff));
    assert.equal(without.kind, 'auth');
    assert.match(without.message, /no acceptable authentication methods.*requires credentials/);
    const withCredentials = failure({ host: 'h', port: 1, credentials: { username: 'u', password: 'p' } }, bytes(5, 0xff));
    assert.equal(withCredentials.kind, 'auth');
  });

  it('reports rejected credentials (RFC 1929 status other than 0) as an authentication failure', () => {
    const error = failure({ host: 'h', port: 1, credentials: { username: 'u', password: 'p' } }, bytes(5, 2), bytes(1, 1));
    assert.equal(error.kind, 'auth');
    assert.match(error.message, /rejected the username and password/);
  });

  it('rejects answers that are not SOCKS5', () => {
    const cases: [Socks5Target, Buffer[], RegExp][] = [
      [{ host: 'h', port: 1 }, [Buffer.from('HTTP/1.1 400 Bad Request\r\n')], /version 72, not 5/],
      [{ host: 'h', port: 1 }, [bytes(4, 0)], /version 4, not 5/],
      [{ host: 'h', port: 1 }, [bytes(5, 2)], /method 0x02, which was not offered/],
      [{ host: 'h', port: 1 }, [bytes(5, 1)], /method 0x01/],
      [{ host: 'h', port: 1 }, [bytes(5, 0), bytes(4, 0, 0, 1)], /reply has version 4/],
      [{ host: 'h', port: 1 }, [bytes(5, 0), bytes(5, 0, 0, 2, 0)], /unknown address type 0x02/],
      [{ host: 'h', port: 1, credentials: { username: 'u', password: 'p' } }, [bytes(5, 2), bytes(2, 0)], /version 2, not 1/],
    ];
    for (const [target, chunks, message] of cases) {
      const error = failure(target, ...chunks);
      assert.equal(error.kind, 'response', error.message);
      assert.match(error.message, message);
    }
  });

  it('accepts version 5 in the sub-negotiation answer, as curl does', () => {
    const handshake = new Socks5Handshake({ host: 'h', port: 1, credentials: { username: 'u', password: 'p' } });
    assert.notEqual(feed(handshake, bytes(5, 2), bytes(5, 0))[1]!.send, null);
  });

  it('refuses credentials and host names SOCKS5 cannot carry', () => {
    const long = 'x'.repeat(256);
    const cases: [Socks5Target, RegExp][] = [
      [{ host: 'h', port: 1, credentials: { username: '', password: 'p' } }, /username must be 1 to 255 bytes.*it is 0/],
      [{ host: 'h', port: 1, credentials: { username: 'u', password: '' } }, /password must be 1 to 255 bytes/],
      [{ host: 'h', port: 1, credentials: { username: long, password: 'p' } }, /it is 256/],
      [{ host: 'h', port: 1, credentials: { username: 'u', password: 'é'.repeat(128) } }, /password.*it is 256/],
      [{ host: long, port: 1 }, /host name must be 1 to 255 bytes/],
      [{ host: 'h', port: 65536 }, /port 65536/],
      [{ host: 'fe80::1%eth0', port: 1 }, /IPv6 address with a zone/], // isIP says 6; the zone means nothing to the proxy
    ];
    for (const [target, message] of cases) {
      assert.throws(() => new Socks5Handshake(target), (error: unknown) => error instanceof Socks5Error && error.kind === 'request' && message.test(error.message));
    }
    new Socks5Handshake({ host: 'x'.repeat(255), port: 1, credentials: { username: 'u'.repeat(255), password: 'p'.repeat(255) } });
  });

  it('tells IP literals from host names', () => {
    assert.deepEqual(socks5Address('10.1.2.3'), { type: 'ipv4', host: '10.1.2.3' });
    assert.deepEqual(socks5Address('::ffff:10.1.2.3'), { type: 'ipv6', host: '::ffff:10.1.2.3' });
    for (const name of ['localhost', '1.2.3', '1.2.3.256', '01.2.3.4', 'fe80::1%eth0', ':::', '1:2:3:4:5:6:7:8:9', 'cafe', '1.2.3.4::']) {
      assert.equal(socks5Address(name).type, 'domain', name);
    }
  });

  it('parses and formats IPv6 text (RFC 4291 §2.2, RFC 5952)', () => {
    const cases: [string, string][] = [
      ['::', '::'],
      ['::1', '::1'],
      ['2001:DB8:0:0:8:800:200C:417A', '2001:db8::8:800:200c:417a'],
      ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
      ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
      ['1:2:3:4:5:6:0:8', '1:2:3:4:5:6:0:8'],
      ['::ffff:192.0.2.1', '::ffff:c000:201'],
    ];
    for (const [text, canonical] of cases) assert.equal(formatIPv6(parseIPv6(text)!), canonical, text);
  });

  it('agrees with node:net isIP on which strings are IP addresses', () => {
    const samples = [
      '0.0.0.0', '255.255.255.255', '256.1.1.1', '1.1.1', '1.1.1.1.1', '1..1.1', ' 1.1.1.1', '1.1.1.1 ',
      '::', '::1', '1::', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8:9', '1::2::3',
      ':1:2:3:4:5:6:7', '1:2:3:4:5:6:7:', '12345::', 'g::', '::ffff:1.2.3.4', '1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:7:1.2.3.4',
      '::1.2.3', '1.2.3.4::', 'localhost', 'example.com', '',
    ];
    for (const sample of samples) {
      const expected = isIP(sample) === 4 ? 'ipv4' : isIP(sample) === 6 ? 'ipv6' : 'domain';
      assert.equal(socks5Address(sample).type, expected, JSON.stringify(sample));
    }
  });

  it('formats IPv6 as the WHATWG URL serializer does, and parses its own output back (random addresses)', () => {
    for (let i = 0; i < 2_000; i++) {
      const raw = randomBytes(16);
      // Runs of zero groups, so that the "::" choice is exercised.
      for (let g = 0; g < 8; g++) if (raw[g]! < 100) raw.writeUInt16BE(0, g * 2);
      const text = formatIPv6(raw);
      assert.equal(text, new URL(`http://[${text}]/`).hostname.slice(1, -1));
      assert.deepEqual(Buffer.from(parseIPv6(text)!), raw, text);
    }
  });
});
