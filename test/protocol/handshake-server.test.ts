import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HandshakeError } from '../../src/protocol/errors.js';
import { acceptResponse, acceptResponseLines, formatAcceptResponse, formatResponseLines, isValidKey, validateRequest, type HandshakeRequest } from '../../src/protocol/handshake-server.js';
import type { HeaderMap } from '../../src/protocol/handshake.js';

const GOOD: HeaderMap = {
  host: 'server.example.com',
  upgrade: 'websocket',
  connection: 'Upgrade',
  'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
  'sec-websocket-version': '13',
  origin: 'http://example.com',
};

function request(headers: Record<string, string | string[] | undefined>, extra: Partial<HandshakeRequest> = {}): HandshakeRequest {
  const merged: Record<string, string | readonly string[]> = {};
  for (const [name, value] of Object.entries({ ...GOOD, ...headers })) if (value !== undefined) merged[name] = value;
  return { method: 'GET', httpVersion: '1.1', headers: merged, ...extra };
}

function refusal(req: HandshakeRequest, status: number, code: string): HandshakeError {
  try {
    validateRequest(req);
  } catch (error) {
    assert.ok(error instanceof HandshakeError, String(error));
    assert.equal(error.status, status, error.message);
    assert.equal(error.code, code);
    return error;
  }
  assert.fail('the request was accepted');
}

function refused(req: HandshakeRequest, status: number, code: string): void {
  refusal(req, status, code);
}

describe('server handshake: validation (RFC 6455 §4.2.1)', () => {
  it('accepts the RFC example request', () => {
    const result = validateRequest(request({}));
    assert.equal(result.key, 'dGhlIHNhbXBsZSBub25jZQ==');
    assert.deepEqual(result.protocols, []);
    assert.deepEqual(result.extensions, []);
    assert.equal(result.origin, 'http://example.com');
  });

  it('accepts case-insensitive Upgrade and a Connection token list', () => {
    validateRequest(request({ upgrade: 'WebSocket', connection: 'keep-alive, Upgrade' }));
    validateRequest(request({ connection: 'UPGRADE' }));
  });

  it('reads offered subprotocols and extensions in order', () => {
    const result = validateRequest(
      request({ 'sec-websocket-protocol': 'chat, superchat', 'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits' }),
    );
    assert.deepEqual(result.protocols, ['chat', 'superchat']);
    assert.equal(result.extensions[0]?.name, 'permessage-deflate');
  });

  it('405 for another method, with Allow: GET', () => {
    const error = refusal(request({}, { method: 'POST' }), 405, 'FD_ERR_HANDSHAKE_METHOD');
    assert.equal(error.headers['Allow'], 'GET');
  });
  it('400 for HTTP/1.0', () => refused(request({}, { httpVersion: '1.0' }), 400, 'FD_ERR_HANDSHAKE_HTTP_VERSION'));
  it('accepts HTTP/2.0 as a version number', () => {
    validateRequest(request({}, { httpVersion: '2.0' }));
  });
  it('400 without Host', () => refused(request({ host: undefined }), 400, 'FD_ERR_HANDSHAKE_HOST'));
  it('400 for a request with a body', () => refused(request({ 'content-length': '5' }), 400, 'FD_ERR_HANDSHAKE_BODY'));
  it('400 for a chunked request', () => refused(request({ 'transfer-encoding': 'chunked' }), 400, 'FD_ERR_HANDSHAKE_BODY'));
  it('accepts Content-Length: 0', () => {
    validateRequest(request({ 'content-length': '0' }));
  });
  it('400 without Upgrade', () => refused(request({ upgrade: undefined }), 400, 'FD_ERR_HANDSHAKE_UPGRADE'));
  it('400 for Upgrade: h2c', () => refused(request({ upgrade: 'h2c' }), 400, 'FD_ERR_HANDSHAKE_UPGRADE'));
  it('400 without Connection: Upgrade', () => refused(request({ connection: 'keep-alive' }), 400, 'FD_ERR_HANDSHAKE_CONNECTION'));
  it('400 for Connection: upgraded (a substring is not a token)', () => refused(request({ connection: 'upgraded' }), 400, 'FD_ERR_HANDSHAKE_CONNECTION'));
  it('400 without a key', () => refused(request({ 'sec-websocket-key': undefined }), 400, 'FD_ERR_HANDSHAKE_KEY'));
  it('400 for a key of 15 bytes', () => refused(request({ 'sec-websocket-key': Buffer.alloc(15).toString('base64') }), 400, 'FD_ERR_HANDSHAKE_KEY'));
  it('400 for a key of 17 bytes', () => refused(request({ 'sec-websocket-key': Buffer.alloc(17).toString('base64') }), 400, 'FD_ERR_HANDSHAKE_KEY'));
  it('400 for a key that is not base64', () => refused(request({ 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25j!Q==' }), 400, 'FD_ERR_HANDSHAKE_KEY'));
  it('400 for two keys', () =>
    refused(request({ 'sec-websocket-key': ['dGhlIHNhbXBsZSBub25jZQ==', 'AAAAAAAAAAAAAAAAAAAAAA=='] }), 400, 'FD_ERR_HANDSHAKE_KEY'));
  it('400 for two keys joined by Node', () =>
    refused(request({ 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==, AAAAAAAAAAAAAAAAAAAAAA==' }), 400, 'FD_ERR_HANDSHAKE_KEY'));
  it('400 without a version', () => refused(request({ 'sec-websocket-version': undefined }), 400, 'FD_ERR_HANDSHAKE_VERSION'));
  for (const version of ['8', '12', '14', 'abc']) {
    it(`426 with Sec-WebSocket-Version: 13 for version ${version}`, () => {
      const error = refusal(request({ 'sec-websocket-version': version }), 426, 'FD_ERR_HANDSHAKE_VERSION');
      assert.equal(error.headers['Sec-WebSocket-Version'], '13');
    });
  }
  it('400 for a malformed Sec-WebSocket-Protocol', () => refused(request({ 'sec-websocket-protocol': 'a b' }), 400, 'FD_ERR_HANDSHAKE_PROTOCOL'));
  it('400 for non-ASCII bytes in Sec-WebSocket-Protocol', () =>
    refused(request({ 'sec-websocket-protocol': 'chat\u00ff' }), 400, 'FD_ERR_HANDSHAKE_PROTOCOL'));
  it('400 for a subprotocol offered twice', () => refused(request({ 'sec-websocket-protocol': 'a, a' }), 400, 'FD_ERR_HANDSHAKE_PROTOCOL'));
  it('400 for a malformed Sec-WebSocket-Extensions', () =>
    refused(request({ 'sec-websocket-extensions': 'permessage-deflate;' }), 400, 'FD_ERR_HANDSHAKE_EXTENSIONS'));
});

describe('server handshake: responses', () => {
  it('builds the 101 response', () => {
    const text = formatAcceptResponse({
      key: 'dGhlIHNhbXBsZSBub25jZQ==',
      protocol: 'chat',
      extensions: 'permessage-deflate',
      headers: { 'Set-Cookie': ['a=1', 'b=2'] },
    });
    assert.equal(
      text,
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n' +
        'Sec-WebSocket-Extensions: permessage-deflate\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n',
    );
  });

  it('refuses header injection in extra headers and the subprotocol', () => {
    assert.throws(() => formatAcceptResponse({ key: 'x', headers: { 'X-A': 'a\r\nX-B: b' } }), TypeError);
    assert.throws(() => formatAcceptResponse({ key: 'x', protocol: 'chat\r\nX: y' }), TypeError);
  });

  it('checks keys', () => {
    assert.equal(isValidKey('dGhlIHNhbXBsZSBub25jZQ=='), true);
    assert.equal(isValidKey('dGhlIHNhbXBsZSBub25jZQ='), false);
    assert.equal(isValidKey('dGhlIHNhbXBsZSBub25jZQ=A'), false);
  });
});

describe('acceptResponse (the 101 in one piece, when nobody changes the lines)', () => {
  const key = 'dGhlIHNhbXBsZSBub25jZQ==';
  const cases: Array<[string, string | undefined, string]> = [
    ['no subprotocol, no extension', undefined, ''],
    ['a subprotocol', 'chat', ''],
    ['an extension', undefined, 'permessage-deflate; client_max_window_bits=15'],
    ['both', 'fullduplex.resume.v1', 'permessage-deflate; server_no_context_takeover'],
  ];
  for (const [name, protocol, extensions] of cases) {
    it(`is byte for byte the joined lines: ${name}`, () => {
      assert.equal(acceptResponse(key, protocol, extensions), formatResponseLines(acceptResponseLines({ key, protocol, extensions })));
    });
  }

  it('refuses a subprotocol that is not a token, and an extension string that would smuggle in a line', () => {
    assert.throws(() => acceptResponse(key, 'a b', ''), TypeError);
    assert.throws(() => acceptResponse(key, undefined, 'permessage-deflate\r\nX-Evil: 1'), TypeError);
  });
});

describe('validateRequest: extensions option', () => {
  it('with extensions: false the Sec-WebSocket-Extensions header is not parsed (no 400, none returned)', () => {
    const bad = request({ 'sec-websocket-extensions': 'permessage-deflate;;' });
    assert.throws(() => validateRequest(bad), (error: unknown) => error instanceof HandshakeError && error.status === 400);
    assert.deepEqual(validateRequest(bad, { extensions: false }).extensions, []);
    assert.deepEqual(validateRequest(request({ 'sec-websocket-extensions': 'permessage-deflate' }), { extensions: false }).extensions, []);
  });
});
