/**
 * A bounded fuzz pass for CI: 20 s against the sans-I/O parser and, at the same time, 20 s against a
 * live server (20 connections in parallel). No failure is allowed (known issues, see
 * lib/known-issues.ts, are shown but not counted), and each target must have run a minimum number of
 * inputs, so that a harness that silently does nothing fails. FUZZ_SEED=N replays a pass; failing
 * inputs are saved under test-output/fuzz-findings/.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freshSeed } from './lib/prng.js';
import { runParserCampaign } from './lib/parser-campaign.js';
import { runServerCampaign } from './lib/server-campaign.js';
import { saveFailure } from './lib/corpus.js';
import { describeFailure, type FailureRecord } from './lib/findings.js';
import type { CampaignResult } from './lib/campaign.js';
import { DEFAULT_TIME_SCALE, TIME_SCALE, scaled } from '../helpers/time.js';

const DURATION_MS = 20_000;
/**
 * Far below what a loaded 2-core machine does (parser: ~300–1,500/s; server: ~100–600 connections/s),
 * and lower still on a slower or busier one (divided by the tests' time scale beyond its default).
 */
const SLOWER = TIME_SCALE / DEFAULT_TIME_SCALE;
const MIN_PARSER_EXECUTIONS = Math.ceil(1000 / Math.max(1, SLOWER));
const MIN_SERVER_EXECUTIONS = Math.ceil(300 / Math.max(1, SLOWER));
const FINDINGS_DIR = fileURLToPath(new URL('../../test-output/fuzz-findings/', import.meta.url));
const SAVED_PER_TARGET = 5;

describe('fuzz pass', { timeout: DURATION_MS + scaled(60_000) }, () => {
  const seed = process.env.FUZZ_SEED === undefined ? freshSeed() : Number(process.env.FUZZ_SEED);
  let parser: CampaignResult;
  let server: CampaignResult;
  const saved = new Map<string, number>();
  const onFailure = (record: FailureRecord, known: boolean): void => {
    const count = saved.get(record.target) ?? 0;
    if (known || count >= SAVED_PER_TARGET || record.bytes.length === 0 || record.findings.some((f) => f.elsewhere === true)) return;
    saved.set(record.target, count + 1);
    mkdirSync(FINDINGS_DIR, { recursive: true });
    record.file = saveFailure(record, FINDINGS_DIR) ?? undefined;
  };

  before(async () => {
    [parser, server] = await Promise.all([
      runParserCampaign({ seed, durationMs: DURATION_MS, onFailure }),
      runServerCampaign({ seed, durationMs: DURATION_MS, parallel: 20, onFailure }),
    ]);
  });

  function check(t: { diagnostic(message: string): void }, result: CampaignResult, minimum: number): void {
    const rate = result.executions / (result.durationMs / 1000);
    t.diagnostic(`seed ${seed} (FUZZ_SEED=${seed} to replay): ${result.executions} executions in ${(result.durationMs / 1000).toFixed(1)} s, ${rate.toFixed(0)}/s`);
    if (result.known.length > 0) t.diagnostic(`${result.known.length} inputs showed only known issues: ${[...new Set(result.known.flatMap((r) => r.findings.map((f) => f.known)))].join(', ')}`);
    assert.deepEqual(result.failures.map(describeFailure), [], `${result.failures.length} failures with seed ${seed}`);
    assert.ok(result.executions >= minimum, `only ${result.executions} executions (at least ${minimum} expected): is the harness running?`);
  }

  it('parser: no failure', (t) => check(t, parser, MIN_PARSER_EXECUTIONS));
  it('live server: no failure', (t) => check(t, server, MIN_SERVER_EXECUTIONS));
});
