/**
 * The parser campaign's worker thread: runs inputs `start`, `start + 1`, ... until `endAt`, publishing
 * the index being run in shared memory (the main thread's watchdog reads it to catch a hang) and
 * posting each failing index. The main thread rebuilds failing inputs from (seed, index).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { parserCase } from './cases.js';
import { checkParserCase } from './parser-target.js';
import type { Finding } from './findings.js';

export interface ParserWorkerData {
  seed: number;
  start: number;
  endAt: number;
  /** Int32Array over a SharedArrayBuffer: [0] the index being run, [1] inputs finished. */
  progress: SharedArrayBuffer;
  /** Self-test of the watchdog: spin forever on this input, as a parser stuck in a loop would. */
  stallAt?: number;
}

export type ParserWorkerMessage =
  | { type: 'failure'; index: number; findings: Finding[] }
  | { type: 'done'; next: number };

const data = workerData as ParserWorkerData;
const progress = new Int32Array(data.progress);
const port = parentPort!;

let index = data.start;
for (; Date.now() < data.endAt; index++) {
  Atomics.store(progress, 0, index);
  if (index === data.stallAt) for (;;);
  const findings = checkParserCase(parserCase(data.seed, index));
  Atomics.add(progress, 1, 1);
  if (findings.length > 0) port.postMessage({ type: 'failure', index, findings } satisfies ParserWorkerMessage);
}
port.postMessage({ type: 'done', next: index } satisfies ParserWorkerMessage);
