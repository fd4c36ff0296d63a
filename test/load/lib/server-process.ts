/**
 * The load tests' server process (test/load/fixtures/server.ts): its configuration, the commands it
 * answers, and the handle the tests and the soak script use to drive it.
 */
import type { PerMessageDeflateConfig } from '../../../src/node/index.js';
import type { Memory } from './memory.js';
import { startChild, type ChildHandle } from './processes.js';
import { scaled } from '../../helpers/time.js';

export interface ServerConfig {
  /** Options for the `WebSocketServer` (besides port and host). */
  options?: {
    maxBufferedAmount?: number;
    slowConsumer?: 'close' | 'drop' | 'ignore';
    closeTimeout?: number;
    shutdownTimeout?: number;
    highWaterMark?: number;
    heartbeat?: false | { interval: number; timeout: number };
    perMessageDeflate?: boolean | PerMessageDeflateConfig;
  };
  /** Echo every message back (each connection's incoming stream is checked either way). Default true. */
  echo?: boolean;
  /** Push sequence-numbered messages to every connection at a steady pace. */
  push?: PushConfig;
  /** For checking the checks: keep about this many bytes of heap per connection, forever (a leak). */
  leak?: number;
}

export interface PushConfig {
  /** Messages per connection; null: until the connection closes. */
  count: number | null;
  intervalMs: number;
  /** Messages per connection per interval (fewer while `send` reports backpressure). */
  perTick: number;
  /** Start as each connection opens; otherwise on the `startPush` command. */
  autoStart: boolean;
  /** On `close`: send this many more per connection, in the same tick as `server.close()`. */
  closeBurst?: number;
}

export interface ServerStats {
  /** Connections open now. */
  open: number;
  opened: number;
  closed: number;
  /** Closes with both close frames exchanged. */
  clean: number;
  /** Connections the server failed (protocol error, slow consumer...). */
  failed: number;
  /** How many connections closed with each code. */
  closeCodes: Record<string, number>;
  /** Messages received from clients (all checked), and their bytes. */
  received: number;
  receivedBytes: number;
  echoed: number;
  pushed: number;
  /** Send callbacks (push messages) that reported success, and failure. */
  sendCallbacksOk: number;
  sendCallbacksFailed: number;
  /** Client close frames whose tally (count and CRC of what it sent) matched what arrived. */
  talliesMatched: number;
  problems: string[];
  problemCount: number;
  /** The largest heap in use seen so far (sampled every 100 ms, without collecting). */
  peakHeapUsed: number;
}

/** What the server had accepted for sending on one connection when `close` was called. */
export interface Accepted {
  id: number;
  lastSeq: number;
  crc: number;
}

export interface CloseReport {
  accepted: Accepted[];
  /** The sum of `bufferedAmount` over the connections when `server.close()` was called: accepted, not yet written. */
  bufferedAtClose: number;
  /** One more send per connection right after `server.close()`: refused ones (the callback got an error). */
  refusedAfterClose: number;
  /** Sends after `close()` that were accepted (should be none). */
  acceptedAfterClose: number;
  /** From `server.close()` to its callback. */
  ms: number;
  stats: ServerStats;
}

export interface FloodReport {
  /** Messages accepted by `send` and their bytes. */
  messages: number;
  bytes: number;
  ms: number;
  /** The largest `bufferedAmount` seen after an accepted send. */
  peakBuffered: number;
  /** `bufferedAmount` when the policy acted (or the flood stopped). */
  bufferedAtEnd: number;
  /** Memory (after a collection) when the policy acted or the flood stopped. */
  atEnd: Memory;
  /** The largest of each figure over the samples taken (each after a collection) during the flood. */
  peak: Memory;
  samples: number;
  /** True if `send` stopped accepting (the slow-consumer policy); false if the flood stopped at `stopAtBuffered`. */
  policyActed: boolean;
  close: { code: number; reason: string; wasClean: boolean; failed: boolean; msAfterEnd: number };
}

export interface StreamReport {
  messages: number;
  /** How many times `send` returned false (backpressure), and `drain` events waited for. */
  falses: number;
  drains: number;
  callbacksFailed: number;
  /** `bufferedAmount` when the last message's send callback ran: 0 if it ran once that message was written. */
  bufferedAtLastCallback: number;
  /** From the first send to the last send callback. */
  ms: number;
}

export type ServerCommands = {
  memory: { body: null; reply: Memory };
  stats: { body: null; reply: ServerStats };
  startPush: { body: null; reply: null };
  /** Graceful shutdown (at the next push tick, after the close burst); answers once the server emitted `close`. */
  close: { body: null; reply: CloseReport };
  /** Send 64 KiB messages to the one open connection as fast as possible, ignoring backpressure. */
  flood: { body: { perTick: number; stopAtBuffered?: number }; reply: FloodReport };
  /**
   * Send `messages` 64 KiB messages to the one open connection in a loop; with `waitForDrain`, stop
   * whenever `send` returns false and go on at `drain` (the usual streaming pattern). Answers once
   * every send callback ran.
   */
  stream: { body: { messages: number; waitForDrain: boolean }; reply: StreamReport };
};

export interface ServerReady {
  port: number;
  fileLimit: number | null;
  node: string;
}

export interface LoadServer {
  readonly port: number;
  readonly handle: ChildHandle<ServerCommands, ServerReady>;
  memory(): Promise<Memory>;
  stats(): Promise<ServerStats>;
  /** Wait until no connection is open and `closed` connections have closed in all. */
  waitClosed(closed: number, timeoutMs?: number): Promise<ServerStats>;
  stop(): Promise<void>;
}

export async function startLoadServer(config: ServerConfig, fileLimit: number): Promise<LoadServer> {
  const handle = await startChild<ServerCommands, ServerReady>('server', 'test/load/fixtures/server.ts', config, fileLimit);
  const { port } = handle.ready;
  if (handle.ready.fileLimit !== null && handle.ready.fileLimit < fileLimit) {
    await handle.stop();
    throw new Error(`the server process could not raise its open-file limit to ${fileLimit} (got ${handle.ready.fileLimit}; see ulimit -Hn)`);
  }
  return {
    port,
    handle,
    memory: () => handle.request('memory', null),
    stats: () => handle.request('stats', null),
    async waitClosed(closed: number, timeoutMs = scaled(30_000)): Promise<ServerStats> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const stats = await handle.request('stats', null);
        if (stats.open === 0 && stats.closed >= closed) return stats;
        if (Date.now() > deadline) throw new Error(`server: ${stats.open} connections still open, ${stats.closed} of ${closed} closed after ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    stop: () => handle.stop(),
  };
}
