#!/usr/bin/env node
// Rewrite test/conformance/expected.json from the last gate run's reports
// (test-output/conformance/{server,client}/index.json, written by `npm test -- test/conformance`).
// Review the diff before committing: every change of verdict is a change of behaviour.
import { readFileSync, writeFileSync } from 'node:fs';

const expected = {};
for (const mode of ['server', 'client']) {
  const report = JSON.parse(readFileSync(`test-output/conformance/${mode}/index.json`, 'utf8'));
  expected[mode] = Object.fromEntries(report.cases.map((c) => [c.id, c.verdict]));
}
writeFileSync('test/conformance/expected.json', JSON.stringify(expected, null, 1) + '\n');
console.log('test/conformance/expected.json updated: review `git diff` before committing');
