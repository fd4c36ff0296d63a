/**
 * Backpressure on a healthy connection: the server sends 64 KiB messages in a loop to a client that
 * reads everything, optionally waiting for `drain` whenever `send` returns false (the usual streaming
 * pattern). Every message must arrive in order; every send callback must run, and only once its
 * message was written (nothing left in `bufferedAmount` at the last one); the server must keep
 * answering (its event loop must not be blocked).
 */
import { LoadConnection } from '../load-connection.js';
import { mib } from '../memory.js';
import { FLOOD_SIZE } from '../payload.js';
import { Report } from '../report.js';
import { startLoadServer, type StreamReport } from '../server-process.js';
import { scaled } from '../../../helpers/time.js';

export interface BackpressureOptions {
  messages: number;
  waitForDrain: boolean;
  deflate: boolean;
  timeoutMs: number;
}

export async function runBackpressure(options: BackpressureOptions): Promise<Report> {
  const { messages, waitForDrain, deflate, timeoutMs } = options;
  const report = new Report(`${messages} messages of 64 KiB (${mib(messages * FLOOD_SIZE)})${waitForDrain ? ", waiting for 'drain' when send returns false" : ''}${deflate ? ', permessage-deflate' : ''}`);
  const server = await startLoadServer({ echo: false, options: { heartbeat: false, ...(deflate && { perMessageDeflate: true }) } }, 1024);
  try {
    report.figure('node', server.handle.ready.node);
    const client = await LoadConnection.open(server.port, 1, { deflate });
    try {
      let streamed: StreamReport | null = null;
      let failure = '';
      try {
        streamed = await server.handle.request('stream', { messages, waitForDrain }, timeoutMs);
      } catch (error) {
        failure = (error as Error).message;
        const alive = await server.handle.request('stats', null, 3000).then(
          () => true,
          () => false,
        );
        if (!alive) failure += '; the server process does not answer anything any more (its event loop is blocked)';
      }
      const deadline = Date.now() + (streamed === null ? 1000 : scaled(10_000));
      while (client.flood.count < messages && !client.tcpClosed && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));

      report.check(`the server sent every message and every send callback ran, within ${timeoutMs} ms`, streamed !== null && streamed.callbacksFailed === 0, streamed === null ? failure : `${streamed.callbacksFailed} callbacks failed`);
      if (streamed !== null) {
        report.check(
          "the last send callback ran only once its message was written (bufferedAmount 0 by then)",
          streamed.bufferedAtLastCallback === 0,
          `bufferedAmount ${streamed.bufferedAtLastCallback.toLocaleString('en-US')} bytes when it ran`,
        );
        report.figure('send returned false / drain events', `${streamed.falses} / ${streamed.drains}`);
        report.figure('time to the last callback', `${streamed.ms.toFixed(0)} ms`);
      }
      report.check('the client received every message, in order', client.flood.ok && client.flood.count === messages, client.flood.problems.join('; ') || `${client.flood.count} of ${messages}`);
      if (deflate) report.figure('received compressed', client.compressedMessages);
    } finally {
      client.destroy();
    }
  } finally {
    await server.stop();
  }
  return report;
}
