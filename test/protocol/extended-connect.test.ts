import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HandshakeError } from '../../src/protocol/errors.js';
import {
  connectAcceptLines,
  connectRejectionHeaders,
  connectResponseHeaders,
  isWebSocketConnect,
  validateExtendedConnect,
} from '../../src/protocol/extended-connect.js';
import type { HeaderMap } from '../../src/protocol/handshake.js';

/** RFC 8441 §5.1's example request, as Node's http2 hands it over. */
const GOOD: HeaderMap = {
  ':method': 'CONNECT',
  ':protocol': 'websocket',
  ':scheme': 'https',
  ':path': '/chat?room=1',
  ':authority': 'server.example.com',
  'sec-websocket-protocol': 'chat, superchat',
  'sec-websocket-extensions': 'permessage-deflate',
  'sec-websocket-version': '13',
  origin: 'http://www.example.com',
};

function headers(changes: Record<string, string | string[] | undefined>): HeaderMap {
  const merged: Record<string, string | readonly string[]> = {};
  for (const [name, value] of Object.entries({ ...GOOD, ...changes })) if (value !== undefined) merged[name] = value;
  return merged;
}

function refusal(map: HeaderMap, status: number, code: string): HandshakeError {
  try {
    validateExtendedConnect(map);
  } catch (error) {
    assert.ok(error instanceof HandshakeError, String(error));
    assert.equal(error.status, status, error.message);
    assert.equal(error.code, code);
    return error;
  }
  assert.fail('the request was accepted');
}

describe('extended CONNECT (RFC 8441)', () => {
  it('accepts RFC 8441 §5.1 example request and reads path, authority, scheme, subprotocols, extensions and origin', () => {
    const v = validateExtendedConnect(GOOD);
    assert.equal(v.path, '/chat?room=1');
    assert.equal(v.authority, 'server.example.com');
    assert.equal(v.scheme, 'https');
    assert.deepEqual(v.protocols, ['chat', 'superchat']);
    assert.deepEqual(v.extensions.map((e) => e.name), ['permessage-deflate']);
    assert.equal(v.origin, 'http://www.example.com');
  });

  it('needs neither Sec-WebSocket-Key nor Upgrade nor Connection (RFC 8441 §5)', () => {
    assert.ok(!('sec-websocket-key' in GOOD) && !('upgrade' in GOOD));
    assert.doesNotThrow(() => validateExtendedConnect(headers({ 'sec-websocket-protocol': undefined, 'sec-websocket-extensions': undefined, origin: undefined })));
  });

  it('tells WebSocket CONNECT streams from the others', () => {
    assert.equal(isWebSocketConnect(GOOD), true);
    assert.equal(isWebSocketConnect(headers({ ':protocol': 'WebSocket' })), true);
    assert.equal(isWebSocketConnect(headers({ ':protocol': undefined })), false);
    assert.equal(isWebSocketConnect(headers({ ':protocol': 'connect-udp' })), false);
    assert.equal(isWebSocketConnect({ ':method': 'GET', ':path': '/' }), false);
  });

  it('answers each malformed request with its status', () => {
    const table: Array<[string, Record<string, string | string[] | undefined>, number, string]> = [
      ['a GET', { ':method': 'GET' }, 405, 'FD_ERR_HANDSHAKE_METHOD'],
      ['a plain CONNECT (no :protocol)', { ':protocol': undefined }, 400, 'FD_ERR_HANDSHAKE_CONNECT_PROTOCOL'],
      ['an unknown :protocol (RFC 9220 §3: 501)', { ':protocol': 'connect-udp' }, 501, 'FD_ERR_HANDSHAKE_CONNECT_PROTOCOL'],
      ['no :path', { ':path': undefined }, 400, 'FD_ERR_HANDSHAKE_PSEUDO_HEADER'],
      ['an empty :path', { ':path': '' }, 400, 'FD_ERR_HANDSHAKE_PSEUDO_HEADER'],
      ['a :path in absolute form', { ':path': 'https://server.example.com/chat' }, 400, 'FD_ERR_HANDSHAKE_PSEUDO_HEADER'],
      ['no :scheme', { ':scheme': undefined }, 400, 'FD_ERR_HANDSHAKE_PSEUDO_HEADER'],
      ['no :authority', { ':authority': undefined }, 400, 'FD_ERR_HANDSHAKE_PSEUDO_HEADER'],
      ['a body', { 'content-length': '5' }, 400, 'FD_ERR_HANDSHAKE_BODY'],
      ['no version', { 'sec-websocket-version': undefined }, 400, 'FD_ERR_HANDSHAKE_VERSION'],
      ['version 8', { 'sec-websocket-version': '8' }, 400, 'FD_ERR_HANDSHAKE_VERSION'],
      ['a malformed subprotocol list', { 'sec-websocket-protocol': 'chat, "x"' }, 400, 'FD_ERR_HANDSHAKE_PROTOCOL'],
      ['a subprotocol offered twice', { 'sec-websocket-protocol': 'chat, chat' }, 400, 'FD_ERR_HANDSHAKE_PROTOCOL'],
      ['malformed extensions', { 'sec-websocket-extensions': 'permessage-deflate; =' }, 400, 'FD_ERR_HANDSHAKE_EXTENSIONS'],
    ];
    for (const [what, change, status, code] of table) {
      const error = refusal(headers(change), status, code);
      assert.ok(error.message.length > 0, what);
    }
  });

  it('names the version it speaks when refusing another, with 400 since a 426 would need Upgrade (forbidden in HTTP/2)', () => {
    const error = refusal(headers({ 'sec-websocket-version': '8' }), 400, 'FD_ERR_HANDSHAKE_VERSION');
    assert.deepEqual(error.headers, { 'Sec-WebSocket-Version': '13' });
  });

  it('says which method to use when refusing another', () => {
    assert.deepEqual(refusal(headers({ ':method': 'GET' }), 405, 'FD_ERR_HANDSHAKE_METHOD').headers, { Allow: 'CONNECT' });
  });

  it('ignores the extensions header when told there is nothing to negotiate, as over HTTP/1.1', () => {
    const v = validateExtendedConnect(headers({ 'sec-websocket-extensions': 'permessage-deflate; =' }), { extensions: false });
    assert.deepEqual(v.extensions, []);
  });

  it('builds the 200 response lines with the chosen subprotocol and extensions, and no Accept key', () => {
    const lines = connectAcceptLines({ protocol: 'chat', extensions: 'permessage-deflate; server_no_context_takeover' });
    assert.deepEqual(lines, ['HTTP/2 200', 'sec-websocket-protocol: chat', 'sec-websocket-extensions: permessage-deflate; server_no_context_takeover']);
    assert.deepEqual(connectAcceptLines({}), ['HTTP/2 200']);
    assert.throws(() => connectAcceptLines({ protocol: 'a b' }), TypeError);
  });

  it('turns the lines (with those a headers listener added) into HTTP/2 headers, dropping connection-specific ones', () => {
    const lines = [...connectAcceptLines({ protocol: 'chat' }), 'Set-Cookie: a=1', 'set-cookie: b=2', 'Connection: keep-alive', 'Upgrade: websocket', 'X-Id:  7 '];
    assert.deepEqual(connectResponseHeaders(lines), {
      ':status': 200,
      'sec-websocket-protocol': 'chat',
      'set-cookie': ['a=1', 'b=2'],
      'x-id': '7',
    });
    assert.throws(() => connectResponseHeaders(['HTTP/2 200', 'no colon']), TypeError);
    assert.throws(() => connectResponseHeaders(['HTTP/2 200', 'X-A: 1\r\nX-B: 2']), TypeError);
    assert.throws(() => connectResponseHeaders(['HTTP/2 200', ':status: 500']), TypeError);
  });

  it('builds refusal headers: status, text body type, the rejection headers lower-cased, no connection-specific ones', () => {
    assert.deepEqual(connectRejectionHeaders(503, { 'Retry-After': '5', Connection: 'close' }), {
      ':status': 503,
      'content-type': 'text/plain; charset=utf-8',
      'retry-after': '5',
    });
    assert.deepEqual(connectRejectionHeaders(401, { 'WWW-Authenticate': ['Basic', 'Bearer'] })['www-authenticate'], ['Basic', 'Bearer']);
  });
});
