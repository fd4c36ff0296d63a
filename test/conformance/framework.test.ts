/** The suite's own machinery: case selection, verdicts, the case registry, reports. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ALL_CASES, AUTOBAHN_CASE_COUNTS } from '../../src/conformance/cases/index.js';
import { compareCaseIds, selectCases } from '../../src/conformance/select.js';
import { Behavior, CloseBehavior, combineVerdict } from '../../src/conformance/verdict.js';
import { formatSummary, summarize, writeReport } from '../../src/conformance/report.js';
import type { CaseResult } from '../../src/conformance/case.js';

describe('conformance: the case registry', () => {
  it('has exactly the Autobahn|Testsuite case count in every Autobahn section', () => {
    const counts: Record<string, number> = {};
    for (const c of ALL_CASES) {
      const section = c.id.split('.')[0]!;
      counts[section] = (counts[section] ?? 0) + 1;
    }
    for (const [section, expected] of Object.entries(AUTOBAHN_CASE_COUNTS)) {
      assert.equal(counts[section] ?? 0, expected, `section ${section}`);
    }
    assert.equal(counts['8'], 5, 'our masking section');
  });

  it('has unique ids in suite order, each with a description and an expectation', () => {
    const ids = ALL_CASES.map((c) => c.id);
    assert.equal(new Set(ids).size, ids.length);
    assert.deepEqual([...ids].sort(compareCaseIds), ids);
    for (const c of ALL_CASES) {
      assert.ok(c.description.length > 10, c.id);
      assert.ok(c.expectation.length > 5, c.id);
    }
  });
});

describe('conformance: case selection', () => {
  const all = ALL_CASES;
  it('selects by section, subsection and exact id, and excludes', () => {
    assert.ok(selectCases(all, '1.*').every((c) => c.id.startsWith('1.')));
    assert.equal(selectCases(all, '1.*').length, 16);
    assert.deepEqual(selectCases(all, '1.2.3,2.1').map((c) => c.id), ['1.2.3', '2.1'].filter((id) => all.some((c) => c.id === id)));
    assert.equal(selectCases(all, '1.*', '1.1.*').length, 8);
    assert.equal(selectCases(all, '*').length, all.length);
    assert.equal(selectCases(all, '1').length, 0, 'a section number alone is not a case id');
    assert.deepEqual(
      selectCases(all, '12.*.15').map((c) => c.id),
      ['12.1.15', '12.2.15', '12.3.15', '12.4.15', '12.5.15'],
    );
  });
  it('orders ids numerically', () => {
    assert.ok(compareCaseIds('9.10', '9.9') > 0);
    assert.ok(compareCaseIds('6.4.1', '6.10.1') < 0);
  });
});

describe('conformance: verdicts', () => {
  it('combines behaviour and close as the summary shows them', () => {
    assert.equal(combineVerdict(Behavior.OK, CloseBehavior.OK), 'OK');
    assert.equal(combineVerdict(Behavior.NON_STRICT, CloseBehavior.OK), 'NON-STRICT');
    assert.equal(combineVerdict(Behavior.OK, CloseBehavior.WRONG_CODE), 'NON-STRICT');
    assert.equal(combineVerdict(Behavior.OK, CloseBehavior.FAILED_BY_CLIENT), 'NON-STRICT');
    assert.equal(combineVerdict(Behavior.OK, CloseBehavior.UNCLEAN), 'FAILED');
    assert.equal(combineVerdict(Behavior.OK, CloseBehavior.FAILED), 'FAILED');
    assert.equal(combineVerdict(Behavior.FAILED, CloseBehavior.OK), 'FAILED');
    assert.equal(combineVerdict(Behavior.INFORMATIONAL, CloseBehavior.FAILED), 'INFORMATIONAL');
    assert.equal(combineVerdict(Behavior.UNIMPLEMENTED, CloseBehavior.UNIMPLEMENTED), 'UNIMPLEMENTED');
  });
});

describe('conformance: reports', () => {
  const result = (id: string, verdict: CaseResult['verdict']): CaseResult => ({
    id,
    description: `Case ${id} <b>bold</b>`,
    expectation: 'expectation',
    verdict,
    behavior: verdict === 'FAILED' ? 'FAILED' : 'OK',
    behaviorClose: 'OK',
    result: 'r',
    resultClose: 'rc',
    timedOut: null,
    expected: { OK: [{ type: 'message', length: 1, preview: '"x"', binary: false }] },
    received: [],
    expectedClose: { closedByMe: true, closeCode: [1000], requireClean: true },
    observed: {
      connectionWasOpen: true,
      closedByMe: true,
      failedByMe: false,
      droppedByMe: false,
      wasClean: true,
      remoteCloseCode: 1000,
      remoteCloseReason: '',
      localCloseCode: 1000,
      wasCloseHandshakeTimeout: false,
      wasServerConnectionDropTimeout: false,
    },
    durationMs: 3,
    reportTime: false,
    txFrames: { 1: 1 },
    rxFrames: {},
    handshake: { request: 'GET / HTTP/1.1', response: 'HTTP/1.1 101' },
    wirelog: [{ at: 0, kind: 'tx-frame', opcode: 1, fin: true, rsv: 0, masked: true, length: 1, preview: '"<script>"' }],
  });

  it('summarizes counts and failed ids, and writes index.json and a self-contained index.html', () => {
    const results = [result('1.1.1', 'OK'), result('1.1.2', 'FAILED'), result('2.1', 'NON-STRICT')];
    const summary = summarize(results);
    assert.equal(summary.counts.OK, 1);
    assert.deepEqual(summary.failed, ['1.1.2']);
    const table = formatSummary(results);
    assert.match(table, /^section/);
    assert.match(table, /FAILED: 1\.1\.2/);
    const dir = mkdtempSync(join(tmpdir(), 'fd-report-'));
    try {
      const { json, html } = writeReport(dir, { subject: 'test', mode: 'server', startedAt: 'now', node: process.version }, results);
      const parsed = JSON.parse(readFileSync(json, 'utf8')) as { cases: CaseResult[]; summary: { failed: string[] } };
      assert.equal(parsed.cases.length, 3);
      assert.deepEqual(parsed.summary.failed, ['1.1.2']);
      const page = readFileSync(html, 'utf8');
      assert.match(page, /<details id="case-1\.1\.2" class="FAILED">/);
      assert.ok(!page.includes('<script>"'), 'payload previews are escaped');
      assert.ok(!/src=|href="http/.test(page), 'no external resources');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
