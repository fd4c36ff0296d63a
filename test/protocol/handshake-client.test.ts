import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HandshakeError } from '../../src/protocol/errors.js';
import { createClientHandshake, validateResponse, type ClientHandshake } from '../../src/protocol/handshake-client.js';
import { computeAcceptKey, type HeaderMap } from '../../src/protocol/handshake.js';
import { validateRequest } from '../../src/protocol/handshake-server.js';

function handshake(protocols: string[] = [], extensions = false): ClientHandshake {
  return createClientHandshake({
    key: 'dGhlIHNhbXBsZSBub25jZQ==',
    protocols,
    ...(extensions && { extensions: [{ name: 'permessage-deflate', params: [{ name: 'client_max_window_bits', value: null }] }] }),
  });
}

function response(headers: Record<string, string | undefined>, statusCode = 101): { statusCode: number; headers: HeaderMap } {
  const base: Record<string, string> = {
    upgrade: 'websocket',
    connection: 'Upgrade',
    'sec-websocket-accept': 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=',
  };
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) delete base[name];
    else base[name] = value;
  }
  return { statusCode, headers: base };
}

function fails(fn: () => unknown, code: string, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => error instanceof HandshakeError && error.code === code && pattern.test(error.message));
}

describe('client handshake: the request (RFC 6455 §4.1)', () => {
  it('uses a fresh random 16-byte key each time', () => {
    const a = createClientHandshake();
    const b = createClientHandshake();
    assert.notEqual(a.key, b.key);
    assert.equal(Buffer.from(a.key, 'base64').length, 16);
  });

  it('sends the required headers, and offers', () => {
    const h = createClientHandshake({ protocols: ['chat', 'v2'], extensions: [{ name: 'permessage-deflate', params: [] }] });
    assert.equal(h.headers['Upgrade'], 'websocket');
    assert.equal(h.headers['Connection'], 'Upgrade');
    assert.equal(h.headers['Sec-WebSocket-Version'], '13');
    assert.equal(h.headers['Sec-WebSocket-Protocol'], 'chat, v2');
    assert.equal(h.headers['Sec-WebSocket-Extensions'], 'permessage-deflate');
  });

  it('produces a request our server accepts', () => {
    const h = createClientHandshake({ protocols: ['chat'] });
    const headers: Record<string, string> = { host: 'localhost' };
    for (const [name, value] of Object.entries(h.headers)) headers[name.toLowerCase()] = value;
    assert.deepEqual(validateRequest({ method: 'GET', httpVersion: '1.1', headers }).protocols, ['chat']);
  });

  it('refuses invalid or repeated subprotocols with SyntaxError', () => {
    assert.throws(() => createClientHandshake({ protocols: ['a b'] }), SyntaxError);
    assert.throws(() => createClientHandshake({ protocols: ['a', 'a'] }), SyntaxError);
    assert.throws(() => createClientHandshake({ protocols: [''] }), SyntaxError);
  });
});

describe('client handshake: validating the response', () => {
  it('accepts the RFC example response', () => {
    assert.deepEqual(validateResponse(response({}), handshake()), { protocol: '', extensions: [] });
  });

  it('reports the chosen subprotocol and accepted extension', () => {
    const result = validateResponse(
      response({ 'sec-websocket-protocol': 'v2', 'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits=10' }),
      handshake(['v1', 'v2'], true),
    );
    assert.equal(result.protocol, 'v2');
    assert.deepEqual(result.extensions, [{ name: 'permessage-deflate', params: [{ name: 'client_max_window_bits', value: '10' }] }]);
  });

  it('accepts a server that chooses no subprotocol', () => {
    assert.equal(validateResponse(response({}), handshake(['chat'])).protocol, '');
  });

  it('fails on a status other than 101, carrying the status', () => {
    try {
      validateResponse(response({}, 403), handshake());
      assert.fail('accepted');
    } catch (error) {
      assert.ok(error instanceof HandshakeError);
      assert.equal(error.code, 'FD_ERR_HANDSHAKE_STATUS');
      assert.equal(error.status, 403);
    }
  });
  it('fails without Upgrade: websocket', () => fails(() => validateResponse(response({ upgrade: 'h2c' }), handshake()), 'FD_ERR_HANDSHAKE_UPGRADE', /Upgrade/));
  it('fails without Connection: Upgrade', () =>
    fails(() => validateResponse(response({ connection: undefined }), handshake()), 'FD_ERR_HANDSHAKE_CONNECTION', /Connection/));
  it('fails without an accept key', () =>
    fails(() => validateResponse(response({ 'sec-websocket-accept': undefined }), handshake()), 'FD_ERR_HANDSHAKE_ACCEPT', /Missing/));
  it('fails on a wrong accept key', () =>
    fails(
      () => validateResponse(response({ 'sec-websocket-accept': computeAcceptKey('AAAAAAAAAAAAAAAAAAAAAA==') }), handshake()),
      'FD_ERR_HANDSHAKE_ACCEPT',
      /does not match/,
    ));
  it('fails on a subprotocol when none was offered', () =>
    fails(() => validateResponse(response({ 'sec-websocket-protocol': 'chat' }), handshake()), 'FD_ERR_HANDSHAKE_PROTOCOL', /none was offered/));
  it('fails on a subprotocol that was not offered', () =>
    fails(() => validateResponse(response({ 'sec-websocket-protocol': 'other' }), handshake(['chat'])), 'FD_ERR_HANDSHAKE_PROTOCOL', /not offered/));
  it('fails on several subprotocols', () =>
    fails(() => validateResponse(response({ 'sec-websocket-protocol': 'a, b' }), handshake(['a', 'b'])), 'FD_ERR_HANDSHAKE_PROTOCOL', /several/));
  it('fails on an extension that was not offered', () =>
    fails(() => validateResponse(response({ 'sec-websocket-extensions': 'x-webkit-deflate-frame' }), handshake([], true)), 'FD_ERR_HANDSHAKE_EXTENSIONS', /not offered/));
  it('fails on an extension when none was offered', () =>
    fails(() => validateResponse(response({ 'sec-websocket-extensions': 'permessage-deflate' }), handshake()), 'FD_ERR_HANDSHAKE_EXTENSIONS', /not offered/));
  it('fails on an extension accepted twice', () =>
    fails(
      () => validateResponse(response({ 'sec-websocket-extensions': 'permessage-deflate, permessage-deflate' }), handshake([], true)),
      'FD_ERR_HANDSHAKE_EXTENSIONS',
      /twice/,
    ));
  it('fails on a malformed extension header', () =>
    fails(() => validateResponse(response({ 'sec-websocket-extensions': 'permessage-deflate;;' }), handshake([], true)), 'FD_ERR_HANDSHAKE_EXTENSIONS', /Invalid/));
});
