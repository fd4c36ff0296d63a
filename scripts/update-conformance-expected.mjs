#!/usr/bin/env node
// Rewrite test/conformance/expected.json from the last gate run's reports
// (test-output/conformance/{server,client}/index.json, written by `npm test -- test/conformance`),
// and test/conformance/expected-h2.json from the HTTP/2 gate's (test-output/conformance/h2-{server,client}/).
// A verdict already committed for a case that the last run did not include (the HTTP/2 gate's
// selection) is kept. Review the diff before committing: every change of verdict is a change of behaviour.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

for (const [file, prefix] of [['test/conformance/expected.json', ''], ['test/conformance/expected-h2.json', 'h2-']]) {
  const committed = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  const expected = {};
  let updated = false;
  for (const mode of ['server', 'client']) {
    const path = `test-output/conformance/${prefix}${mode}/index.json`;
    const verdicts = { ...(committed[mode] ?? {}) };
    if (existsSync(path)) {
      for (const c of JSON.parse(readFileSync(path, 'utf8')).cases) verdicts[c.id] = c.verdict;
      updated = true;
    }
    expected[mode] = verdicts;
  }
  if (!updated) continue;
  writeFileSync(file, JSON.stringify(expected, null, 1) + '\n');
  console.log(`${file} updated: review \`git diff\` before committing`);
}
