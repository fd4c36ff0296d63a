/**
 * The permessage-deflate side of the conformance suite (sections 12 and 13): the negotiation
 * helpers, the fuzzing peer's codec against persistent zlib streams (what real peers use), the
 * generated test data, and a few cases end to end against the `ws` package's server.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { constants, createDeflateRaw, createInflateRaw, type DeflateRaw, type InflateRaw } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { WebSocketServer as WsServer } from 'ws';
import { PerMessageDeflate, formatOffers, negotiatedParams, parseOffers, parseResponse, type DeflateOffer } from '../../src/conformance/deflate.js';
import { DEFAULT_OFFER, acceptPolicy, firstAccepting } from '../../src/conformance/cases/compression-case.js';
import { TEST_DATA, JSON_DATA } from '../../src/conformance/cases/compression-data.js';
import { section12 } from '../../src/conformance/cases/section12.js';
import { section13 } from '../../src/conformance/cases/section13.js';
import { selectCases } from '../../src/conformance/select.js';
import { testServer } from '../../src/conformance/test-server.js';

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** One message through a persistent zlib stream, sync-flushed: what a peer with context takeover does. */
function through(stream: DeflateRaw | InflateRaw, input: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const onData = (chunk: Buffer): void => void chunks.push(chunk);
    stream.on('data', onData);
    stream.write(input);
    stream.flush(constants.Z_SYNC_FLUSH, () => {
      stream.off('data', onData);
      resolve(Buffer.concat(chunks));
    });
  });
}

function messages(): Buffer[] {
  const text = JSON_DATA.content() as string;
  return Array.from({ length: 120 }, (_, i) => Buffer.from(text.slice((i * 1499) % 150_000, ((i * 1499) % 150_000) + 1 + ((i * 7919) % 30_000))));
}

describe('conformance: permessage-deflate negotiation', () => {
  const withServer: DeflateOffer[] = [{ ...DEFAULT_OFFER, serverNoContextTakeover: true, serverMaxWindowBits: 9 }, { ...DEFAULT_OFFER, serverNoContextTakeover: true }, DEFAULT_OFFER];

  it('formats offers as Autobahn sends them', () => {
    assert.equal(formatOffers([DEFAULT_OFFER]), 'permessage-deflate; client_no_context_takeover; client_max_window_bits');
    assert.equal(
      formatOffers(withServer.slice(0, 2)),
      'permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover; server_max_window_bits=9, ' +
        'permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover',
    );
  });

  it('reads a server response: none, accepted, or one a client must fail for', () => {
    assert.equal(parseResponse(undefined, [DEFAULT_OFFER]), null);
    assert.deepEqual(parseResponse('permessage-deflate', [DEFAULT_OFFER]), { value: {} });
    assert.deepEqual(parseResponse('permessage-deflate; server_no_context_takeover; client_max_window_bits="10"', [DEFAULT_OFFER]), {
      value: { serverNoContextTakeover: true, clientMaxWindowBits: 10 },
    });
    // The response may fit any of several offers (13.7).
    assert.deepEqual(parseResponse('permessage-deflate; server_no_context_takeover', withServer), { value: { serverNoContextTakeover: true } });
    for (const bad of [
      'x-webkit-deflate-frame',
      'permessage-deflate, permessage-deflate',
      'permessage-deflate; client_max_window_bits',
      'permessage-deflate; server_max_window_bits=16',
      'permessage-deflate; server_max_window_bits=08',
      'permessage-deflate; server_no_context_takeover=1',
      'permessage-deflate; mystery',
      'permessage-deflate; client_no_context_takeover; client_no_context_takeover',
    ]) {
      assert.ok('error' in (parseResponse(bad, [DEFAULT_OFFER]) ?? { value: 0 }), bad);
    }
    // Above the requested server window, or a client window that was not offered.
    assert.ok('error' in parseResponse('permessage-deflate; server_max_window_bits=10', [{ ...DEFAULT_OFFER, serverMaxWindowBits: 9 }])!);
    assert.ok('error' in parseResponse('permessage-deflate; client_max_window_bits=10', [{ serverNoContextTakeover: false }])!);
  });

  it('reads a client offer and answers it with the accept policies of section 13', () => {
    const { offers, declined } = parseOffers('permessage-deflate; client_max_window_bits, permessage-deflate; server_max_window_bits=7, x-other, permessage-deflate; client_max_window_bits=10');
    assert.deepEqual(offers, [{ clientMaxWindowBits: true }, { clientMaxWindowBits: 10 }]);
    assert.equal(declined.length, 1);
    assert.deepEqual(acceptPolicy(false, 0)([{ serverNoContextTakeover: true, serverMaxWindowBits: 12 }]), { serverNoContextTakeover: true, serverMaxWindowBits: 12 });
    assert.deepEqual(acceptPolicy(true, 15)([{ clientMaxWindowBits: 10 }]), { clientNoContextTakeover: true, clientMaxWindowBits: 10 });
    assert.equal(acceptPolicy(false, 9)([{}]), null, 'no client window without client_max_window_bits in the offer');
    assert.deepEqual(firstAccepting(acceptPolicy(true, 9), acceptPolicy(true, 0))([{}]), { clientNoContextTakeover: true });
  });
});

describe('conformance: permessage-deflate codec', () => {
  for (const bits of [9, 11, 15]) {
    it(`decompresses a peer's persistent stream and is decompressed by one (window ${bits} bits, context takeover)`, async () => {
      const input = messages();
      const peerDeflate = createDeflateRaw({ windowBits: bits });
      const peerInflate = createInflateRaw({ windowBits: bits });
      const client = new PerMessageDeflate('client', negotiatedParams({ serverMaxWindowBits: bits, clientMaxWindowBits: bits }));
      for (const message of input) {
        const fromPeer = await through(peerDeflate, message);
        assert.ok(fromPeer.subarray(-4).equals(TAIL));
        assert.ok(client.decompress(fromPeer.subarray(0, -4)).equals(message));
        const fromUs = client.compress(message);
        assert.ok((await through(peerInflate, Buffer.concat([fromUs, TAIL]))).equals(message));
      }
      assert.ok(client.stats.sentCompressed < client.stats.sentPlain / 5);
      peerDeflate.close();
      peerInflate.close();
    });
  }

  it('fails a peer that reaches beyond the negotiated window or takes over a context it gave up', async () => {
    const input = messages().slice(0, 30);
    const peerDeflate = createDeflateRaw({ windowBits: 15 });
    const compressed: Buffer[] = [];
    for (const message of input) compressed.push((await through(peerDeflate, message)).subarray(0, -4));
    peerDeflate.close();
    const smallWindow = new PerMessageDeflate('client', negotiatedParams({ serverMaxWindowBits: 9 }));
    assert.throws(() => compressed.forEach((payload) => smallWindow.decompress(payload)));
    const noTakeover = new PerMessageDeflate('client', negotiatedParams({ serverNoContextTakeover: true }));
    assert.throws(() => compressed.forEach((payload) => noTakeover.decompress(payload)));
  });

  it('compresses without context takeover when negotiated, and with 8 bits as 9', () => {
    const input = messages().slice(0, 20);
    const server = new PerMessageDeflate('server', negotiatedParams({ serverNoContextTakeover: true, serverMaxWindowBits: 8 }));
    const fresh = new PerMessageDeflate('client', negotiatedParams({ serverNoContextTakeover: true, serverMaxWindowBits: 8 }));
    for (const message of input) assert.ok(fresh.decompress(server.compress(message)).equals(message));
    assert.deepEqual(new PerMessageDeflate('client', negotiatedParams({})).compress(Buffer.alloc(0)), Buffer.from([0x00]));
  });
});

describe('conformance: permessage-deflate cases', () => {
  it('has 18 cases in each of 12.1-12.5 and 13.1-13.7', () => {
    const counts: Record<string, number> = {};
    for (const c of [...section12, ...section13]) {
      const subsection = c.id.split('.').slice(0, 2).join('.');
      counts[subsection] = (counts[subsection] ?? 0) + 1;
    }
    assert.deepEqual(Object.values(counts), Array(12).fill(18));
    assert.equal(Object.keys(counts).length, 12);
  });

  it('generates each data set at its exact size, the same every time', () => {
    for (const data of TEST_DATA) {
      const content = data.content();
      assert.equal(typeof content === 'string' ? Buffer.byteLength(content) : content.length, data.size, data.key);
      assert.equal(typeof content === 'string', !data.binary, data.key);
      if (typeof content === 'string') assert.ok(!/[\ud800-\udfff]/.test(content), `${data.key}: BMP characters only`);
    }
    assert.doesNotThrow(() => JSON.parse(JSON_DATA.content() as string));
  });

  it("runs against the ws package's server with permessage-deflate", async () => {
    const server = new WsServer({ port: 0, host: '127.0.0.1', perMessageDeflate: true });
    await new Promise<void>((resolve) => server.once('listening', resolve));
    server.on('connection', (ws) => ws.on('message', (data, binary) => ws.send(data as Buffer, { binary })));
    try {
      const cases = selectCases([...section12, ...section13], '12.1.1,12.3.1,13.3.2,13.7.1');
      const results = await testServer({ url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`, cases, parallel: 4 });
      assert.deepEqual(
        results.map((r) => [r.id, r.verdict]),
        cases.map((c) => [c.id, 'OK']),
        results.map((r) => `${r.id}: ${r.result} / ${r.resultClose}`).join('\n'),
      );
    } finally {
      server.close();
    }
  });
});
