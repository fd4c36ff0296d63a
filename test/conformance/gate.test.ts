/**
 * Our CI gate: the whole conformance suite against our own server and our own client. The verdict
 * of every case is committed in expected.json; any difference fails, so a regression in one case
 * is seen. Reports are written under test-output/conformance/ for people to browse.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from '../../src/node/index.js';
import { ALL_CASES } from '../../src/conformance/cases/index.js';
import { testServer } from '../../src/conformance/test-server.js';
import { ClientTestServer } from '../../src/conformance/test-client.js';
import { formatSummary, writeReport } from '../../src/conformance/report.js';
import type { CaseResult } from '../../src/conformance/case.js';
import type { Verdict } from '../../src/conformance/verdict.js';
import { driveClient, ourClient } from './drivers.js';

interface Expected {
  readonly server: Record<string, Verdict>;
  readonly client: Record<string, Verdict>;
}

const expected = JSON.parse(readFileSync(new URL('./expected.json', import.meta.url), 'utf8')) as Expected;

/** Differences between the verdicts and the committed ones, one line each. */
function differences(results: readonly CaseResult[], committed: Record<string, Verdict>): string[] {
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const result of results) {
    seen.add(result.id);
    const want = committed[result.id];
    if (want !== result.verdict) {
      lines.push(`${result.id}: expected ${want ?? '(no entry)'}, got ${result.verdict} — ${result.result} / ${result.resultClose}`);
    }
  }
  for (const id of Object.keys(committed)) if (!seen.has(id)) lines.push(`${id}: in expected.json but not run`);
  return lines;
}

function echoServer(server: WebSocketServer): void {
  server.on('connection', (socket) => {
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  });
}

describe('conformance gate', () => {
  it('our server: every case has its committed verdict', { timeout: 600_000 }, async () => {
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    echoServer(server);
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const startedAt = new Date().toISOString();
    const results = await testServer({ url, cases: ALL_CASES, parallel: 4 });
    await new Promise((resolve) => server.close(resolve));
    writeReport('test-output/conformance/server', { subject: 'server fullduplex (echo)', mode: 'server', startedAt, node: process.version }, results);
    const diff = differences(results, expected.server);
    assert.deepEqual(diff, [], `\n${formatSummary(results)}\n${diff.join('\n')}`);
  });

  it('our client: every case has its committed verdict', { timeout: 600_000 }, async () => {
    const server = new ClientTestServer({ cases: ALL_CASES });
    const port = await server.listen(0);
    const startedAt = new Date().toISOString();
    await driveClient(ourClient, `ws://127.0.0.1:${port}`, 'fullduplex');
    const results = server.resultsFor('fullduplex');
    await server.close();
    writeReport('test-output/conformance/client', { subject: 'client fullduplex (echo)', mode: 'client', startedAt, node: process.version }, results);
    const diff = differences(results, expected.client);
    assert.deepEqual(diff, [], `\n${formatSummary(results)}\n${diff.join('\n')}`);
  });
});
