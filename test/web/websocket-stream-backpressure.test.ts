/**
 * Backpressure of `WebSocketStream` (src/web/websocket-stream.ts), measured, not timed:
 * - reading: a peer in another process offers 100 MiB to a client that reads a little, slowly, then
 *   stops reading. The client's memory stays bounded, the peer sees its sends stall (its send callbacks
 *   stop, its bufferedAmount stays up), and once reading resumes every byte arrives, in order;
 * - writing: writes to a server that does not read resolve only as the socket drains.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket as NodeWebSocket } from '../../src/node/index.js';
import { WebSocketStream } from '../../src/web/index.js';
import { scaled } from '../helpers/time.js';
import { within } from '../helpers/node.js';

const MiB = 1024 * 1024;
const TOTAL = 100 * MiB;
const MESSAGE = 64 * 1024;
const FLOOD = fileURLToPath(new URL('./fixtures/websocket-stream-flood.mjs', import.meta.url));

interface FloodStats {
  acked: number;
  queued: number;
  bufferedAmount: number;
}

function ask(child: ChildProcess): Promise<FloodStats> {
  const reply = once(child, 'message') as Promise<[FloodStats]>;
  child.send('stats');
  return within(reply, 'the flooding peer to report').then(([stats]) => stats);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Memory of this process after a full collection (the tests run with --expose-gc). */
function memory(): { rss: number; arrayBuffers: number } {
  (globalThis as { gc?: () => void }).gc?.();
  const { rss, arrayBuffers } = process.memoryUsage();
  return { rss, arrayBuffers };
}

/** Poll `read` until two readings `interval` apart are equal (the quantity stopped moving), or the deadline. */
async function settled(read: () => Promise<number>, interval: number, deadline: number): Promise<number> {
  let previous = await read();
  for (;;) {
    await sleep(interval);
    const current = await read();
    if (current === previous || Date.now() > deadline) return current;
    previous = current;
  }
}

describe('WebSocketStream backpressure', () => {
  it('a consumer that stops reading stops the socket: bounded memory, the sender stalls, then every byte arrives in order', async () => {
    const child = fork(FLOOD, [String(TOTAL)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    try {
      const [{ port }] = (await within(once(child, 'message'), 'the flooding peer to listen')) as [{ port: number }];
      const baseline = memory();
      const stream = new WebSocketStream(`ws://127.0.0.1:${port}/`);
      const { readable } = await stream.opened;
      const reader = readable.getReader();
      let expected = 0;
      let bytes = 0;
      const readOne = async (): Promise<void> => {
        const { value, done } = await reader.read();
        assert.equal(done, false);
        assert.ok(value instanceof Uint8Array);
        assert.equal(value.byteLength, MESSAGE);
        const seq = new DataView(value.buffer, value.byteOffset, 4).getUint32(0);
        assert.equal(seq, expected, 'messages arrive in order');
        assert.equal(value[MESSAGE - 1], expected & 0xff, 'message bodies are intact');
        expected++;
        bytes += value.byteLength;
      };

      // A slow consumer: 40 messages, a few ms each; then it stops reading.
      for (let i = 0; i < 40; i++) {
        await readOne();
        await sleep(3);
      }
      // Wait until the sender's progress stops (the TCP window and the kernel buffers are full).
      const acked = await settled(async () => (await ask(child)).acked, scaled(300), Date.now() + scaled(20_000));
      const stalled = await ask(child);
      const during = memory();
      const rssGrowth = during.rss - baseline.rss;
      const arrayBuffersGrowth = during.arrayBuffers - baseline.arrayBuffers;
      console.log(
        `paused reader: sender wrote ${(acked / MiB).toFixed(1)} MiB of ${TOTAL / MiB} MiB, its bufferedAmount ${(stalled.bufferedAmount / MiB).toFixed(1)} MiB; ` +
          `client growth: rss ${(rssGrowth / MiB).toFixed(1)} MiB, arrayBuffers ${(arrayBuffersGrowth / MiB).toFixed(1)} MiB`,
      );
      assert.ok(acked < TOTAL / 2, `the sender stalls well before 100 MiB (it wrote ${acked} bytes)`);
      assert.ok(stalled.bufferedAmount > 0, 'the sender holds what the connection does not take');
      assert.ok(arrayBuffersGrowth < 32 * MiB, `client arrayBuffers grew by ${arrayBuffersGrowth} bytes`);
      assert.ok(rssGrowth < 48 * MiB, `client rss grew by ${rssGrowth} bytes`);

      // Read on: everything arrives, in order.
      while (bytes < TOTAL) await within(readOne(), 'the next message');
      assert.equal(bytes, TOTAL);
      stream.close();
      await within(stream.closed, 'the close');
    } finally {
      child.send('exit');
      if (child.exitCode === null) await within(once(child, 'exit'), 'the flooding peer to exit').catch(() => child.kill());
    }
  });

  it('writes to a server that does not read resolve only as the socket drains', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', heartbeat: false, perMessageDeflate: false, maxPayload: 0 });
    await once(wss, 'listening');
    const accepted = once(wss, 'connection') as Promise<[NodeWebSocket]>;
    const stream = new WebSocketStream(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`, {}, { perMessageDeflate: false });
    const [server] = await within(accepted, 'the connection');
    server.pause();
    const received: number[] = [];
    server.on('message', (data) => received.push((data as Buffer).readUInt32BE(0)));
    try {
      const { writable } = await stream.opened;
      const writer = writable.getWriter();
      const COUNT = 1024; // 64 MiB offered
      let resolved = 0;
      const writes: Array<Promise<void>> = [];
      for (let i = 0; i < COUNT; i++) {
        const message = new Uint8Array(MESSAGE);
        new DataView(message.buffer).setUint32(0, i);
        writes.push(writer.write(message).then(() => void resolved++));
      }
      const stuck = await settled(async () => resolved, scaled(300), Date.now() + scaled(20_000));
      console.log(`paused server: ${stuck} of ${COUNT} writes resolved (${((stuck * MESSAGE) / MiB).toFixed(1)} MiB)`);
      assert.ok(stuck < COUNT / 2, `writes stop resolving while the server does not read (${stuck} resolved)`);
      assert.ok(writer.desiredSize !== null && writer.desiredSize <= 0, 'the writer reports backpressure');
      assert.equal(received.length, 0);

      server.resume();
      await within(Promise.all(writes), 'every write to resolve');
      assert.equal(resolved, COUNT);
      while (received.length < COUNT) await sleep(20);
      assert.deepEqual(received, Array.from({ length: COUNT }, (_, i) => i));
      stream.close();
      await within(stream.closed, 'the close');
    } finally {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    }
  });
});
