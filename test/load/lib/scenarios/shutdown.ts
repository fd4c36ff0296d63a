/**
 * Graceful shutdown under load: clients receive a steady stream from the server; in the middle of it
 * the server sends a burst more to every client and, in the same tick, calls `server.close()`. Every
 * message the server accepted before `close()` must arrive, in order and exactly once (compared with
 * the server's own record per connection: last sequence number and CRC-32), then a close frame with
 * 1001; a send after `close()` must be refused and never arrive.
 */
import { startFleet } from '../fleet-process.js';
import { mib } from '../memory.js';
import { Report, listed } from '../report.js';
import { startLoadServer } from '../server-process.js';

export interface ShutdownOptions {
  connections: number;
  /** Pushed stream: messages per connection every `intervalMs`. */
  intervalMs: number;
  perTick: number;
  /** Close once every client has received at least this many. */
  minReceived: number;
  /** Messages per connection sent in the same tick as `server.close()`. */
  closeBurst: number;
  /** The server's `shutdownTimeout` (after it, clients that did not answer are dropped). */
  shutdownTimeout: number;
  concurrency: number;
  timeoutMs: number;
  /** Negotiate permessage-deflate (no context takeover); the server compresses messages from `threshold` bytes. */
  deflate?: { threshold: number };
}

export async function runShutdown(options: ShutdownOptions): Promise<Report> {
  const { connections: n, timeoutMs } = options;
  const compression = options.deflate === undefined ? '' : `, permessage-deflate from ${options.deflate.threshold} bytes`;
  const report = new Report(`graceful shutdown with ${n.toLocaleString('en-US')} clients mid-stream${compression}`);
  const fileLimit = n + 512;
  const server = await startLoadServer(
    {
      echo: false,
      push: { count: null, intervalMs: options.intervalMs, perTick: options.perTick, autoStart: false, closeBurst: options.closeBurst },
      options: { shutdownTimeout: options.shutdownTimeout, ...(options.deflate !== undefined && { perMessageDeflate: { threshold: options.deflate.threshold } }) },
    },
    fileLimit,
  );
  try {
    const fleet = await startFleet(fileLimit);
    try {
      report.figure('node', server.handle.ready.node);
      const opened = await fleet.request('open', { port: server.port, count: n, firstId: 1, concurrency: options.concurrency, deflate: options.deflate !== undefined }, timeoutMs);
      report.equal('connections opened', opened.opened, n);
      await server.handle.request('startPush', null);
      const deadline = Date.now() + timeoutMs;
      let progress = await fleet.request('progress', null);
      while (progress.minPushes < options.minReceived && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        progress = await fleet.request('progress', null);
      }
      report.check(`every client had received at least ${options.minReceived} messages before close()`, progress.minPushes >= options.minReceived, `fewest: ${progress.minPushes}`);

      const clientSide = fleet.request('awaitServerClose', { timeoutMs }, timeoutMs + 10_000);
      const serverSide = await server.handle.request('close', null, timeoutMs);
      const { connections: received, ms: clientMs } = await clientSide;

      // Compare what each client received with what the server had accepted for it.
      const byId = new Map(received.map((summary) => [summary.id, summary]));
      let delivered = 0;
      let mismatched = 0;
      let not1001 = 0;
      const problems: string[] = [];
      const note = (text: string): void => void (problems.length < 10 && problems.push(text));
      for (const accepted of serverSide.accepted) {
        const client = byId.get(accepted.id);
        if (client === undefined) {
          mismatched++;
          note(`connection ${accepted.id}: no client`);
          continue;
        }
        delivered += client.push.count;
        const { push } = client;
        if (push.count !== accepted.lastSeq || push.lastSeq !== accepted.lastSeq || push.crc !== accepted.crc || client.problemCount > 0) {
          mismatched++;
          note(`connection ${accepted.id}: server accepted 1..${accepted.lastSeq} (crc ${accepted.crc.toString(16)}), client received ${push.count} (last ${push.lastSeq}, crc ${push.crc.toString(16)})${client.problems.length > 0 ? `; ${client.problems.join('; ')}` : ''}`);
        }
        if (client.closeCode !== 1001 || !client.tcpClosed) {
          not1001++;
          note(`connection ${accepted.id}: close ${client.closeCode}, TCP closed ${client.tcpClosed}`);
        }
      }
      const accepted = serverSide.accepted.reduce((sum, a) => sum + a.lastSeq, 0);
      const { stats } = serverSide;
      report.equal('connections open at close()', serverSide.accepted.length, n);
      report.check('every message accepted before close() arrived, exactly once, in order, same checksum', mismatched === 0, listed(problems, mismatched));
      report.check('then every client got a close frame with 1001 and TCP closed', not1001 === 0, `${n - not1001} of ${n}`);
      report.equal('sends after close() refused (callback with an error), none accepted', [serverSide.refusedAfterClose, serverSide.acceptedAfterClose], [n, 0]);
      report.equal('server side: every connection closed cleanly with 1001', [stats.clean, stats.closeCodes], [n, { 1001: n }]);
      report.equal('server side: every send callback succeeded', [stats.sendCallbacksOk, stats.sendCallbacksFailed], [stats.pushed, 0]);
      report.check('server side: problems', stats.problemCount === 0, listed(stats.problems, stats.problemCount));

      report.figure('clients', n);
      if (options.deflate !== undefined) report.figure('received compressed', received.reduce((sum, c) => sum + c.compressed, 0));
      report.figure('messages accepted before close() and delivered', `${accepted.toLocaleString('en-US')} / ${delivered.toLocaleString('en-US')}`);
      report.figure('sent in the tick of close()', `${(n * options.closeBurst).toLocaleString('en-US')} messages; ${mib(serverSide.bufferedAtClose)} accepted and not yet written when close() was called`);
      report.figure('server.close() to its callback', `${(serverSide.ms / 1000).toFixed(2)} s (shutdownTimeout ${options.shutdownTimeout} ms)`);
      report.figure('clients: from close() request to all closed', `${(clientMs / 1000).toFixed(2)} s`);
    } finally {
      await fleet.stop();
    }
  } finally {
    await server.stop();
  }
  return report;
}
