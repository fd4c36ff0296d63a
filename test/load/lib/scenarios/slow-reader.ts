/**
 * A client that stops reading while the server keeps sending (64 KiB messages as fast as it can,
 * ignoring `send`'s backpressure signal): the server's memory must stay under `maxBufferedAmount`
 * plus a small constant, then the slow-consumer policy must act (by default: fail the connection with
 * 1008). With the policy off ('ignore') the same measurement must see the backlog grow past the
 * limit: that shows the measurement would catch unbounded buffering.
 */
import { LoadConnection } from '../load-connection.js';
import { delta, mib } from '../memory.js';
import { FLOOD_SIZE } from '../payload.js';
import { Report } from '../report.js';
import { startLoadServer } from '../server-process.js';
import { scaled } from '../../../helpers/time.js';

export interface SlowReaderOptions {
  maxBufferedAmount: number;
  policy: 'close' | 'ignore';
  /** How long the server waits for the peer after failing the connection. */
  closeTimeout: number;
  /** Allowed growth of the server's array buffers (after a collection) beyond the limit plus one message. */
  bufferAllowance: number;
  /** Allowed growth of the server's RSS beyond the limit plus one message. */
  rssAllowance: number;
  /** Messages sent per turn of the event loop. */
  perTick: number;
}

export async function runSlowReader(options: SlowReaderOptions): Promise<Report> {
  const { maxBufferedAmount: limit, policy, closeTimeout } = options;
  const report = new Report(`slow reader: maxBufferedAmount ${mib(limit)}, slowConsumer '${policy}'`);
  const server = await startLoadServer(
    { echo: false, options: { maxBufferedAmount: limit, slowConsumer: policy, closeTimeout, heartbeat: false } },
    1024,
  );
  try {
    report.figure('node', server.handle.ready.node);
    const client = await LoadConnection.open(server.port, 1);
    client.pause();
    try {
      const baseline = await server.memory();
      // With the policy off, stop at three times the limit (and terminate).
      const flood = await server.handle.request('flood', { perTick: options.perTick, ...(policy === 'ignore' && { stopAtBuffered: 3 * limit }) }, scaled(60_000));
      client.resume();
      // The server dropped the connection: read what reached this side, until TCP closes.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([client.closed().catch(() => {}), new Promise((resolve) => (timer = setTimeout(resolve, scaled(10_000))))]);
      clearTimeout(timer);
      const bound = limit + FLOOD_SIZE;
      const bufferGrowth = flood.peak.arrayBuffers - baseline.arrayBuffers;
      const externalGrowth = flood.peak.external - baseline.external;
      const rssGrowth = flood.peak.rss - baseline.rss;

      report.figure('sent by the server before the end', `${flood.messages.toLocaleString('en-US')} messages of 64 KiB (${mib(flood.bytes)}) in ${(flood.ms / 1000).toFixed(2)} s`);
      report.figure('bufferedAmount: largest after a send / at the end', `${mib(flood.peakBuffered)} / ${mib(flood.bufferedAtEnd)}`);
      report.figure('server memory growth at its peak (after gc)', `array buffers ${delta(bufferGrowth)}, external ${delta(externalGrowth)}, RSS ${delta(rssGrowth)}, heap ${delta(flood.peak.heapUsed - baseline.heapUsed)} (${flood.samples} samples)`);
      report.figure('server close event', `${flood.close.code} '${flood.close.reason}', wasClean ${flood.close.wasClean}, failed ${flood.close.failed}, ${flood.close.msAfterEnd.toFixed(0)} ms after the end`);
      report.figure('received by the client once it read again', `${client.flood.count.toLocaleString('en-US')} messages, in order: ${client.flood.ok}`);

      if (policy === 'close') {
        report.check('the policy acted (send refused, connection failed)', flood.policyActed, `after ${mib(flood.bytes)}`);
        report.check(`bufferedAmount stayed under the limit + one message (${mib(bound)})`, flood.peakBuffered <= bound && flood.bufferedAtEnd <= bound + 1024, `${mib(flood.peakBuffered)} largest, ${mib(flood.bufferedAtEnd)} at the end`);
        report.check(`array buffers grew less than the limit + one message + ${mib(options.bufferAllowance)}`, bufferGrowth <= bound + options.bufferAllowance, delta(bufferGrowth));
        report.check(`RSS grew less than the limit + one message + ${mib(options.rssAllowance)}`, rssGrowth <= bound + options.rssAllowance, delta(rssGrowth));
        report.equal('server close event: code and reason', [flood.close.code, flood.close.reason], [1008, 'Slow consumer']);
        report.equal('server close: failed by us, not clean', [flood.close.failed, flood.close.wasClean], [true, false]);
        report.check(`the socket closed within closeTimeout (${closeTimeout} ms) + ${scaled(2000)} ms`, flood.close.msAfterEnd <= closeTimeout + scaled(2000), `${flood.close.msAfterEnd.toFixed(0)} ms`);
      } else {
        report.check('the backlog passed three times the limit', !flood.policyActed && flood.bufferedAtEnd >= 3 * limit, mib(flood.bufferedAtEnd));
        report.check('the measurement sees it: array buffers grew by more than twice the limit', bufferGrowth >= 2 * limit, delta(bufferGrowth));
      }
      report.check('what the client received is the start of the stream, in order', client.flood.ok && client.flood.count <= flood.messages, client.flood.problems.join('; ') || `${client.flood.count} messages`);
    } finally {
      client.destroy();
    }
  } finally {
    await server.stop();
  }
  return report;
}
