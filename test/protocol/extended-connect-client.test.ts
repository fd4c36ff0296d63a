import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HandshakeError } from '../../src/protocol/errors.js';
import {
  createExtendedConnectRequest,
  responseStatus,
  validateExtendedConnectResponse,
  type ExtendedConnectOptions,
} from '../../src/protocol/extended-connect-client.js';
import { createClientOffer } from '../../src/protocol/permessage-deflate.js';

const BASE: ExtendedConnectOptions = { scheme: 'https', authority: 'example.com:8443', path: '/chat?room=1' };

function fails(fn: () => unknown, code: string, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => error instanceof HandshakeError && error.code === code && pattern.test(error.message));
}

describe('createExtendedConnectRequest (RFC 8441 §4, §5)', () => {
  it('sends CONNECT with :protocol websocket, the target pseudo-headers and version 13, and no HTTP/1.1 upgrade headers', () => {
    const { headers } = createExtendedConnectRequest(BASE);
    assert.deepEqual(headers, {
      ':method': 'CONNECT',
      ':protocol': 'websocket',
      ':scheme': 'https',
      ':path': '/chat?room=1',
      ':authority': 'example.com:8443',
      'sec-websocket-version': '13',
    });
  });

  it('offers subprotocols and the permessage-deflate offer of the HTTP/1.1 handshake, and origin when asked', () => {
    const offer = createClientOffer({});
    const request = createExtendedConnectRequest({ ...BASE, scheme: 'http', protocols: ['chat', 'superchat'], extensions: [offer], origin: 'https://example.com' });
    assert.equal(request.headers[':scheme'], 'http');
    assert.equal(request.headers['sec-websocket-protocol'], 'chat, superchat');
    assert.equal(request.headers['sec-websocket-extensions'], 'permessage-deflate; client_max_window_bits');
    assert.equal(request.headers['origin'], 'https://example.com');
  });

  it('keeps user headers (lower-cased) but leaves out the connection-specific ones HTTP/2 forbids, and our own', () => {
    const { headers } = createExtendedConnectRequest({
      ...BASE,
      headers: {
        'X-Token': 'abc',
        Cookie: ['a=1', 'b=2'],
        'X-Count': 3,
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Keep-Alive': 'timeout=5',
        'Proxy-Connection': 'keep-alive',
        'Transfer-Encoding': 'chunked',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
        'Sec-WebSocket-Version': '8',
        TE: 'gzip',
        'X-Unset': undefined,
      },
    });
    assert.deepEqual(
      Object.fromEntries(Object.entries(headers).filter(([name]) => !name.startsWith(':'))),
      { 'x-token': 'abc', cookie: ['a=1', 'b=2'], 'x-count': '3', 'sec-websocket-version': '13' },
    );
  });

  it('keeps TE only with the value "trailers" (RFC 9113 §8.2.2)', () => {
    assert.equal(createExtendedConnectRequest({ ...BASE, headers: { te: 'Trailers' } }).headers['te'], 'trailers');
  });

  it('turns a user Host header into :authority (RFC 9113 §8.3.1)', () => {
    const { headers } = createExtendedConnectRequest({ ...BASE, headers: { Host: 'other.example:9000' } });
    assert.equal(headers[':authority'], 'other.example:9000');
    assert.equal(headers['host'], undefined);
  });

  it('refuses pseudo-headers in the user headers, a bad :path or :scheme, and bad subprotocols', () => {
    assert.throws(() => createExtendedConnectRequest({ ...BASE, headers: { ':method': 'GET' } }), TypeError);
    assert.throws(() => createExtendedConnectRequest({ ...BASE, path: 'chat' }), TypeError);
    assert.throws(() => createExtendedConnectRequest({ ...BASE, scheme: 'ws' as 'http' }), TypeError);
    assert.throws(() => createExtendedConnectRequest({ ...BASE, authority: '' }), TypeError);
    assert.throws(() => createExtendedConnectRequest({ ...BASE, protocols: ['a b'] }), SyntaxError);
    assert.throws(() => createExtendedConnectRequest({ ...BASE, protocols: ['a', 'a'] }), SyntaxError);
  });
});

describe('validateExtendedConnectResponse (RFC 8441 §5)', () => {
  const request = createExtendedConnectRequest({ ...BASE, protocols: ['chat', 'superchat'], extensions: [createClientOffer({})] });

  it('accepts any 2xx, without Sec-WebSocket-Accept, Upgrade or Connection (RFC 9113 §8.5)', () => {
    for (const status of [200, '200', 204, 299]) {
      assert.deepEqual(validateExtendedConnectResponse({ ':status': status as string }, request), { protocol: '', extensions: [] });
    }
  });

  it('refuses a status outside 2xx, naming it (HandshakeError.status)', () => {
    for (const status of [101, 302, 403, 500]) {
      fails(() => validateExtendedConnectResponse({ ':status': String(status) }, request), 'FD_ERR_HANDSHAKE_STATUS', new RegExp(`${status}`));
      try {
        validateExtendedConnectResponse({ ':status': String(status) }, request);
      } catch (error) {
        assert.equal((error as HandshakeError).status, status);
      }
    }
    fails(() => validateExtendedConnectResponse({}, request), 'FD_ERR_HANDSHAKE_STATUS', /: 0 /);
  });

  it('returns the selected subprotocol and the accepted extensions with their parameters', () => {
    const accepted = validateExtendedConnectResponse(
      { ':status': '200', 'sec-websocket-protocol': 'superchat', 'sec-websocket-extensions': 'permessage-deflate; server_no_context_takeover' },
      request,
    );
    assert.equal(accepted.protocol, 'superchat');
    assert.deepEqual(accepted.extensions, [{ name: 'permessage-deflate', params: [{ name: 'server_no_context_takeover', value: null }] }]);
  });

  it('refuses a subprotocol that was not offered, or several', () => {
    fails(() => validateExtendedConnectResponse({ ':status': '200', 'sec-websocket-protocol': 'other' }, request), 'FD_ERR_HANDSHAKE_PROTOCOL', /not offered/);
    fails(() => validateExtendedConnectResponse({ ':status': '200', 'sec-websocket-protocol': 'chat, superchat' }, request), 'FD_ERR_HANDSHAKE_PROTOCOL', /several/);
    const none = createExtendedConnectRequest(BASE);
    fails(() => validateExtendedConnectResponse({ ':status': '200', 'sec-websocket-protocol': 'chat' }, none), 'FD_ERR_HANDSHAKE_PROTOCOL', /none was offered/);
  });

  it('refuses an extension that was not offered, or accepted twice', () => {
    fails(() => validateExtendedConnectResponse({ ':status': '200', 'sec-websocket-extensions': 'x-foo' }, request), 'FD_ERR_HANDSHAKE_EXTENSIONS', /not offered/);
    fails(
      () => validateExtendedConnectResponse({ ':status': '200', 'sec-websocket-extensions': 'permessage-deflate, permessage-deflate' }, request),
      'FD_ERR_HANDSHAKE_EXTENSIONS',
      /twice/,
    );
  });

  it('reads :status as a number, 0 when missing or garbled', () => {
    assert.equal(responseStatus({ ':status': '204' }), 204);
    assert.equal(responseStatus({ ':status': 'abc' }), 0);
    assert.equal(responseStatus({}), 0);
  });
});
