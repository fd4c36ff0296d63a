import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildConnectRequest,
  basicAuthorization,
  connectAuthority,
  credentialsFromUrl,
  ConnectResponseParser,
  ConnectResponseError,
  headerValue,
} from '../../src/protocol/http-connect.js';

describe('CONNECT request (RFC 9110 §9.3.6)', () => {
  it('is the authority-form request line and Host, ended by a blank line', () => {
    assert.equal(buildConnectRequest({ host: 'example.com', port: 443 }).toString(), 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
  });

  it('puts IPv6 targets in brackets, with or without brackets given', () => {
    assert.equal(connectAuthority('::1', 8080), '[::1]:8080');
    assert.equal(connectAuthority('[2001:db8::1]', 80), '[2001:db8::1]:80');
    assert.equal(connectAuthority('127.0.0.1', 80), '127.0.0.1:80');
  });

  it('adds Proxy-Authorization: Basic from credentials (RFC 7617)', () => {
    const text = buildConnectRequest({ host: 'h', port: 1, credentials: { username: 'user', password: 'pa:ss' } }).toString();
    assert.match(text, /\r\nProxy-Authorization: Basic dXNlcjpwYTpzcw==\r\n/);
    assert.equal(basicAuthorization({ username: 'Aladdin', password: 'open sesame' }), 'Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==');
  });

  it('sends extra headers in order, and an explicit Proxy-Authorization replaces the credentials', () => {
    const text = buildConnectRequest({
      host: 'h',
      port: 1,
      credentials: { username: 'u', password: 'p' },
      headers: [['X-Trace', ' a '], ['Proxy-Authorization', 'Bearer t']],
    }).toString();
    assert.equal(text, 'CONNECT h:1 HTTP/1.1\r\nHost: h:1\r\nX-Trace: a\r\nProxy-Authorization: Bearer t\r\n\r\n');
    assert.match(buildConnectRequest({ host: 'h', port: 1, headers: { 'User-Agent': 'x' } }).toString(), /\r\nUser-Agent: x\r\n/);
  });

  it('encodes credentials as UTF-8', () => {
    assert.equal(basicAuthorization({ username: 'ü', password: '' }), `Basic ${Buffer.from('ü:').toString('base64')}`);
  });

  const refused: Array<[string, Parameters<typeof buildConnectRequest>[0]]> = [
    ['CR/LF in the host', { host: 'a\r\nX: y', port: 1 }],
    ['a space in the host', { host: 'a b', port: 1 }],
    ['an empty host', { host: '', port: 1 }],
    ['port 0', { host: 'h', port: 0 }],
    ['port 65536', { host: 'h', port: 65_536 }],
    ['a fractional port', { host: 'h', port: 1.5 }],
    ['LF in a header value', { host: 'h', port: 1, headers: { 'X-A': 'a\nb' } }],
    ['CR in a header name', { host: 'h', port: 1, headers: { 'X\r': 'a' } }],
    ['a Host header', { host: 'h', port: 1, headers: { host: 'other' } }],
    ['CR/LF in the password', { host: 'h', port: 1, credentials: { username: 'u', password: 'p\r\n' } }],
    ['a colon in the username', { host: 'h', port: 1, credentials: { username: 'u:v', password: 'p' } }],
  ];
  for (const [name, options] of refused) {
    it(`refuses ${name}`, () => {
      assert.throws(() => buildConnectRequest(options), (error: Error) => error instanceof TypeError || error instanceof RangeError);
    });
  }

  it('takes credentials from the URL, percent-decoded', () => {
    assert.deepEqual(credentialsFromUrl(new URL('http://us%40er:p%3Ass%20w@proxy:3128')), { username: 'us@er', password: 'p:ss w' });
    assert.deepEqual(credentialsFromUrl(new URL('http://user@proxy')), { username: 'user', password: '' });
    assert.equal(credentialsFromUrl(new URL('http://proxy:3128')), null);
    assert.throws(() => credentialsFromUrl(new URL('http://%E0%A4%A@proxy')), TypeError);
  });
});

describe('CONNECT response head', () => {
  it('parses status, reason, headers, and hands over the bytes after the head', () => {
    const parser = new ConnectResponseParser();
    const response = parser.push(Buffer.from('HTTP/1.1 200 Connection established\r\nVia: 1.1 proxy\r\nX-A:  b \r\n\r\n\x81\x00', 'latin1'));
    assert.ok(response !== null);
    assert.equal(response.status, 200);
    assert.equal(response.reason, 'Connection established');
    assert.deepEqual(response.headers, [['via', '1.1 proxy'], ['x-a', 'b']]);
    assert.deepEqual([...response.rest], [0x81, 0x00]);
    assert.equal(headerValue(response, 'VIA'), '1.1 proxy');
  });

  it('reads byte by byte, the terminator split across chunks', () => {
    const parser = new ConnectResponseParser();
    const bytes = Buffer.from('HTTP/1.0 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="x"\r\n\r\nbody');
    let response = null;
    let i = 0;
    for (; i < bytes.length && response === null; i++) response = parser.push(bytes.subarray(i, i + 1));
    assert.ok(response !== null);
    assert.equal(i, bytes.length - 4, 'the head ends with its last byte');
    assert.equal(response.status, 407);
    assert.equal(headerValue(response, 'proxy-authenticate'), 'Basic realm="x"');
    assert.equal(response.rest.length, 0);
  });

  it('accepts bare LF line ends (RFC 9112 §2.2) and an empty reason', () => {
    const response = new ConnectResponseParser().push(Buffer.from('HTTP/1.1 502\nA: 1\n\nrest'));
    assert.equal(response?.status, 502);
    assert.equal(response?.reason, '');
    assert.equal(response?.rest.toString(), 'rest');
  });

  const malformed: Array<[string, string]> = [
    ['SSH banner', 'SSH-2.0-OpenSSH_9.2\r\n'],
    ['HTML', '<html>'],
    ['HTTP/2', 'HTTP/2 200\r\n\r\n'],
    ['a two-digit status', 'HTTP/1.1 20 OK\r\n\r\n'],
    ['status 099', 'HTTP/1.1 099 X\r\n\r\n'],
    ['a header without colon', 'HTTP/1.1 200 OK\r\nnocolon\r\n\r\n'],
    ['a space before the colon', 'HTTP/1.1 200 OK\r\nName : v\r\n\r\n'],
    ['obs-fold', 'HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n'],
  ];
  for (const [name, text] of malformed) {
    it(`calls ${name} malformed`, () => {
      assert.throws(
        () => new ConnectResponseParser().push(Buffer.from(text)),
        (error: Error) => error instanceof ConnectResponseError && error.reason === 'malformed',
      );
    });
  }

  it('fails on garbage from its first bytes, without waiting for a line end', () => {
    assert.throws(() => new ConnectResponseParser().push(Buffer.from('\x05\x00')), ConnectResponseError);
    assert.equal(new ConnectResponseParser().push(Buffer.from('HTT')), null, 'a prefix of HTTP/1. is still fine');
  });

  it('refuses a head over the limit, with or without its end', () => {
    const parser = new ConnectResponseParser(1024);
    assert.equal(parser.push(Buffer.from('HTTP/1.1 200 OK\r\n')), null);
    assert.throws(() => parser.push(Buffer.from(`X: ${'a'.repeat(1100)}`)), (error: Error) => error instanceof ConnectResponseError && error.reason === 'too-large');
    assert.throws(
      () => new ConnectResponseParser(1024).push(Buffer.from(`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(1100)}\r\n\r\n`)),
      (error: Error) => error instanceof ConnectResponseError && error.reason === 'too-large',
    );
    // The default is 16 KiB: a 10 KiB head is fine.
    assert.equal(new ConnectResponseParser().push(Buffer.from(`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(10_000)}\r\n\r\n`))?.status, 200);
  });
});
