/**
 * What the conformance gates (gate.test.ts over HTTP/1.1, gate-h2.test.ts over HTTP/2) share: the
 * committed verdicts, the large permessage-deflate cases left out of the quicker runs, and the check
 * that every selected case ran and got its committed verdict.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { formatSummary } from '../../src/conformance/report.js';
import type { CaseDefinition, CaseResult } from '../../src/conformance/case.js';
import type { Verdict } from '../../src/conformance/verdict.js';

export interface Expected {
  readonly server: Record<string, Verdict>;
  readonly client: Record<string, Verdict>;
}

/** CONFORMANCE_FULL=1 (`.ci/run`) runs the larger selection. */
export const FULL = process.env['CONFORMANCE_FULL'] === '1';

/**
 * Sections 12 and 13 (permessage-deflate): the cases of 1,000 messages of up to 128 KiB (7 to 10 and 12
 * to 18 of each subsection), which take most of the time.
 */
export const LARGE_COMPRESSION = ['12', '13'].flatMap((section) => [7, 8, 9, 10, 12, 13, 14, 15, 16, 17, 18].map((n) => `${section}.*.${n}`)).join(',');

/** The committed verdicts in `file` (beside this module). */
export function loadExpected(file: string): Expected {
  return JSON.parse(readFileSync(new URL(`./${file}`, import.meta.url), 'utf8')) as Expected;
}

/** Differences between the verdicts and the committed ones (from `file`), one line each. */
function differences(results: readonly CaseResult[], committed: Record<string, Verdict>, cases: readonly CaseDefinition[], file: string): string[] {
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const result of results) {
    seen.add(result.id);
    const want = committed[result.id];
    if (want !== result.verdict) {
      lines.push(`${result.id}: expected ${want ?? '(no entry)'}, got ${result.verdict} — ${result.result} / ${result.resultClose}`);
    }
  }
  for (const c of cases) if (!seen.has(c.id)) lines.push(c.id in committed ? `${c.id}: in ${file} but not run` : `${c.id}: not run`);
  for (const c of cases) if (!(c.id in committed)) lines.push(`${c.id}: not in ${file}`);
  return lines;
}

/** Every one of `cases` ran and got its verdict committed in `file`; else fail with the summary and the differences. */
export function assertVerdicts(results: readonly CaseResult[], committed: Record<string, Verdict>, cases: readonly CaseDefinition[], file: string): void {
  const diff = differences(results, committed, cases, file);
  assert.deepEqual(diff, [], `\n${formatSummary(results)}\n${diff.join('\n')}`);
}
