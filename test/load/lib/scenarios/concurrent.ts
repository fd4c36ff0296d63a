/**
 * Many concurrent connections, each sending and receiving, then all closing cleanly: every message
 * arrives exactly once and in order (sequence numbers, CRC-32 in both directions), every close is a
 * clean 1000, and the server's memory after a full collection returns near its baseline.
 */
import { startFleet } from '../fleet-process.js';
import { delta, kib, mib } from '../memory.js';
import { Report, listed } from '../report.js';
import { startLoadServer, type ServerConfig } from '../server-process.js';

export interface ConcurrentOptions {
  connections: number;
  /** Messages each connection sends for echo, and how many of them may be in flight. */
  echoes: number;
  window: number;
  /** Messages the server pushes to each connection meanwhile. */
  pushes: number;
  /** Connections of a first, identical round that warms the server up before the baseline. */
  warmup: number;
  /** Handshakes in flight while opening. */
  concurrency: number;
  /** Largest allowed growth of the server's heap (after close and collection) over the baseline. */
  heapBound: number;
  /** Largest allowed growth of the server's array buffers over the baseline. */
  arrayBuffersBound: number;
  timeoutMs: number;
  /** For checking the check: make the server keep this many bytes of heap per connection. */
  leak?: number;
  /** Negotiate permessage-deflate (no context takeover); the server compresses messages from `threshold` bytes. */
  deflate?: { threshold: number };
}

export async function runConcurrent(options: ConcurrentOptions): Promise<Report> {
  const { connections: n, echoes, window, pushes, warmup, timeoutMs } = options;
  const compression = options.deflate === undefined ? '' : `, permessage-deflate from ${options.deflate.threshold} bytes`;
  const report = new Report(`${n.toLocaleString('en-US')} concurrent connections, ${echoes} echoed + ${pushes} pushed messages each${compression}`);
  const fileLimit = n + warmup + 512;
  const config: ServerConfig = {
    echo: true,
    push: { count: pushes, intervalMs: 10, perTick: 2, autoStart: false },
    ...(options.leak !== undefined && { leak: options.leak }),
    ...(options.deflate !== undefined && { options: { perMessageDeflate: { threshold: options.deflate.threshold } } }),
  };
  const server = await startLoadServer(config, fileLimit);
  try {
    const fleet = await startFleet(fileLimit);
    try {
      report.figure('node', server.handle.ready.node);
      report.figure('open-file limit (server, clients)', `${server.handle.ready.fileLimit}, ${fleet.ready.fileLimit}`);

      // One identical round first: compiled code, pools and caches reach their working size.
      const round = async (count: number, firstId: number) => {
        const opened = await fleet.request('open', { port: server.port, count, firstId, concurrency: options.concurrency, deflate: options.deflate !== undefined }, timeoutMs);
        await server.handle.request('startPush', null);
        const exchanged = await fleet.request('exchange', { echoes, window, pushes, timeoutMs }, timeoutMs + 10_000);
        return { opened, exchanged };
      };
      if (warmup > 0) {
        const { opened, exchanged } = await round(warmup, 1);
        const closed = await fleet.request('close', { timeoutMs }, timeoutMs + 10_000);
        report.check('warm-up round', opened.opened === warmup && exchanged.failedConnections === 0 && closed.clean === warmup, `${opened.opened} opened, ${exchanged.failedConnections} failed, ${closed.clean} closed cleanly`);
        await server.waitClosed(warmup);
      }
      const baseline = await server.memory();

      const started = performance.now();
      const { opened, exchanged } = await round(n, warmup + 1);
      const loaded = await server.memory();
      const closed = await fleet.request('close', { timeoutMs }, timeoutMs + 10_000);
      const stats = await server.waitClosed(warmup + n);
      const seconds = (performance.now() - started) / 1000;
      const after = await server.memory();

      const total = warmup + n;
      report.equal('connections opened', opened.opened, n);
      report.check('handshake problems', opened.problems.length === 0, listed(opened.problems));
      report.check('client side: every echo and pushed message exactly once, in order, checksums equal', exchanged.failedConnections === 0, listed(exchanged.problems, exchanged.failedConnections));
      report.equal('echoes received', exchanged.echoes, n * echoes);
      report.equal('pushed messages received', exchanged.pushes, n * pushes);
      report.check('client side: every connection closed cleanly with 1000', closed.clean === n, `${closed.clean} of ${n}; codes ${JSON.stringify(closed.closeCodes)}; ${listed(closed.problems, closed.failedConnections)}`);
      report.equal('server side: close codes', stats.closeCodes, { 1000: total });
      report.equal('server side: clean closes', stats.clean, total);
      report.equal('server side: messages received, each in order', stats.received, total * echoes);
      report.equal("server side: clients' tallies (count and CRC of what they sent) matched", stats.talliesMatched, total);
      report.check('server side: problems', stats.problemCount === 0, listed(stats.problems, stats.problemCount));
      const heapGrowth = after.heapUsed - baseline.heapUsed;
      const bufferGrowth = after.arrayBuffers - baseline.arrayBuffers;
      report.check(`server heap after close within ${kib(options.heapBound)} of baseline`, heapGrowth <= options.heapBound, `${delta(heapGrowth)} (${(heapGrowth / n).toFixed(1)} B per connection)`);
      report.check(`server array buffers after close within ${kib(options.arrayBuffersBound)} of baseline`, bufferGrowth <= options.arrayBuffersBound, delta(bufferGrowth));

      const messages = exchanged.sent + exchanged.echoes + exchanged.pushes;
      report.figure('connections held at once', n);
      report.figure('time to open them', `${(opened.ms / 1000).toFixed(1)} s (${Math.round(n / (opened.ms / 1000)).toLocaleString('en-US')}/s)`);
      report.figure('messages checked', `${messages.toLocaleString('en-US')} (${exchanged.sent.toLocaleString('en-US')} sent, each checked by the server and again as its echo; ${exchanged.pushes.toLocaleString('en-US')} pushed)`);
      report.figure('bytes', `${mib(exchanged.bytesSent)} sent, ${mib(exchanged.bytesReceived)} received`);
      if (options.deflate !== undefined) report.figure('received compressed', exchanged.compressed);
      report.figure('exchange time', `${(exchanged.ms / 1000).toFixed(1)} s`);
      report.figure('server baseline (after warm-up)', `heap ${mib(baseline.heapUsed)}, array buffers ${mib(baseline.arrayBuffers)}, RSS ${mib(baseline.rss)}`);
      report.figure('server with all open (after gc)', `heap ${mib(loaded.heapUsed)}, array buffers ${mib(loaded.arrayBuffers)}, RSS ${mib(loaded.rss)}`);
      report.figure('server peak RSS / peak heap in use (sampled every 100 ms)', `${mib(after.maxRss)} / ${mib(stats.peakHeapUsed)}`);
      report.figure('per connection (open, after gc)', `heap ${kib((loaded.heapUsed - baseline.heapUsed) / n)}, array buffers ${kib((loaded.arrayBuffers - baseline.arrayBuffers) / n)}, RSS ${kib((loaded.rss - baseline.rss) / n)}`);
      report.figure('server after close vs baseline', `heap ${delta(heapGrowth)}, array buffers ${delta(bufferGrowth)}, external ${delta(after.external - baseline.external)}, RSS ${delta(after.rss - baseline.rss)}`);
      report.figure('open + exchange + close', `${seconds.toFixed(1)} s`);
    } finally {
      await fleet.stop();
    }
  } finally {
    await server.stop();
  }
  return report;
}
