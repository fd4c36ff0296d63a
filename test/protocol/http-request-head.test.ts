import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import {
  RequestHeadError,
  RequestHeadParser,
  requestHeadLimits,
  type RequestHead,
  type RequestHeadLimits,
  type RequestHeadResult,
} from '../../src/protocol/http-request-head.js';
import { scaled } from '../helpers/time.js';

const UPGRADE = 'GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

/** Feed `input` in chunks of `size` bytes (all at once when absent); the first answer that is not "more". */
function parse(input: string | Buffer, size?: number, limits: RequestHeadLimits = {}): RequestHeadResult {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  const parser = new RequestHeadParser(limits);
  const step = size ?? Math.max(bytes.length, 1);
  let result: RequestHeadResult = { state: 'more' };
  for (let offset = 0; offset < bytes.length && result.state === 'more'; offset += step) {
    result = parser.push(bytes.subarray(offset, offset + step));
  }
  return result;
}

function request(input: string | Buffer, size?: number, limits?: RequestHeadLimits): { request: RequestHead; rest: Buffer } {
  const result = parse(input, size, limits);
  if (result.state !== 'done') assert.fail(`expected a request, got ${JSON.stringify(result.state === 'error' ? result.error.message : result)}`);
  return result;
}

function refusal(input: string | Buffer, size?: number, limits?: RequestHeadLimits): RequestHeadError {
  const result = parse(input, size, limits);
  if (result.state !== 'error') assert.fail(`expected an error, got ${result.state}`);
  return result.error;
}

describe('RequestHeadParser: a request head, in one chunk or many', () => {
  it('reads the request line, the fields as rawHeaders (names as sent, values trimmed) and the upgrade flag', () => {
    const { request: head, rest } = request(UPGRADE);
    assert.equal(head.method, 'GET');
    assert.equal(head.target, '/chat?room=1');
    assert.equal(head.versionMajor, 1);
    assert.equal(head.versionMinor, 1);
    assert.deepEqual(head.rawHeaders, ['Host', 'example.com', 'Upgrade', 'websocket', 'Connection', 'Upgrade', 'Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version', '13']);
    assert.equal(head.upgrade, true);
    assert.equal(rest.length, 0);
  });

  it('gives the same request for every chunking, down to one byte at a time', () => {
    const whole = request(UPGRADE + 'FRAME');
    for (const size of [1, 2, 3, 5, 7, 64]) {
      const split = request(UPGRADE + 'FRAME', size);
      assert.deepEqual(split.request, whole.request, `chunks of ${size}`);
      // The bytes after the head come back, whatever chunk they came in.
      if (size >= 5) assert.equal(whole.rest.toString(), 'FRAME');
    }
  });

  it('returns the bytes after the head (a first frame sent right behind the handshake)', () => {
    const frame = Buffer.from([0x81, 0x85, 1, 2, 3, 4, 0x69, 0x67, 0x6f, 0x68, 0x6e]);
    const { rest } = request(Buffer.concat([Buffer.from(UPGRADE, 'latin1'), frame]));
    assert.deepEqual(rest, frame);
    // In two chunks, the second holding the end of the head and the frame.
    const parser = new RequestHeadParser();
    const bytes = Buffer.concat([Buffer.from(UPGRADE, 'latin1'), frame]);
    assert.equal(parser.push(bytes.subarray(0, 20)).state, 'more');
    const result = parser.push(bytes.subarray(20));
    assert.equal(result.state, 'done');
    assert.deepEqual(result.state === 'done' && result.rest, frame);
  });

  it('keeps repeated fields each time, in order, and obs-text bytes as latin1 characters', () => {
    const { request: head } = request('GET / HTTP/1.1\r\nHost: a\r\nCookie: a=1\r\ncookie: b=2\r\nX-Name: caf\xe9\r\nEmpty:\r\n\r\n');
    assert.deepEqual(head.rawHeaders, ['Host', 'a', 'Cookie', 'a=1', 'cookie', 'b=2', 'X-Name', 'caf\u00e9', 'Empty', '']);
  });

  it('trims spaces and tabs around a value, and keeps them inside', () => {
    const { request: head } = request('GET / HTTP/1.1\r\nHost: \t a \t b \t \r\n\r\n');
    assert.deepEqual(head.rawHeaders, ['Host', 'a \t b']);
  });

  it('skips empty lines before the request line (RFC 9112 §2.2)', () => {
    assert.equal(request('\r\n\r\n' + UPGRADE).request.target, '/chat?room=1');
    assert.equal(request('\r\n' + UPGRADE, 1).request.target, '/chat?room=1');
  });

  it('is an upgrade only with Upgrade present and Connection listing upgrade (any case, any place in the list)', () => {
    const head = (fields: string): boolean => request(`GET / HTTP/1.1\r\nHost: a\r\n${fields}\r\n`).request.upgrade;
    assert.equal(head('Upgrade: websocket\r\nConnection: keep-alive, UPGRADE\r\n'), true);
    assert.equal(head('Upgrade: websocket\r\nConnection: keep-alive\r\nConnection: upgrade\r\n'), true);
    assert.equal(head('Upgrade: websocket\r\n'), false);
    assert.equal(head('Connection: Upgrade\r\n'), false);
    assert.equal(head('Upgrade: websocket\r\nConnection: upgraded\r\n'), false);
  });

  it('takes any method token, HTTP/1.0, and request-targets of every form', () => {
    assert.equal(request('PURGE / HTTP/1.1\r\n\r\n').request.method, 'PURGE');
    assert.equal(request('GET / HTTP/1.0\r\n\r\n').request.versionMinor, 0);
    for (const target of ['*', 'http://a/b?c#d', 'example.com:443', "/a!$&'()*+,;=:@%20~"]) {
      assert.equal(request(`GET ${target} HTTP/1.1\r\n\r\n`).request.target, target);
    }
  });

  it('throws when used after its answer', () => {
    const parser = new RequestHeadParser();
    parser.push(Buffer.from(UPGRADE));
    assert.throws(() => parser.push(Buffer.from('x')), /already read/);
  });
});

describe('RequestHeadParser: malformed heads are refused with 400 (or 505), as soon as the bytes show it', () => {
  const cases: Array<[string, string, number]> = [
    ['a bare LF ending every line', 'GET / HTTP/1.1\nHost: a\n\n', 400],
    ['a bare LF ending one field line', 'GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n', 400],
    ['a bare LF ending the head', 'GET / HTTP/1.1\r\nHost: a\r\n\n', 400],
    ['a lone CR in a value', 'GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n', 400],
    ['whitespace before the colon', 'GET / HTTP/1.1\r\nHost : a\r\n\r\n', 400],
    ['obs-fold', 'GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n', 400],
    ['a first field line starting with a tab', 'GET / HTTP/1.1\r\n\tHost: a\r\n\r\n', 400],
    ['an empty field name', 'GET / HTTP/1.1\r\n: a\r\n\r\n', 400],
    ['a field line without a colon', 'GET / HTTP/1.1\r\nHost\r\n\r\n', 400],
    ['a field name that is not a token', 'GET / HTTP/1.1\r\nX-(a): 1\r\n\r\n', 400],
    ['a non-ASCII field name', 'GET / HTTP/1.1\r\nX-\xe9: 1\r\n\r\n', 400],
    ['NUL in a value', 'GET / HTTP/1.1\r\nHost: a\x00b\r\n\r\n', 400],
    ['DEL in a value', 'GET / HTTP/1.1\r\nHost: a\x7fb\r\n\r\n', 400],
    ['a repeated Content-Length', 'GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n', 400],
    ['a Content-Length that is not a number', 'GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n', 400],
    ['Content-Length with Transfer-Encoding', 'GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n', 400],
    ['a method that is not a token', 'G(T / HTTP/1.1\r\n\r\n', 400],
    ['two spaces after the method', 'GET  / HTTP/1.1\r\n\r\n', 400],
    ['a space after the version', 'GET / HTTP/1.1 \r\n\r\n', 400],
    ['no version (HTTP/0.9)', 'GET /\r\n\r\n', 400],
    ['a lower-case version', 'GET / http/1.1\r\n\r\n', 400],
    ['a version with three digits', 'GET / HTTP/01.1\r\n\r\n', 400],
    ['a tab in the target', 'GET /a\tb HTTP/1.1\r\n\r\n', 400],
    ['a non-ASCII byte in the target', 'GET /\xe9 HTTP/1.1\r\n\r\n', 400],
    ['DEL in the target', 'GET /a\x7f HTTP/1.1\r\n\r\n', 400],
    ['HTTP/1.2', 'GET / HTTP/1.2\r\n\r\n', 505],
    ['HTTP/2.0', 'GET / HTTP/2.0\r\n\r\n', 505],
  ];
  for (const [what, input, status] of cases) {
    it(`${what}: ${status}, whole or byte by byte`, () => {
      for (const size of [undefined, 1]) {
        const error = refusal(input, size);
        assert.ok(error instanceof RequestHeadError);
        assert.equal(error.status, status, `${what} (chunks of ${size ?? 'all'})`);
        assert.equal(error.code, status === 505 ? 'FD_ERR_HTTP_VERSION' : 'FD_ERR_HTTP_MALFORMED');
      }
    });
  }

  it('garbage (a TLS ClientHello on a plain port) is refused at its first byte, without waiting for more', () => {
    const parser = new RequestHeadParser();
    const result = parser.push(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]));
    assert.equal(result.state, 'error');
  });

  it('a bad request line is refused once it is complete, before the rest of the head', () => {
    const parser = new RequestHeadParser();
    const result = parser.push(Buffer.from('GET / HTTP/1.1 x\r\nHost: a\r\n', 'latin1'));
    assert.equal(result.state, 'error');
  });
});

describe('RequestHeadParser: hostile-input limits', () => {
  it('defaults: a 16 KiB head, 1,000 fields, a 16 KiB request line; bad limits are RangeErrors', () => {
    assert.deepEqual(requestHeadLimits(), { maxHeaderSize: 16384, maxHeaderCount: 1000, maxRequestLineLength: 16384 });
    for (const bad of [0, -1, 1.5, Number.NaN]) assert.throws(() => new RequestHeadParser({ maxHeaderSize: bad }), RangeError);
  });

  it('a head over maxHeaderSize: 431 as soon as the bytes pass the limit, in one chunk or one byte at a time', () => {
    const big = `GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ${'p'.repeat(20_000)}\r\n\r\n`;
    assert.equal(refusal(big).status, 431);
    assert.equal(refusal(big).code, 'FD_ERR_HTTP_HEAD_TOO_LARGE');
    const parser = new RequestHeadParser();
    const bytes = Buffer.from(big);
    let fed = 0;
    let result: RequestHeadResult = { state: 'more' };
    while (result.state === 'more') result = parser.push(bytes.subarray(fed, ++fed));
    assert.equal(result.state === 'error' && result.error.status, 431);
    assert.equal(fed, 16385, 'refused at the first byte past the limit');
  });

  it('a head of exactly maxHeaderSize bytes passes; one more byte is 431', () => {
    const make = (size: number): string => {
      const base = 'GET / HTTP/1.1\r\nX: \r\n\r\n';
      return base.replace('X: ', `X: ${'v'.repeat(size - base.length)}`);
    };
    assert.equal(Buffer.byteLength(make(300)), 300);
    assert.equal(request(make(300), undefined, { maxHeaderSize: 300 }).request.rawHeaders[1]!.length, 300 - 23);
    assert.equal(refusal(make(301), undefined, { maxHeaderSize: 300 }).status, 431);
    assert.equal(refusal(make(301), 7, { maxHeaderSize: 300 }).status, 431);
  });

  it('a request line over maxRequestLineLength: 414, also when the head limit is reached first', () => {
    const long = `GET /${'a'.repeat(100)} HTTP/1.1\r\nHost: a\r\n\r\n`;
    const error = refusal(long, undefined, { maxRequestLineLength: 64 });
    assert.equal(error.status, 414);
    assert.equal(error.code, 'FD_ERR_HTTP_REQUEST_LINE_TOO_LONG');
    assert.equal(refusal(long, 1, { maxRequestLineLength: 64 }).status, 414);
    assert.equal(refusal(`GET /${'a'.repeat(20_000)}`).status, 414);
    assert.equal(refusal(`GET /${'a'.repeat(20_000)}`, 1000).status, 414);
  });

  it('more than maxHeaderCount fields: 431', () => {
    const fields = (n: number): string => `GET / HTTP/1.1\r\n${'A: b\r\n'.repeat(n)}\r\n`;
    assert.equal(request(fields(1000)).request.rawHeaders.length, 2000);
    const error = refusal(fields(1001));
    assert.equal(error.status, 431);
    assert.equal(error.code, 'FD_ERR_HTTP_TOO_MANY_HEADERS');
    assert.equal(refusal(fields(4), undefined, { maxHeaderCount: 3 }).status, 431);
  });

  it('never keeps more than the head limit, whatever arrives', () => {
    // 64 KiB chunks after a first partial one: refused at the first chunk that passes the limit.
    const parser = new RequestHeadParser({ maxHeaderSize: 1024 });
    assert.equal(parser.push(Buffer.from('GET / HTTP/1.1\r\nX: ')).state, 'more');
    assert.equal(parser.push(Buffer.alloc(64 * 1024, 0x61)).state, 'error');
  });

  it('empty lines before the request line count against the head limit', () => {
    assert.equal(refusal('\r\n'.repeat(9000)).status, 431);
    assert.equal(refusal('\r\n'.repeat(9000), 2).status, 431);
  });

  it('is linear: a 128 KiB head fed one byte at a time takes milliseconds, not minutes', () => {
    const size = 128 * 1024;
    const bytes = Buffer.from(`GET / HTTP/1.1\r\n${'X-Field: value\r\n'.repeat(size / 16)}`.slice(0, size - 1));
    const started = performance.now();
    const parser = new RequestHeadParser({ maxHeaderSize: size });
    for (let i = 0; i < bytes.length; i++) assert.equal(parser.push(bytes.subarray(i, i + 1)).state, 'more');
    // Rescanning what came before at every byte would be 2^33 steps: minutes. Linear: well under a second.
    assert.ok(performance.now() - started < scaled(5000));
  });
});
