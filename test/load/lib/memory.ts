/** Memory figures of a process after a full garbage collection, and how to print them. */

export interface Memory {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  /** Peak RSS of the process so far. */
  maxRss: number;
}

function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect === undefined) throw new Error('run with --expose-gc');
  collect();
}

/** `process.memoryUsage()` now (no collection), with the peak RSS. */
export function memoryNow(): Memory {
  const { rss, heapUsed, heapTotal, external, arrayBuffers } = process.memoryUsage();
  return { rss, heapUsed, heapTotal, external, arrayBuffers, maxRss: process.resourceUsage().maxRSS * 1024 };
}

/** Collect synchronously, then measure (for a reading in the middle of work). */
export function collectedMemory(): Memory {
  gc();
  return memoryNow();
}

/**
 * Collect until the figures settle (array buffers are released by a sweeper that runs after the
 * collection; weak callbacks may free more on the next one), then measure.
 */
export async function settledMemory(): Promise<Memory> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  await new Promise((resolve) => setTimeout(resolve, 20));
  return collectedMemory();
}

/** The larger of each figure. */
export function maxMemory(a: Memory, b: Memory): Memory {
  return {
    rss: Math.max(a.rss, b.rss),
    heapUsed: Math.max(a.heapUsed, b.heapUsed),
    heapTotal: Math.max(a.heapTotal, b.heapTotal),
    external: Math.max(a.external, b.external),
    arrayBuffers: Math.max(a.arrayBuffers, b.arrayBuffers),
    maxRss: Math.max(a.maxRss, b.maxRss),
  };
}

export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
}

export function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

/** A signed difference in KiB or MiB. */
export function delta(bytes: number): string {
  const sign = bytes < 0 ? '-' : '+';
  const size = Math.abs(bytes);
  return sign + (size >= 1024 * 1024 ? mib(size) : kib(size));
}
