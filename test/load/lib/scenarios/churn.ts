/**
 * Connection churn: many connect / echo / close cycles, a few at a time, against one echo server.
 * Every cycle must succeed (echoes exactly once and in order, a clean 1000 close), and the server's
 * heap after a full collection must stay flat: measured after a warm-up, then after each phase.
 */
import { startFleet } from '../fleet-process.js';
import { delta, mib } from '../memory.js';
import { Report, listed } from '../report.js';
import { startLoadServer, type ServerConfig } from '../server-process.js';
import { scaled } from '../../../helpers/time.js';

export interface ChurnOptions {
  /** Cycles after the warm-up, in `phases` equal parts (a heap reading after each). */
  cycles: number;
  phases: number;
  warmup: number;
  /** Cycles running at once. */
  parallel: number;
  /** Messages echoed per cycle. */
  echoes: number;
  /** Largest allowed heap growth from the end of the warm-up to the end. */
  heapBound: number;
  timeoutMs: number;
  /** For checking the check: make the server keep this many bytes of heap per connection. */
  leak?: number;
}

export async function runChurn(options: ChurnOptions): Promise<Report> {
  const { cycles, phases, warmup, parallel, echoes, timeoutMs } = options;
  const report = new Report(`${cycles.toLocaleString('en-US')} connect/echo/close cycles (+${warmup.toLocaleString('en-US')} warm-up), ${parallel} at a time`);
  const fileLimit = parallel * 2 + 512;
  const config: ServerConfig = { echo: true, ...(options.leak !== undefined && { leak: options.leak }) };
  const server = await startLoadServer(config, fileLimit);
  try {
    const fleet = await startFleet(fileLimit);
    try {
      report.figure('node', server.handle.ready.node);
      let firstId = 1;
      let failed = 0;
      const problems: string[] = [];
      let ms = 0;
      const run = async (count: number): Promise<void> => {
        const result = await fleet.request('churn', { port: server.port, cycles: count, parallel, firstId, echoes, timeoutMs }, scaled(count * 50 + 60_000));
        firstId += count;
        failed += result.failed;
        ms += result.ms;
        problems.push(...result.problems.slice(0, 10 - problems.length));
        await server.waitClosed(firstId - 1);
      };
      await run(warmup);
      const start = await server.memory();
      const series = [start];
      const perPhase = Math.ceil(cycles / phases);
      for (let done = 0; done < cycles; done += perPhase) {
        await run(Math.min(perPhase, cycles - done));
        series.push(await server.memory());
      }
      const end = series[series.length - 1]!;
      const stats = await server.stats();
      const total = warmup + cycles;

      report.check('every cycle: connected, echoes exactly once and in order with equal checksums, closed cleanly', failed === 0, listed(problems, failed));
      report.equal('server side: close codes', stats.closeCodes, { 1000: total });
      report.equal('server side: clean closes', stats.clean, total);
      report.equal("server side: clients' tallies matched", stats.talliesMatched, total);
      report.check('server side: problems', stats.problemCount === 0, listed(stats.problems, stats.problemCount));
      const growth = end.heapUsed - start.heapUsed;
      report.check(`server heap after ${cycles.toLocaleString('en-US')} cycles within ${mib(options.heapBound)} of its value after the warm-up`, growth <= options.heapBound, `${delta(growth)} (${(growth / cycles).toFixed(2)} B per cycle)`);

      report.figure('cycles', `${total.toLocaleString('en-US')} (${warmup.toLocaleString('en-US')} warm-up), ${echoes} echoes each, ${parallel} in parallel`);
      report.figure('rate', `${Math.round(total / (ms / 1000)).toLocaleString('en-US')} cycles/s (${(ms / 1000).toFixed(1)} s of churn)`);
      report.figure('server heap after gc: after warm-up, then after each phase', series.map((m) => mib(m.heapUsed)).join(', '));
      report.figure('heap growth after warm-up', `${delta(growth)} over ${cycles.toLocaleString('en-US')} cycles`);
      report.figure('server array buffers after warm-up / at end', `${mib(start.arrayBuffers)} / ${mib(end.arrayBuffers)}`);
      report.figure('server RSS after warm-up / at end / peak', `${mib(start.rss)} / ${mib(end.rss)} / ${mib(end.maxRss)}`);
    } finally {
      await fleet.stop();
    }
  } finally {
    await server.stop();
  }
  return report;
}
