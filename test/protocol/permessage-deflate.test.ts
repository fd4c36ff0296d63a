import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseExtensions, formatExtensions } from '../../src/protocol/header-grammar.js';
import { HandshakeError } from '../../src/protocol/errors.js';
import {
  acceptServerResponse,
  compressorWindowBits,
  createClientOffer,
  invalidServerOffer,
  negotiateServer,
  type PerMessageDeflateOptions,
} from '../../src/protocol/permessage-deflate.js';

/** Negotiate as a server; the response as a header value, or null. */
function serverAnswer(offer: string, options: PerMessageDeflateOptions = {}): string | null {
  const result = negotiateServer(parseExtensions(offer), options);
  return result === null ? null : formatExtensions([result.response]);
}

function serverParams(offer: string, options: PerMessageDeflateOptions = {}) {
  const result = negotiateServer(parseExtensions(offer), options);
  assert.ok(result, `declined: ${offer}`);
  return result.params;
}

describe('permessage-deflate: server negotiation (RFC 7692 §7.1)', () => {
  it("accepts Chromium's offer with the default parameters", () => {
    assert.equal(serverAnswer('permessage-deflate; client_max_window_bits'), 'permessage-deflate');
    assert.deepEqual(serverParams('permessage-deflate; client_max_window_bits'), {
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 15,
      clientMaxWindowBits: 15,
    });
  });

  it("accepts ws's offer", () => {
    assert.equal(serverAnswer('permessage-deflate; client_max_window_bits'), 'permessage-deflate');
    assert.equal(serverAnswer('permessage-deflate'), 'permessage-deflate');
  });

  it('must accept server_no_context_takeover when offered', () => {
    assert.equal(serverAnswer('permessage-deflate; server_no_context_takeover'), 'permessage-deflate; server_no_context_takeover');
    assert.equal(serverParams('permessage-deflate; server_no_context_takeover').serverNoContextTakeover, true);
  });

  it('confirms client_no_context_takeover when offered, and can ask for it', () => {
    assert.equal(serverAnswer('permessage-deflate; client_no_context_takeover'), 'permessage-deflate; client_no_context_takeover');
    assert.equal(serverAnswer('permessage-deflate', { clientNoContextTakeover: true }), 'permessage-deflate; client_no_context_takeover');
    assert.equal(serverAnswer('permessage-deflate', { serverNoContextTakeover: true }), 'permessage-deflate; server_no_context_takeover');
  });

  for (let bits = 8; bits <= 15; bits++) {
    it(`server_max_window_bits=${bits}: answered with ${bits} (or our lower limit)`, () => {
      assert.equal(serverAnswer(`permessage-deflate; server_max_window_bits=${bits}`), `permessage-deflate; server_max_window_bits=${bits}`);
      assert.equal(serverParams(`permessage-deflate; server_max_window_bits=${bits}`).serverMaxWindowBits, bits);
      assert.equal(serverParams(`permessage-deflate; server_max_window_bits=${bits}`, { serverMaxWindowBits: 10 }).serverMaxWindowBits, Math.min(bits, 10));
    });
  }

  it('may limit its own window without being asked', () => {
    assert.equal(serverAnswer('permessage-deflate', { serverMaxWindowBits: 11 }), 'permessage-deflate; server_max_window_bits=11');
  });

  for (let bits = 8; bits <= 15; bits++) {
    it(`client_max_window_bits=${bits} offered: the client's window is ${bits}`, () => {
      assert.equal(serverParams(`permessage-deflate; client_max_window_bits=${bits}`).clientMaxWindowBits, bits);
    });
  }

  it("limits the client's window when the client can be limited, and declines offers that cannot", () => {
    assert.equal(serverAnswer('permessage-deflate; client_max_window_bits', { clientMaxWindowBits: 10 }), 'permessage-deflate; client_max_window_bits=10');
    assert.equal(serverAnswer('permessage-deflate; client_max_window_bits=9', { clientMaxWindowBits: 10 }), 'permessage-deflate; client_max_window_bits=9');
    assert.equal(serverAnswer('permessage-deflate', { clientMaxWindowBits: 10 }), null);
    // ... and then takes the next offer that can.
    assert.equal(
      serverAnswer('permessage-deflate, permessage-deflate; client_max_window_bits', { clientMaxWindowBits: 10 }),
      'permessage-deflate; client_max_window_bits=10',
    );
  });

  it('takes the first acceptable offer, in order, and skips other extensions', () => {
    assert.equal(
      serverAnswer('x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=10, permessage-deflate'),
      'permessage-deflate; server_max_window_bits=10',
    );
  });

  const invalid = [
    'permessage-deflate; server_max_window_bits',
    'permessage-deflate; server_max_window_bits=7',
    'permessage-deflate; server_max_window_bits=16',
    'permessage-deflate; server_max_window_bits=010',
    'permessage-deflate; server_max_window_bits=abc',
    'permessage-deflate; client_max_window_bits=0',
    'permessage-deflate; client_max_window_bits=16',
    'permessage-deflate; server_no_context_takeover=1',
    'permessage-deflate; client_no_context_takeover=true',
    'permessage-deflate; server_no_context_takeover; server_no_context_takeover',
    'permessage-deflate; client_max_window_bits; client_max_window_bits=10',
    'permessage-deflate; unknown_parameter',
    'permessage-deflate; __proto__',
  ];
  for (const offer of invalid) {
    it(`declines an invalid offer: ${offer}`, () => {
      assert.equal(serverAnswer(offer), null);
      // ... but a valid offer after it is taken.
      assert.equal(serverAnswer(`${offer}, permessage-deflate`), 'permessage-deflate');
    });
  }

  it('refuses invalid configuration', () => {
    assert.throws(() => negotiateServer([], { serverMaxWindowBits: 7 }), RangeError);
    assert.throws(() => negotiateServer([], { clientMaxWindowBits: 16 }), RangeError);
  });
});

describe('permessage-deflate: client offer and response (RFC 7692 §7.1)', () => {
  const offerOf = (options: PerMessageDeflateOptions): string => formatExtensions([createClientOffer(options)]);
  const response = (text: string) => parseExtensions(text)[0]!;

  it('offers client_max_window_bits by default (as browsers and ws do)', () => {
    assert.equal(offerOf({}), 'permessage-deflate; client_max_window_bits');
    assert.equal(offerOf({ clientMaxWindowBits: false }), 'permessage-deflate');
    assert.equal(
      offerOf({ serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 12 }),
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12',
    );
  });

  it('accepts the responses our offers allow', () => {
    assert.deepEqual(acceptServerResponse(response('permessage-deflate'), {}), {
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 15,
      clientMaxWindowBits: 15,
    });
    const params = acceptServerResponse(response('permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=8'), {});
    assert.deepEqual(params, { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 9, clientMaxWindowBits: 8 });
    assert.equal(acceptServerResponse(response('permessage-deflate; server_max_window_bits=10'), { serverMaxWindowBits: 12 }).serverMaxWindowBits, 10);
    assert.equal(acceptServerResponse(response('permessage-deflate'), { clientMaxWindowBits: 11 }).clientMaxWindowBits, 11);
    assert.equal(acceptServerResponse(response('permessage-deflate'), { clientNoContextTakeover: true }).clientNoContextTakeover, true);
  });

  const bad: Array<[string, PerMessageDeflateOptions]> = [
    ['permessage-deflate; client_max_window_bits=10', { clientMaxWindowBits: false }],
    ['permessage-deflate; client_max_window_bits=12', { clientMaxWindowBits: 10 }],
    ['permessage-deflate; client_max_window_bits', {}],
    ['permessage-deflate; server_max_window_bits=12', { serverMaxWindowBits: 10 }],
    ['permessage-deflate', { serverMaxWindowBits: 10 }],
    ['permessage-deflate', { serverNoContextTakeover: true }],
    ['permessage-deflate; server_max_window_bits=7', {}],
    ['permessage-deflate; server_max_window_bits=99', {}],
    ['permessage-deflate; server_no_context_takeover; server_no_context_takeover', {}],
    ['permessage-deflate; unknown', {}],
    ['permessage-deflate; client_no_context_takeover=1', {}],
  ];
  for (const [text, options] of bad) {
    it(`fails the connection on the response ${text} (options ${JSON.stringify(options)})`, () => {
      assert.throws(() => acceptServerResponse(response(text), options), (error: unknown) => error instanceof HandshakeError && error.code === 'FD_ERR_HANDSHAKE_EXTENSIONS');
    });
  }

  it('compresses with 9 bits when 8 are agreed (zlib cannot do 8 for raw deflate)', () => {
    assert.equal(compressorWindowBits(8), 9);
    assert.equal(compressorWindowBits(9), 9);
    assert.equal(compressorWindowBits(15), 15);
  });
});

describe('invalidServerOffer', () => {
  it('names the first malformed permessage-deflate offer, ignores other extensions, null when all are well formed', () => {
    const check = (header: string): string | null => invalidServerOffer(parseExtensions(header));
    assert.equal(check('permessage-deflate; client_max_window_bits, x-other; whatever=1'), null);
    assert.equal(check('permessage-deflate; server_max_window_bits=10; server_no_context_takeover'), null);
    assert.match(check('permessage-deflate; client_max_window_bits=100')!, /client_max_window_bits/);
    assert.match(check('permessage-deflate; foo')!, /unknown parameter/);
    assert.match(check('permessage-deflate; server_no_context_takeover=1')!, /takes no value/);
    assert.match(check('permessage-deflate; server_no_context_takeover; server_no_context_takeover')!, /twice/);
    assert.match(check('permessage-deflate, permessage-deflate; server_max_window_bits')!, /server_max_window_bits/);
  });
});
