/**
 * A case that runs out of time is reported as timed out ("Timed out after N s waiting for ..."), not
 * as a wrong result, and every wait of a run follows its time scale. A wrong result stays a wrong
 * result, with no mention of time. Small time scales (below 1) keep these tests quick: the servers
 * here are slow or silent on purpose, so the waits run out whatever the load of the machine.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ALL_CASES } from '../../src/conformance/cases/index.js';
import { selectCases } from '../../src/conformance/select.js';
import { testServer } from '../../src/conformance/test-server.js';
import { ClientTestServer } from '../../src/conformance/test-client.js';
import { formatSummary, summarize } from '../../src/conformance/report.js';
import type { CaseResult } from '../../src/conformance/case.js';
import { startBrokenServer, type Breakage } from './broken-server.js';
import { TIME_SCALE, scaled } from '../helpers/time.js';
import { WebSocket } from '../../src/node/index.js';

async function run(breakage: Breakage, ids: string, timeScale: number): Promise<CaseResult[]> {
  const broken = await startBrokenServer(breakage);
  try {
    return await testServer({ url: broken.url, cases: selectCases(ALL_CASES, ids), parallel: 4, timeScale });
  } finally {
    await broken.close();
  }
}

function only(results: readonly CaseResult[]): CaseResult {
  assert.equal(results.length, 1);
  return results[0]!;
}

describe('conformance: a case that runs out of time says so', () => {
  it('no echo within the case wait: FAILED, "Timed out after N s" with the scaled wait', { timeout: scaled(30_000) }, async () => {
    // 9.2.1 waits 10 s for the echo of 64 KiB; at a scale of 0.1 that is 1 s. (Its time limit, 1.5 s,
    // counts from the TCP connect: on a very slow machine it may be what runs out first.)
    const result = only(await run({ silent: true }, '9.2.1', 0.1));
    assert.equal(result.verdict, 'FAILED');
    assert.match(result.result, /^Timed out after 1 s: Did not receive the echo\.$|^Timed out after 1\.5 s waiting for the case to finish/);
    assert.equal(result.timedOut, result.result);
    assert.match(formatSummary([result]), /TIMED OUT .*: 9\.2\.1\n {2}9\.2\.1: Timed out after 1(\.5)? s/);
    assert.deepEqual(summarize([result]).timedOut, ['9.2.1']);
  });

  it('expected events that have not all arrived: "Timed out ... (0 of 1 arrived)"', { timeout: scaled(30_000) }, async () => {
    // 2.2 expects a pong and closes after 1 s (0.1 s here); the pong comes 10 s late.
    const result = only(await run({ replyDelayMs: 10_000 }, '2.2', 0.1));
    assert.equal(result.verdict, 'FAILED');
    assert.equal(result.result, 'Timed out after 0.1 s waiting for the expected events (0 of 1 arrived).');
    assert.notEqual(result.timedOut, null);
  });

  it('a peer that never answers our close frame: the close verdict names the timeout', { timeout: scaled(30_000) }, async () => {
    // The echo gets the tests' time scale; the closing handshake gets 1 ms times that.
    const broken = await startBrokenServer({ ignoreClose: true });
    let results: CaseResult[];
    try {
      results = await testServer({ url: broken.url, cases: selectCases(ALL_CASES, '1.1.1'), timeScale: TIME_SCALE, timeouts: { closeHandshake: 1, serverConnectionDrop: 1000 } });
    } finally {
      await broken.close();
    }
    const result = only(results);
    const seconds = Math.round(TIME_SCALE) / 1000;
    assert.equal(result.verdict, 'FAILED');
    assert.equal(result.behavior, 'OK', 'the echo itself was right');
    assert.equal(result.behaviorClose, 'UNCLEAN');
    assert.equal(result.resultClose, `Timed out after ${seconds} s waiting for the peer's close frame (so we dropped TCP): The spec requires the connection to be failed cleanly here`);
    assert.equal(result.timedOut, `Timed out after ${seconds} s waiting for the peer's close frame (so we dropped TCP).`);
  });

  it('a peer that should fail the connection and does not: timed out, failed by the wrong endpoint', { timeout: scaled(30_000) }, async () => {
    // 2.5 sends a ping with 126 octets: the peer must fail the connection; this one is hung, and we
    // fail it after 1 s (0.1 s here).
    const result = only(await run({ silent: true }, '2.5', 0.1));
    assert.equal(result.verdict, 'FAILED');
    assert.match(result.resultClose, /^Timed out after 0\.1 s waiting for the peer to close the connection \(so we failed the connection\)[;:] .*The connection was failed by the wrong endpoint$/);
    assert.match(result.timedOut ?? '', /^Timed out after 0\.1 s waiting for the peer to close the connection/);
  });

  it('a wrong echo is a wrong result: no "timed out" anywhere', { timeout: scaled(30_000) }, async () => {
    const results = await run({ corruptEcho: true }, '1.1.2,9.2.1', TIME_SCALE);
    for (const result of results) {
      assert.equal(result.verdict, 'FAILED', result.id);
      assert.equal(result.timedOut, null, result.id);
      assert.doesNotMatch(`${result.result} ${result.resultClose}`, /timed out/i, result.id);
    }
    assert.equal(results.find((r) => r.id === '9.2.1')!.result, 'Expected binary message with payload as sent, but the content of the 65536 octets differs.');
    assert.deepEqual(summarize(results).timedOut, []);
  });

  it('a slow but correct peer passes when the scale gives it the time', { timeout: scaled(60_000) }, async () => {
    // Replies come 300 ms late: more than the 0.1 s of 2.2 at a scale of 0.1, well within 1 s times
    // the tests' scale (at least 3).
    const slow = await run({ replyDelayMs: 300 }, '2.2', 0.1);
    assert.equal(only(slow).verdict, 'FAILED');
    const patient = await run({ replyDelayMs: 300 }, '2.2', TIME_SCALE);
    assert.equal(only(patient).verdict, 'OK', `${only(patient).result} / ${only(patient).resultClose}`);
    assert.equal(only(patient).timedOut, null);
  });

  it('the client direction: a client that never echoes times out with the scaled wait', { timeout: scaled(30_000) }, async () => {
    const server = new ClientTestServer({ cases: selectCases(ALL_CASES, '9.2.1'), timeScale: 0.1 });
    const port = await server.listen(0);
    try {
      const client = new WebSocket(`ws://127.0.0.1:${port}/runCase?case=1&agent=silent`);
      client.on('error', () => {});
      const [result] = (await new Promise<[string, CaseResult]>((resolve) => server.once('result', (...args) => resolve(args)))).slice(1) as [CaseResult];
      client.terminate();
      assert.equal(result.verdict, 'FAILED');
      assert.equal(result.result, 'Timed out after 1 s: Did not receive the echo.');
    } finally {
      await server.close();
    }
  });

  it('refuses a time scale that is not a number above 0', async () => {
    for (const timeScale of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      await assert.rejects(testServer({ url: 'ws://127.0.0.1:1/', cases: [], timeScale }), RangeError);
      assert.throws(() => new ClientTestServer({ cases: [], timeScale }), RangeError);
    }
  });
});
