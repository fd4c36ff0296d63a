/**
 * `npm run bench`: fullduplex against `ws` (with bufferutil and utf-8-validate), and a raw `node:net`
 * echo as the ceiling for bytes through Node, in the same run. Each server runs in its own process,
 * the load generator in another (pinned to another core where possible); the implementations take
 * turns (A B C A B C ...) over several rounds and each scenario reports the median of its rounds and
 * fullduplex's ratio to `ws`. Writes bench/results/latest.json and docs/benchmarks.svg.
 *
 *   npm run bench                          # every scenario
 *   npm run bench -- --scenarios echo-small,compressed-echo --rounds 5
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
    rounds: { type: 'string', default: '3' },
    quick: { type: 'boolean', default: false },
  },
});
const rounds = Number(values.rounds);
// The servers run the shipped build: make sure it is current.
execFileSync(process.execPath, [resolve('node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
const selected = values.scenarios === undefined ? SCENARIOS : SCENARIOS.filter((s) => values.scenarios!.split(',').includes(s.name));
if (selected.length === 0) throw new Error(`no scenario matches ${values.scenarios}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);

export interface ScenarioResult {
  readonly title: string;
  readonly unit: string;
  readonly higherIsBetter: boolean;
  readonly samples: Partial<Record<Implementation, number[]>>;
  readonly medians: Partial<Record<Implementation, number>>;
  /** fullduplex compared with ws: how many times better (above 1 is better, whichever way the unit goes). */
  readonly ratio: number;
  readonly target: number;
  readonly met: boolean;
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
console.log(`fullduplex benchmark: ${machine.cores} cores (${machine.cpu}), Node ${machine.node}, ${machine.pinning}, ${rounds} rounds\n`);

const results: Record<string, ScenarioResult> = {};
const started = Date.now();
for (const scenario of selected) {
  const samples: Partial<Record<Implementation, number[]>> = {};
  const details: Record<string, unknown> = {};
  for (let round = 0; round < rounds; round++) {
    for (const implementation of scenario.implementations) {
      const measured = await scenario.measure(implementation, values.quick === true);
      (samples[implementation] ??= []).push(measured.value);
      if (measured.details !== undefined) details[`${implementation}#${round + 1}`] = measured.details;
      process.stdout.write(`  ${scenario.name.padEnd(16)} round ${round + 1}  ${implementation.padEnd(10)} ${format(measured.value)} ${scenario.unit}\n`);
    }
  }
  const medians: Partial<Record<Implementation, number>> = {};
  for (const [implementation, list] of Object.entries(samples)) medians[implementation as Implementation] = median(list);
  const ours = medians.fullduplex!;
  const theirs = medians.ws!;
  const ratio = scenario.higherIsBetter ? ours / theirs : theirs / ours;
  results[scenario.name] = {
    title: scenario.title,
    unit: scenario.unit,
    higherIsBetter: scenario.higherIsBetter,
    samples,
    medians,
    ratio,
    target: scenario.target,
    met: ratio >= scenario.target,
    ...(Object.keys(details).length > 0 && { details }),
  };
}

function format(value: number): string {
  return value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(2);
}

console.log('\nscenario          fullduplex           ws          raw   ratio  target');
for (const [name, result] of Object.entries(results)) {
  const cell = (impl: Implementation): string => (result.medians[impl] === undefined ? '-' : format(result.medians[impl]!)).padStart(12);
  console.log(
    `${name.padEnd(16)} ${cell('fullduplex')} ${cell('ws')} ${cell('raw')} ${result.ratio.toFixed(2).padStart(6)}x ${('>= ' + result.target + 'x').padStart(7)} ${result.met ? 'met' : 'NOT met'}  (${result.unit})`,
  );
}
console.log(`\n(${((Date.now() - started) / 1000).toFixed(0)} s; ratio = fullduplex compared with ws, above 1 is better)`);

// Keep scenarios from earlier runs when only some were run now.
mkdirSync('bench/results', { recursive: true });
const file = 'bench/results/latest.json';
const previous = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { scenarios?: Record<string, ScenarioResult> }) : {};
const all = { ...(previous.scenarios ?? {}), ...results };
const record = { date: new Date().toISOString(), machine, rounds, scenarios: all };
writeFileSync(file, JSON.stringify(record, null, 1) + '\n');
mkdirSync('docs', { recursive: true });
writeFileSync('docs/benchmarks.svg', renderChart(record));
console.log(`Wrote ${file} and docs/benchmarks.svg`);

export type { Scenario };
