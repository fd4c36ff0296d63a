/**
 * Our CI gate: the conformance suite against our own server and our own client. The verdict of every
 * case is committed in expected.json; any difference fails, so a regression in one case is seen.
 * Reports are written under test-output/conformance/ for people to browse. Every wait of the cases is
 * multiplied by the tests' time scale (test/helpers/time.ts): on a loaded machine a case is slow, and
 * if it still runs out of time its diff line says "Timed out after N s", not a wrong result.
 *
 * Sections 12 and 13 (permessage-deflate) send 1,000 messages of up to 128 KiB per case, compressed
 * both ways: all 216 take about 8 minutes per direction on two cores. `.ci/run` sets
 * CONFORMANCE_FULL=1 for one of its runs; otherwise the gate runs 7 of the 18 cases of each of their
 * subsections (messages of 16 B to 8 KiB, and 8 KiB in 256-byte fragments) and everything else.
 */
import { describe, it } from 'node:test';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from '../../src/node/index.js';
import { ALL_CASES } from '../../src/conformance/cases/index.js';
import { testServer } from '../../src/conformance/test-server.js';
import { selectCases } from '../../src/conformance/select.js';
import { ClientTestServer } from '../../src/conformance/test-client.js';
import { writeReport } from '../../src/conformance/report.js';
import { driveClient, ourClient } from './drivers.js';
import { FULL, LARGE_COMPRESSION, assertVerdicts, loadExpected } from './gate-verdicts.js';
import { TIME_SCALE, scaled } from '../helpers/time.js';

const CASES = FULL ? ALL_CASES : selectCases(ALL_CASES, '*', LARGE_COMPRESSION);
const FILE = 'expected.json';
const expected = loadExpected(FILE);

function echoServer(server: WebSocketServer): void {
  server.on('connection', (socket) => {
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  });
}

describe('conformance gate', () => {
  it(`our server: every case has its committed verdict (${FULL ? 'all cases' : 'quick selection'})`, { timeout: scaled(1_800_000) }, async () => {
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: true });
    echoServer(server);
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const startedAt = new Date().toISOString();
    // The fuzzing peer's waits get the tests' time scale: a loaded machine gives slow cases, which
    // would otherwise be scored as timed out, never as a different verdict.
    const results = await testServer({ url, cases: CASES, parallel: 4, timeScale: TIME_SCALE });
    await new Promise((resolve) => server.close(resolve));
    writeReport('test-output/conformance/server', { subject: 'server fullduplex (echo)', mode: 'server', startedAt, node: process.version }, results);
    assertVerdicts(results, expected.server, CASES, FILE);
  });

  it(`our client: every case has its committed verdict (${FULL ? 'all cases' : 'quick selection'})`, { timeout: scaled(1_800_000) }, async () => {
    const server = new ClientTestServer({ cases: CASES, timeScale: TIME_SCALE });
    const port = await server.listen(0);
    const startedAt = new Date().toISOString();
    await driveClient(ourClient, `ws://127.0.0.1:${port}`, 'fullduplex');
    const results = server.resultsFor('fullduplex');
    await server.close();
    writeReport('test-output/conformance/client', { subject: 'client fullduplex (echo)', mode: 'client', startedAt, node: process.version }, results);
    assertVerdicts(results, expected.client, CASES, FILE);
  });
});
