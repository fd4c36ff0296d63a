/**
 * `npm run soak`: the load tests at full size (test/load/*.test.ts run them at a size that fits CI).
 *
 *  - 10,000 concurrent connections to one server process, each sending and receiving, then all
 *    closing cleanly; heap per connection; server memory after close against its baseline.
 *  - 100,000 connect/echo/close cycles; the server's heap after a warm-up and after every 10,000.
 *  - A slow reader against a 4 MiB `maxBufferedAmount`.
 *  - Graceful shutdown with 10,000 clients mid-stream (the issue asks for 1,000; CI runs that).
 *  - The concurrent and shutdown runs again with permessage-deflate (most messages compressed).
 *
 * Prints every figure and check; exits 1 if any check fails. Sizes can be changed:
 *   npm run soak -- --connections 10000 --cycles 100000 --shutdown 10000 --only concurrent,churn,slow-reader,shutdown,concurrent-deflate,shutdown-deflate
 */
import { parseArgs } from 'node:util';
import { runConcurrent } from './lib/scenarios/concurrent.js';
import { runChurn } from './lib/scenarios/churn.js';
import { runSlowReader } from './lib/scenarios/slow-reader.js';
import { runShutdown } from './lib/scenarios/shutdown.js';
import type { Report } from './lib/report.js';

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '10000' },
    cycles: { type: 'string', default: '100000' },
    shutdown: { type: 'string', default: '10000' },
    only: { type: 'string' },
  },
});
const connections = Number(values.connections);
const cycles = Number(values.cycles);
const shutdownClients = Number(values.shutdown);
const only = values.only === undefined ? null : new Set(values.only.split(','));
const MiB = 1024 * 1024;

const concurrentAtFullSize = {
  connections,
  echoes: 20,
  window: 4,
  pushes: 20,
  warmup: Math.min(2000, connections),
  concurrency: 200,
  // A leak of 1 KiB per connection would add ~10 MiB at 10,000 connections.
  heapBound: 2 * MiB,
  arrayBuffersBound: MiB,
  timeoutMs: 300_000,
};

const scenarios: Array<[string, () => Promise<Report>]> = [
  ['concurrent', () => runConcurrent(concurrentAtFullSize)],
  ['concurrent-deflate', () => runConcurrent({ ...concurrentAtFullSize, deflate: { threshold: 64 } })],
  [
    'churn',
    () =>
      runChurn({
        cycles,
        phases: 10,
        warmup: Math.min(5000, cycles),
        parallel: 16,
        echoes: 2,
        // Over 100,000 cycles this bound catches a leak of 21 bytes per connection.
        heapBound: 2 * MiB,
        timeoutMs: 30_000,
      }),
  ],
  [
    'slow-reader',
    () => runSlowReader({ maxBufferedAmount: 4 * MiB, policy: 'close', closeTimeout: 1000, bufferAllowance: MiB, rssAllowance: 8 * MiB, perTick: 4 }),
  ],
  [
    'shutdown',
    () =>
      runShutdown({
        connections: shutdownClients,
        intervalMs: 200,
        perTick: 1,
        minReceived: 10,
        closeBurst: 8,
        shutdownTimeout: 60_000,
        concurrency: 200,
        timeoutMs: 300_000,
      }),
  ],
  [
    'shutdown-deflate',
    () =>
      runShutdown({
        connections: shutdownClients,
        // Compression runs at some 17,000 messages/s here: stream below that, so that the queue left
        // at close() drains well within the shutdown timeout.
        intervalMs: 1000,
        perTick: 1,
        minReceived: 5,
        closeBurst: 8,
        shutdownTimeout: 60_000,
        concurrency: 200,
        timeoutMs: 300_000,
        deflate: { threshold: 64 },
      }),
  ],
];

const started = performance.now();
let failed = 0;
console.log(`fullduplex soak on node ${process.version}, ${new Date().toISOString()}\n`);
for (const [name, run] of scenarios) {
  if (only !== null && !only.has(name)) continue;
  try {
    const report = await run();
    console.log(`${report.lines().join('\n')}\n`);
    failed += report.failures.length;
  } catch (error) {
    failed++;
    console.log(`${name}: FAIL ${(error as Error).stack ?? String(error)}\n`);
  }
}
console.log(`${failed === 0 ? 'all checks passed' : `${failed} check(s) failed`} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
process.exitCode = failed === 0 ? 0 : 1;
