/**
 * `server.close()` whose `shutdownTimeout` expires: the connections that have not finished closing are
 * terminated. With permessage-deflate, thousands of them may each have a message waiting for the
 * compressor at that moment. The server must survive it: its `close` callback runs, every connection
 * is closed, and the process keeps answering.
 */
import { startFleet } from '../fleet-process.js';
import { Report } from '../report.js';
import { startLoadServer, type CloseReport } from '../server-process.js';

export interface ShutdownTimeoutOptions {
  connections: number;
  /** Messages per connection sent in the tick of `server.close()` (they wait for the compressor). */
  closeBurst: number;
  shutdownTimeout: number;
  /** permessage-deflate from this many bytes. */
  threshold: number;
  timeoutMs: number;
}

export async function runShutdownTimeout(options: ShutdownTimeoutOptions): Promise<Report> {
  const { connections: n, timeoutMs } = options;
  const report = new Report(`server.close() with a ${options.shutdownTimeout} ms shutdownTimeout, ${n.toLocaleString('en-US')} clients, permessage-deflate`);
  const fileLimit = n + 512;
  const server = await startLoadServer(
    {
      echo: false,
      push: { count: null, intervalMs: 1000, perTick: 1, autoStart: false, closeBurst: options.closeBurst },
      options: { shutdownTimeout: options.shutdownTimeout, heartbeat: false, perMessageDeflate: { threshold: options.threshold } },
    },
    fileLimit,
  );
  try {
    const fleet = await startFleet(fileLimit);
    try {
      report.figure('node', server.handle.ready.node);
      const opened = await fleet.request('open', { port: server.port, count: n, firstId: 1, concurrency: 200, deflate: true }, timeoutMs);
      report.equal('connections opened', opened.opened, n);
      const clientSide = fleet.request('awaitServerClose', { timeoutMs }, timeoutMs + 10_000).catch(() => null);
      let closed: CloseReport | null = null;
      let failure = '';
      try {
        closed = await server.handle.request('close', null, timeoutMs);
      } catch (error) {
        failure = (error as Error).message;
      }
      await clientSide;
      const stats = await server.handle.request('stats', null, 5000).catch(() => null);
      report.check("server.close()'s callback ran", closed !== null, closed === null ? failure : `after ${closed.ms.toFixed(0)} ms`);
      report.check('the server process is still running and answering', stats !== null, stats === null ? failure : 'yes');
      if (stats !== null) report.equal('every connection closed', [stats.open, stats.closed], [0, n]);
      if (closed !== null) report.figure('close codes seen by the server', JSON.stringify(closed.stats.closeCodes));
    } finally {
      await fleet.stop();
    }
  } finally {
    await server.stop();
  }
  return report;
}
