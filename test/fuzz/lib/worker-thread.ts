/**
 * Start a TypeScript module in a worker thread. Workers do not inherit tsx's `--import` hooks on
 * Node 20, so the worker registers tsx itself before importing the module.
 */
import { Worker } from 'node:worker_threads';

export function startTsWorker(module: URL, workerData: unknown): Worker {
  const source = `import('tsx/esm/api').then((api) => { api.register(); return import(${JSON.stringify(module.href)}); })`;
  return new Worker(source, { eval: true, workerData });
}
