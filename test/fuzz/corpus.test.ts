/**
 * The fuzz corpus as regression tests: every input in test/fuzz/corpus/ (hand-made nasty streams and
 * the inputs the fuzzer found bugs with) replayed against the sans-I/O core, in several splits, and
 * against a live server. Where an entry states its outcome (`expect`), it must be exactly that;
 * otherwise the generic invariants and the reference model judge. Entries of a bug still open in src
 * (`knownBug`) are reported as to-dos.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadCorpus } from './lib/corpus.js';
import { replayParser, replayServer, serverCaseOf } from './lib/replay.js';
import { serverModelOptions } from './lib/cases.js';
import { ServerProcess } from './lib/server-process.js';
import { modelServerEvents } from './lib/model.js';
import { endingOf } from './lib/events.js';
import type { Finding } from './lib/findings.js';

const corpus = loadCorpus();

function report(findings: readonly Finding[]): string {
  return findings.map((f) => `${f.kind}: ${f.message}`).join('\n');
}

/**
 * The findings that fail an entry: all of them for an entry of an open bug (a to-do until fixed), and
 * for the others all but known issues, which have their own entries (shown as diagnostics instead).
 */
function failing(findings: readonly Finding[], knownBug: string | undefined, diagnostic: (message: string) => void): Finding[] {
  if (knownBug !== undefined) return [...findings];
  for (const finding of findings) if (finding.known !== undefined) diagnostic(`known issue ${finding.known}: ${finding.message}`);
  return findings.filter((finding) => finding.known === undefined);
}

describe('fuzz corpus, sans-I/O core', () => {
  it('has the hand-made seeds', () => {
    assert.ok(corpus.filter((item) => item.entry.file.startsWith('seed-')).length >= 40);
  });

  for (const item of corpus) {
    const { entry } = item;
    // A permessage-deflate bug cannot show here (no extension at the parser): to-do only for the others.
    const todo = entry.deflate === undefined ? entry.knownBug : undefined;
    it(`${entry.file}: ${entry.description}`, { ...(todo !== undefined && { todo }) }, (t) => {
      const result = replayParser(item);
      const findings = failing(result.findings, todo, (message) => t.diagnostic(message));
      assert.deepEqual(findings, [], report(findings));
      // A permessage-deflate entry's outcome is the live server's with the extension; here RSV1 is a 1002.
      if (entry.expect !== undefined && entry.deflate === undefined) {
        assert.deepEqual(result.modelEnding, entry.expect, 'the reference model disagrees with the entry');
        assert.deepEqual(result.ending, entry.expect);
      }
    });
  }
});

describe('fuzz corpus, live server', () => {
  let server: ServerProcess;
  before(async () => {
    server = await ServerProcess.start();
  });
  after(async () => {
    await server.stop();
  });

  for (const [i, item] of corpus.entries()) {
    const { entry } = item;
    // The live server runs with the fuzz limits: entries with their own limits are judged by the model only.
    const ownLimits = entry.maxPayload !== undefined || entry.maxFragments !== undefined;
    // Entries of a permessage-deflate bug are to-dos here; the others must pass (known issues aside).
    const todo = entry.deflate !== undefined ? entry.knownBug : undefined;
    it(`${entry.file}`, { ...(todo !== undefined && { todo }) }, async (t) => {
      // Half of them with the first frames in the same write as the upgrade request (`head`).
      const findings = failing(await replayServer(server, item, i % 2 === 1), todo, (message) => t.diagnostic(message));
      assert.deepEqual(findings, [], report(findings));
      if (entry.expect !== undefined && entry.expect.kind !== 'open' && !ownLimits) {
        // A closed or failed stream ends the same with the closing tail after it: the server said the same.
        const live = serverCaseOf(item);
        assert.deepEqual(endingOf(modelServerEvents(live.bytes, serverModelOptions(live))), entry.expect);
      }
    });
  }

  it('leaves no connection open and reports no crash', async () => {
    assert.equal(await server.clients(), 0);
    assert.deepEqual(server.crashes, []);
  });
});
