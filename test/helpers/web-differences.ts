/**
 * The differences between fullduplex/web and its oracles (undici, Chromium) that we keep on purpose,
 * read from the tables in docs/web-api.md, so that a differential test fails on any difference that
 * is not documented there with its reason, and on a documented one that no longer happens.
 *
 * A table row: `| id | scenario | oracle | theirs | ours | reason |`, in a section of the page
 * whose table header starts with `| id |`. `theirs` and `ours` are the results as the test prints them
 * (JSON, in backticks).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface DocumentedDifference {
  readonly id: string;
  readonly scenario: string;
  readonly oracle: string;
  readonly theirs: string;
  readonly ours: string;
  readonly reason: string;
}

const PAGE = fileURLToPath(new URL('../../docs/web-api.md', import.meta.url));

function stripTicks(cell: string): string {
  const trimmed = cell.trim();
  return trimmed.startsWith('`') && trimmed.endsWith('`') ? trimmed.slice(1, -1) : trimmed;
}

/** Every row of every difference table on the page, by id. */
export function documentedDifferences(): ReadonlyMap<string, DocumentedDifference> {
  const rows = new Map<string, DocumentedDifference>();
  let inTable = false;
  for (const line of readFileSync(PAGE, 'utf8').split('\n')) {
    if (!line.startsWith('|')) {
      inTable = false;
      continue;
    }
    const cells = line.split(/(?<!\\)\|/).slice(1, -1).map((cell) => cell.replace(/\\\|/g, '|'));
    if (cells[0]?.trim() === 'id') {
      inTable = true;
      continue;
    }
    if (!inTable || /^\s*-+\s*$/.test(cells[0] ?? '')) continue;
    const [id, scenario, oracle, theirs, ours, reason] = cells.map((cell) => cell.trim());
    if (id === undefined || reason === undefined) throw new Error(`docs/web-api.md: a difference row needs 6 cells: ${line}`);
    if (rows.has(id)) throw new Error(`docs/web-api.md: difference id ${id} is listed twice`);
    rows.set(id, { id, scenario: scenario!, oracle: oracle!, theirs: stripTicks(theirs!), ours: stripTicks(ours!), reason });
  }
  return rows;
}

/**
 * The core of every differential test: `ours` and `theirs` (the oracle's result for the same
 * scenario) must be equal, unless docs/web-api.md lists `id` with exactly these two results (as
 * JSON). A listed difference that does not happen fails too, so the table stays true.
 */
export function assertSameOrDocumented(id: string, ours: unknown, theirs: unknown, oracle = 'undici'): void {
  const documented = documentedDifferences().get(id);
  const oursJson = JSON.stringify(ours);
  const theirsJson = JSON.stringify(theirs);
  if (documented === undefined) {
    assert.deepEqual(ours, theirs, `${id}: fullduplex differs from ${oracle} and docs/web-api.md does not list it (ours ${oursJson}, theirs ${theirsJson})`);
    return;
  }
  assert.equal(documented.oracle, oracle, `${id}: docs/web-api.md lists this difference against ${documented.oracle}, not ${oracle}`);
  assert.notEqual(oursJson, theirsJson, `${id}: docs/web-api.md lists a difference that no longer happens (both ${oursJson}); remove the row`);
  assert.equal(theirsJson, documented.theirs, `${id}: ${oracle}'s result is not the one docs/web-api.md lists`);
  assert.equal(oursJson, documented.ours, `${id}: our result is not the one docs/web-api.md lists`);
}
