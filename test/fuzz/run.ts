/**
 * npm run fuzz -- [--duration SECONDS] [--target parser|server|both] [--seed N] [--parallel N] [--no-save]
 *
 * Mutates valid client frame streams and runs them against the sans-I/O parser (in a worker thread,
 * under a hang watchdog) and against a live WebSocketServer (in a child process, over TCP), for a
 * bounded time; with `both` the two run side by side. Prints the seed (give it back with --seed to
 * replay the same inputs), executions per target, and each failure; failing inputs up to 64 KiB are
 * saved to test/fuzz/corpus/ (at most 3 per target and kind per run; a known issue only if the corpus
 * has no input for it yet). Exits 1 if anything failed (known issues aside).
 */
import { parseArgs } from 'node:util';
import { freshSeed } from './lib/prng.js';
import { runParserCampaign } from './lib/parser-campaign.js';
import type { CampaignResult } from './lib/campaign.js';
import { runServerCampaign } from './lib/server-campaign.js';
import { readIndex, saveFailure } from './lib/corpus.js';
import { describeFailure, type FailureRecord } from './lib/findings.js';

const USAGE = 'usage: npm run fuzz -- [--duration SECONDS] [--target parser|server|both] [--seed N] [--parallel N] [--no-save]';
const SAVED_PER_KIND = 3;
/** The corpus keeps small files: larger failing inputs are reproduced from the seed and index. */
const MAX_SAVED_BYTES = 64 * 1024;
/** A known issue is in the corpus already: keep at most one more example of it, a small one. */
const MAX_SAVED_KNOWN_BYTES = 4 * 1024;

function fail(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        duration: { type: 'string', default: '60' },
        target: { type: 'string', default: 'both' },
        seed: { type: 'string' },
        parallel: { type: 'string', default: '20' },
        'no-save': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    });
  } catch (error) {
    return fail((error as Error).message);
  }
})();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const duration = Number(values.duration);
if (!(duration > 0)) fail(`--duration must be a positive number of seconds, not ${values.duration}`);
const target = values.target;
if (target !== 'parser' && target !== 'server' && target !== 'both') fail(`--target must be parser, server or both, not ${target}`);
const seed = values.seed === undefined ? freshSeed() : Number(values.seed);
if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff) fail(`--seed must be an integer in 0..4294967295, not ${values.seed}`);
const parallel = Number(values.parallel);
if (!Number.isInteger(parallel) || parallel < 1) fail(`--parallel must be a positive integer, not ${values.parallel}`);

const saved = new Map<string, number>();
/** Known issues the corpus already has an input for: not saved again. */
const inCorpus = new Set(readIndex().flatMap((entry) => (entry.knownBug === undefined ? [] : [entry.knownBug.split(':')[0]!])));
const knownSeen = new Map<string, number>();
function onFailure(record: FailureRecord, known: boolean): void {
  const first = record.findings[0];
  const key = `${record.target}/${first?.known ?? first?.kind ?? ''}`;
  const count = saved.get(key) ?? 0;
  const small = record.bytes.length > 0 && record.bytes.length <= (known ? MAX_SAVED_KNOWN_BYTES : MAX_SAVED_BYTES);
  const reproducible = !record.findings.some((finding) => finding.elsewhere === true);
  const wanted = known ? count < 1 && !inCorpus.has(first?.known ?? '') : count < SAVED_PER_KIND;
  if (!values['no-save'] && small && reproducible && wanted) {
    const file = saveFailure(record);
    if (file !== null) record.file = file;
    saved.set(key, count + 1);
  }
  if (known) {
    const seen = knownSeen.get(key) ?? 0;
    knownSeen.set(key, seen + 1);
    if (seen === 0 || record.file !== undefined) console.log(`\nKNOWN ISSUE (not counted; further hits not shown unless saved) ${describeFailure(record)}`);
    return;
  }
  console.log(`\nFAILURE ${describeFailure(record)}`);
}

console.log(`fuzz: seed ${seed}, ${duration} s, target ${target}${target !== 'parser' ? `, ${parallel} connections in parallel` : ''}`);
const durationMs = duration * 1000;
const campaigns: Array<Promise<CampaignResult>> = [];
if (target !== 'server') campaigns.push(runParserCampaign({ seed, durationMs, onFailure }));
if (target !== 'parser') campaigns.push(runServerCampaign({ seed, durationMs, parallel, onFailure }));
const results = await Promise.all(campaigns);

let failures = 0;
console.log('');
for (const result of results) {
  const rate = result.executions / (result.durationMs / 1000);
  console.log(
    `${result.target}: ${result.executions} executions in ${(result.durationMs / 1000).toFixed(1)} s (${rate.toFixed(0)}/s), ` +
      `${result.failures.length} failures, ${result.known.length} inputs showing only known issues`,
  );
  failures += result.failures.length;
}
for (const [key, count] of knownSeen) console.log(`known issue ${key}: ${count} inputs (see test/fuzz/lib/known-issues.ts)`);
if (failures > 0) console.log(`\n${failures} failures; reproduce with --seed ${seed}`);
process.exit(failures > 0 ? 1 : 0);
