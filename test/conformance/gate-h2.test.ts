/**
 * The conformance gate over HTTP/2 (RFC 8441): the same cases with every WebSocket on an extended
 * CONNECT stream instead of a TCP connection, against our server (we open the streams on a cleartext
 * h2c session per worker) and against our client (we serve TLS h2 only, and the client connects with
 * `http2: 'require'`, so a fallback to HTTP/1.1 would fail every case). The verdicts are committed in
 * expected-h2.json, beside the HTTP/1.1 ones; docs/conformance.md says how TCP events map onto streams.
 *
 * `npm test` runs a selection: every framing, ping, reserved-bit, opcode, fragmentation, close and
 * masking case (the ones where the stream's ends matter), a sample of UTF-8, limits and compression.
 * With CONFORMANCE_FULL=1 (`.ci/run`, once, on Node 20) it runs everything but the large-message
 * cases of sections 12 and 13, as the HTTP/1.1 gate's quick selection does: the full HTTP/1.1 run
 * already takes most of CI's time for those, and they exercise the deflate code, which is the same on
 * both transports (measured, docs/conformance.md).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from '../../src/node/index.js';
import { ALL_CASES } from '../../src/conformance/cases/index.js';
import { testServer } from '../../src/conformance/test-server.js';
import { selectCases } from '../../src/conformance/select.js';
import { ClientTestServer } from '../../src/conformance/test-client.js';
import { writeReport } from '../../src/conformance/report.js';
import { driveClient, ourH2Client } from './drivers.js';
import { FULL, LARGE_COMPRESSION, assertVerdicts, loadExpected } from './gate-verdicts.js';
import { TIME_SCALE, scaled } from '../helpers/time.js';
import { selfSignedCertificate } from '../helpers/tls.js';

const SELECTION = '1.*,2.*,3.*,4.*,5.*,6.1.*,6.3.*,6.4.*,6.8.*,7.*,8.*,9.1.1,9.1.6,9.2.1,9.2.6,9.3.1,9.7.1,9.8.1,10.*,12.1.1,12.1.5,12.2.3,12.5.11,13.1.1,13.3.4,13.7.11';
const CASES = FULL ? selectCases(ALL_CASES, '*', LARGE_COMPRESSION) : selectCases(ALL_CASES, SELECTION);
const FILE = 'expected-h2.json';
const expected = loadExpected(FILE);

describe('conformance gate over HTTP/2 (RFC 8441)', () => {
  it(`our server on an h2c server: every case has its committed verdict (${FULL ? 'full' : 'selection'}, ${CASES.length} cases)`, { timeout: scaled(1_800_000) }, async () => {
    const server = http2.createServer({ settings: { enableConnectProtocol: true } });
    const wss = new WebSocketServer({ server, perMessageDeflate: true });
    const streams: boolean[] = [];
    wss.on('connection', (socket, request) => {
      streams.push(request.httpVersion === '2.0');
      socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const startedAt = new Date().toISOString();
    const results = await testServer({ url, cases: CASES, parallel: 4, timeScale: TIME_SCALE, http2: true });
    await new Promise((resolve) => wss.close(resolve));
    await new Promise((resolve) => server.close(resolve));
    writeReport('test-output/conformance/h2-server', { subject: 'server fullduplex (echo) over HTTP/2', mode: 'server', startedAt, node: process.version }, results);
    // Every WebSocket really came over HTTP/2 (and at least one per case).
    assert.ok(streams.length >= CASES.length, `${streams.length} connections for ${CASES.length} cases`);
    assert.ok(streams.every(Boolean), 'a connection came over HTTP/1.1');
    assertVerdicts(results, expected.server, CASES, FILE);
  });

  it(`our client with http2: 'require' against a TLS h2 server: every case has its committed verdict (${FULL ? 'full' : 'selection'}, ${CASES.length} cases)`, { timeout: scaled(1_800_000) }, async () => {
    const certificate = selfSignedCertificate();
    const server = new ClientTestServer({ cases: CASES, timeScale: TIME_SCALE, http2: { key: certificate.key, cert: certificate.cert } });
    try {
      const port = await server.listen(0);
      const startedAt = new Date().toISOString();
      await driveClient(ourH2Client({ ca: certificate.cert }), `wss://127.0.0.1:${port}`, 'fullduplex');
      const results = server.resultsFor('fullduplex');
      writeReport('test-output/conformance/h2-client', { subject: 'client fullduplex (echo) over HTTP/2', mode: 'client', startedAt, node: process.version }, results);
      assertVerdicts(results, expected.client, CASES, FILE);
    } finally {
      await server.close();
      certificate.remove();
    }
  });
});
