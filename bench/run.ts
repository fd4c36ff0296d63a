/**
 * `npm run bench`: fullduplex against `ws` (with bufferutil and utf-8-validate), and a raw `node:net`
 * echo as the ceiling for bytes through Node, in the same run. Each server runs in its own process,
 * the load generator in another (pinned to another core where possible); the implementations take
 * turns (A B C A B C ...) over several rounds and each scenario reports the median of its rounds and
 * fullduplex's ratio to `ws`. A scenario may measure more than one thing (idle memory: heap and RSS;
 * latency: p99, p50 and p99.9): the extra lines get their own medians, ratios and targets, in the table,
 * bench/results/latest.json and docs/benchmarks.svg alike. A scenario without ws (publish-redis) has no
 * ratio and no target: its figure is shown for information. One that cannot run here (redis-server
 * not installed) is skipped with a one-line notice.
 *
 *   npm run bench                          # every scenario, each with its own number of rounds
 *   npm run bench -- --scenarios echo-small,compressed-echo --rounds 5
 *   npm run bench -- --scenarios broadcast --rounds 1 --quick
 */
import { cpus, availableParallelism } from 'node:os';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { SCENARIOS, type Scenario } from './scenarios.js';
import { pinning } from './lib/processes.js';
import { renderChart } from './lib/chart.js';
import type { Implementation } from './servers/server.js';

const { values } = parseArgs({
  options: {
    scenarios: { type: 'string' },
    /** Rounds for every scenario; by default each scenario's own (see scenarios.ts). */
    rounds: { type: 'string' },
    quick: { type: 'boolean', default: false },
  },
});
const DEFAULT_ROUNDS = 3;
const roundsOverride = values.rounds === undefined ? undefined : Number(values.rounds);
if (roundsOverride !== undefined && !(roundsOverride >= 1)) throw new Error(`--rounds must be 1 or more, not ${values.rounds}`);
// The servers and generators need the cores to themselves: how busy are they now, before we start?
function cpuTimes(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const { times } of cpus()) {
    const sum = times.user + times.nice + times.sys + times.irq + times.idle;
    total += sum;
    busy += sum - times.idle;
  }
  return { busy, total };
}
const sampleStart = cpuTimes();
await new Promise((resolve) => setTimeout(resolve, 1000));
const sampleEnd = cpuTimes();
const busyBefore = (sampleEnd.busy - sampleStart.busy) / Math.max(1, sampleEnd.total - sampleStart.total);
// The servers run the shipped build: make sure it is current.
execFileSync(process.execPath, [resolve('node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
const selected = values.scenarios === undefined ? SCENARIOS : SCENARIOS.filter((s) => values.scenarios!.split(',').includes(s.name));
if (selected.length === 0) throw new Error(`no scenario matches ${values.scenarios}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);

/** One measured quantity: its medians over the rounds and fullduplex's ratio to ws. */
export interface LineResult {
  readonly title: string;
  readonly unit: string;
  readonly higherIsBetter: boolean;
  readonly samples: Partial<Record<Implementation, number[]>>;
  readonly medians: Partial<Record<Implementation, number>>;
  /**
   * fullduplex compared with ws: how many times better (above 1 is better, whichever way the unit goes).
   * NaN (null in the JSON) when the scenario has no ws to compare with.
   */
  readonly ratio: number;
  /**
   * With a raw ceiling measured: each implementation against it, as a share (1 = as good as raw;
   * implementation / raw where higher is better, raw / implementation where lower is).
   */
  readonly ofRaw?: Partial<Record<Implementation, number>>;
  /** Absent for a line shown for information only. */
  readonly target?: number;
  readonly met?: boolean;
}

export interface ScenarioResult extends LineResult {
  readonly rounds: number;
  /** The scenario's other measured quantities, by name. */
  readonly lines?: Record<string, LineResult>;
  readonly details?: Record<string, unknown>;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const machine = {
  cores: availableParallelism(),
  cpu: cpus()[0]?.model ?? 'unknown',
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
  pinning,
};
const roundsText = roundsOverride === undefined ? 'rounds per scenario' : `${roundsOverride} rounds`;
console.log(`fullduplex benchmark: ${machine.cores} cores (${machine.cpu}), Node ${machine.node}, ${machine.pinning}, ${roundsText}\n`);
if (busyBefore > 0.15) {
  console.log(`  (the cores were ${(busyBefore * 100).toFixed(0)}% busy before the run: something else is running; the results may be noisy)\n`);
}

function summarize(
  line: { title: string; unit: string; higherIsBetter: boolean; target?: number | undefined },
  samples: Partial<Record<Implementation, number[]>>,
): LineResult {
  const medians: Partial<Record<Implementation, number>> = {};
  for (const [implementation, list] of Object.entries(samples)) medians[implementation as Implementation] = median(list);
  const ours = medians.fullduplex ?? NaN;
  const theirs = medians.ws ?? NaN;
  const ratio = line.higherIsBetter ? ours / theirs : theirs / ours;
  const raw = medians.raw;
  const ofRaw: Partial<Record<Implementation, number>> = {};
  if (raw !== undefined) {
    for (const [implementation, value] of Object.entries(medians)) {
      if (implementation !== 'raw') ofRaw[implementation as Implementation] = line.higherIsBetter ? value / raw : raw / value;
    }
  }
  return {
    title: line.title,
    unit: line.unit,
    higherIsBetter: line.higherIsBetter,
    samples,
    medians,
    ratio,
    ...(raw !== undefined && { ofRaw }),
    ...(line.target !== undefined && { target: line.target, met: ratio >= line.target }),
  };
}

const results: Record<string, ScenarioResult> = {};
const started = Date.now();
for (const scenario of selected) {
  const skip = scenario.skip?.() ?? false;
  if (skip !== false) {
    console.log(`  ${scenario.name.padEnd(18)} skipped: ${skip}`);
    continue;
  }
  const rounds = roundsOverride ?? scenario.rounds ?? DEFAULT_ROUNDS;
  const samples: Partial<Record<Implementation, number[]>> = {};
  const lineSamples = new Map<string, Partial<Record<Implementation, number[]>>>((scenario.lines ?? []).map((line) => [line.name, {}]));
  const details: Record<string, unknown> = {};
  const scenarioStarted = Date.now();
  for (let round = 0; round < rounds; round++) {
    for (const implementation of scenario.implementations) {
      const measured = await scenario.measure(implementation, values.quick === true);
      (samples[implementation] ??= []).push(measured.value);
      let extra = '';
      for (const line of scenario.lines ?? []) {
        const value = measured.lines?.[line.name];
        if (value === undefined) throw new Error(`${scenario.name}: the measurement has no ${line.name}`);
        (lineSamples.get(line.name)![implementation] ??= []).push(value);
        extra += `, ${line.name} ${format(value)}`;
      }
      if (measured.details !== undefined) details[`${implementation}#${round + 1}`] = measured.details;
      process.stdout.write(`  ${scenario.name.padEnd(18)} round ${round + 1}  ${implementation.padEnd(10)} ${format(measured.value)} ${scenario.unit}${extra}\n`);
    }
  }
  const main = summarize(scenario, samples);
  const lines: Record<string, LineResult> = {};
  for (const line of scenario.lines ?? []) lines[line.name] = summarize(line, lineSamples.get(line.name)!);
  results[scenario.name] = {
    ...main,
    rounds,
    ...(scenario.lines !== undefined && { lines }),
    ...(Object.keys(details).length > 0 && { details }),
  };
  console.log(`  ${scenario.name.padEnd(18)} (${((Date.now() - scenarioStarted) / 1000).toFixed(0)} s)`);
}

if (Object.keys(results).length === 0) {
  console.log('\nNothing was measured: bench/results/latest.json and docs/benchmarks.svg are left as they were.');
  process.exit(0);
}

function format(value: number): string {
  return value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(2);
}

function row(name: string, result: LineResult): string {
  const cell = (impl: Implementation): string => (result.medians[impl] === undefined ? '-' : format(result.medians[impl]!)).padStart(12);
  const target = result.target === undefined ? '-' : `>= ${result.target}x`;
  const verdict = result.met === undefined ? '' : result.met ? 'met' : 'NOT met';
  const ratio = Number.isFinite(result.ratio) ? `${result.ratio.toFixed(2)}x` : '-';
  return `${name.padEnd(20)} ${cell('fullduplex')} ${cell('ws')} ${cell('raw')}${h2Column ? cell('fullduplex-h2') : ''} ${ratio.padStart(7)} ${target.padStart(8)} ${verdict.padEnd(7)}  (${result.unit})`;
}

// fullduplex over HTTP/2 (http2-multiplexed) gets its own column, shown only when measured.
const h2Column = Object.values(results).some((r) => r.medians['fullduplex-h2'] !== undefined);
console.log(`\n${'scenario'.padEnd(20)} ${'fullduplex'.padStart(12)} ${'ws'.padStart(12)} ${'raw'.padStart(12)}${h2Column ? 'fd over h2'.padStart(12) : ''} ${'ratio'.padStart(7)} ${'target'.padStart(8)}`);
for (const [name, result] of Object.entries(results)) {
  console.log(row(name, result));
  for (const [lineName, line] of Object.entries(result.lines ?? {})) console.log(row(`  ${lineName}`, line));
}
console.log(`\n(${((Date.now() - started) / 1000).toFixed(0)} s; ratio = fullduplex compared with ws, above 1 is better)`);
if (Object.values(results).some((r) => !r.higherIsBetter || Object.values(r.lines ?? {}).some((line) => !line.higherIsBetter))) {
  console.log('(where lower is better (memory, latency) the ratio is ws / fullduplex: >= 2x means at most half of ws\'s, >= 1x at most ws\'s)');
}
// The raw ceiling, measured in the same run: how close each implementation comes to it.
const ceilings = Object.entries(results).flatMap(([name, result]) => [
  [name, result] as const,
  ...Object.entries(result.lines ?? {}).map(([lineName, line]) => [`  ${lineName}`, line] as const),
]).filter(([, line]) => line.ofRaw !== undefined);
if (ceilings.length > 0) {
  console.log(`\n${'of the raw ceiling'.padEnd(20)} ${'fullduplex'.padStart(12)} ${'ws'.padStart(12)}   (1 = as good as raw)`);
  const share = (value: number | undefined): string => (value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(2)).padStart(12);
  for (const [name, line] of ceilings) console.log(`${name.padEnd(20)} ${share(line.ofRaw?.fullduplex)} ${share(line.ofRaw?.ws)}`);
}

// Keep scenarios from earlier runs when only some were run now.
mkdirSync('bench/results', { recursive: true });
const file = 'bench/results/latest.json';
const previous = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { scenarios?: Record<string, ScenarioResult> }) : {};
const merged = { ...(previous.scenarios ?? {}), ...results };
// In the order of SCENARIOS, then any the code no longer has.
const order = (name: string): number => {
  const index = SCENARIOS.findIndex((s) => s.name === name);
  return index === -1 ? SCENARIOS.length : index;
};
const all = Object.fromEntries(Object.entries(merged).sort(([a], [b]) => order(a) - order(b)));
const record = { date: new Date().toISOString(), machine, rounds: roundsOverride ?? 'per scenario', scenarios: all };
writeFileSync(file, JSON.stringify(record, null, 1) + '\n');
mkdirSync('docs', { recursive: true });
writeFileSync('docs/benchmarks.svg', renderChart(record));
console.log(`Wrote ${file} and docs/benchmarks.svg`);

export type { Scenario };
