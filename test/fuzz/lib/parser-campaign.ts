/**
 * Run the parser target for a bounded time in a worker thread, under a watchdog: if one input keeps
 * the worker busy past the time bound (an infinite loop in the parser), the worker is terminated, the
 * input is rebuilt from (seed, index) and reported as a hang, and a new worker carries on after it.
 */
import type { Worker } from 'node:worker_threads';
import { parserCase } from './cases.js';
import { PARSER_TIME_BOUND_MS } from './parser-target.js';
import { startTsWorker } from './worker-thread.js';
import { FailureLog, type CampaignOptions, type CampaignResult } from './campaign.js';
import type { FailureRecord, Finding, FindingKind } from './findings.js';
import type { ParserWorkerData, ParserWorkerMessage } from './parser-worker.js';

const WORKER_URL = new URL('./parser-worker.ts', import.meta.url);
const WATCHDOG_INTERVAL_MS = 100;

export function parserRecord(seed: number, index: number, findings: Finding[]): FailureRecord {
  const fuzzCase = parserCase(seed, index);
  return {
    target: 'parser',
    seed,
    index,
    findings,
    bytes: fuzzCase.bytes,
    chunks: fuzzCase.chunks,
    mutations: fuzzCase.mutations,
    maxPayload: fuzzCase.maxPayload,
    ...(fuzzCase.maxFragments !== undefined && { maxFragments: fuzzCase.maxFragments }),
    ...(fuzzCase.blockWrites !== undefined && { blockWrites: fuzzCase.blockWrites }),
  };
}

export async function runParserCampaign(options: CampaignOptions): Promise<CampaignResult> {
  const started = Date.now();
  const endAt = started + options.durationMs;
  const log = new FailureLog(options.onFailure);
  const report = (record: FailureRecord): void => log.add(record);
  let executions = 0;

  let start = 0;
  while (Date.now() < endAt) {
    const progress = new Int32Array(new SharedArrayBuffer(8));
    progress[0] = -1;
    const data: ParserWorkerData = {
      seed: options.seed,
      start,
      endAt,
      progress: progress.buffer as SharedArrayBuffer,
      ...(options.stallAt !== undefined && { stallAt: options.stallAt }),
    };
    const outcome = await runWorker(data, progress, (index, findings) => {
      report(parserRecord(options.seed, index, findings));
    });
    executions += Atomics.load(progress, 1);
    if (outcome.kind === 'done') break;
    // The worker hung or died on input `outcome.index`: report it and go on after it.
    executions++;
    report(parserRecord(options.seed, outcome.index, [{ kind: outcome.finding, message: outcome.message }]));
    start = outcome.index + 1;
  }
  return { target: 'parser', executions, durationMs: Date.now() - started, failures: log.failures, known: log.known };
}

type WorkerOutcome = { kind: 'done' } | { kind: 'stopped'; index: number; finding: FindingKind; message: string };

function runWorker(data: ParserWorkerData, progress: Int32Array, onFailure: (index: number, findings: Finding[]) => void): Promise<WorkerOutcome> {
  return new Promise((resolve, reject) => {
    const worker: Worker = startTsWorker(WORKER_URL, data);
    let lastIndex = -1;
    let lastChange = Date.now();
    let settled = false;
    const finish = (outcome: WorkerOutcome): void => {
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      void worker.terminate();
      resolve(outcome);
    };
    const watchdog = setInterval(() => {
      const index = Atomics.load(progress, 0);
      const now = Date.now();
      if (index !== lastIndex) {
        lastIndex = index;
        lastChange = now;
      } else if (index >= 0 && now - lastChange > PARSER_TIME_BOUND_MS) {
        finish({ kind: 'stopped', index, finding: 'hang', message: `input still running after ${now - lastChange} ms (worker terminated)` });
      }
    }, WATCHDOG_INTERVAL_MS);
    worker.on('message', (message: ParserWorkerMessage) => {
      if (message.type === 'failure') onFailure(message.index, message.findings);
      else finish({ kind: 'done' });
    });
    worker.on('error', (error: Error) => {
      const index = Atomics.load(progress, 0);
      if (index < 0) {
        // The worker failed before its first input: a problem of the harness, not of src.
        settled = true;
        clearInterval(watchdog);
        reject(error);
        return;
      }
      finish({ kind: 'stopped', index, finding: 'exception', message: `the worker died: ${error.stack ?? error.message}` });
    });
    worker.on('exit', (code) => {
      const index = Atomics.load(progress, 0);
      if (index < 0) finish({ kind: 'done' });
      else finish({ kind: 'stopped', index, finding: 'exception', message: `the worker exited (code ${code}) before finishing` });
    });
  });
}
