/**
 * examples/async-iterator: a `for await` transform server (upper-cases text) and a WebSocketStream
 * client, each a real process. The test runs the example client for 10,000 messages and checks what it
 * prints, then drives the server itself with a WebSocketStream that writes 10,000 large messages
 * without reading: the writes must stall (backpressure reaches the writer through the server's loop),
 * and once it reads, every reply must arrive, in order.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { WebSocketStream } from '../../src/web/index.js';
import { delay, within } from '../helpers/node.js';
import { scaled } from '../helpers/time.js';
import { ROOT, startExample, type RunningExample } from './example-process.js';

const folder = join(ROOT, 'examples/async-iterator');

/** Run a program of the example to its end: its exit code, stdout and stderr. */
function runToEnd(file: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(folder, file), ...args], { cwd: folder, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function withServer(test: (server: RunningExample, url: string) => Promise<void>): Promise<void> {
  const server = await startExample('examples/async-iterator', { env: { PORT: '0' } });
  try {
    await test(server, server.urls[0] as string);
  } catch (error) {
    await server.kill();
    throw error;
  }
  await server.stop();
}

describe('examples/async-iterator', { timeout: scaled(120_000) }, () => {
  it('the example client gets all 10,000 replies, upper-cased and in order', async () => {
    await withServer(async (_server, url) => {
      const client = await within(runToEnd('client.mjs', [url, '10000']), 'the client to finish', scaled(60_000));
      assert.deepEqual(client, {
        code: 0,
        stdout: 'MESSAGE 1\nMESSAGE 2\nMESSAGE 3\nMESSAGE 10000\n10000 replies, in order; closed with 1000\n',
        stderr: '',
      });
    });
  });

  it('backpressure: a writer whose replies are not read is held back, and then every reply arrives in order', async () => {
    await withServer(async (_server, url) => {
      const COUNT = 10_000;
      // 80 MB each way: more than all four socket buffers on the way can hold (tcp_wmem and tcp_rmem maxima 4 + 32 MB here)
      const padding = 'x'.repeat(8192);
      const stream = new WebSocketStream(url, {}, { readableHighWaterMark: 0 });
      const { readable, writable } = await within(stream.opened, 'the connection');
      const writer = writable.getWriter();

      let written = 0;
      const writes: Promise<void>[] = [];
      for (let i = 1; i <= COUNT; i++) writes.push(writer.write(`message ${i} ${padding}`).then(() => void (written += 1)));
      const allWritten = Promise.all(writes);
      allWritten.catch(() => {}); // awaited below; a failure must not be reported as unhandled meanwhile

      // Nobody reads yet: the server's loop waits on its sends, stops reading, and our writes wait.
      await delay(1000);
      assert.ok(written < COUNT, `${written} of ${COUNT} writes done without reading: no backpressure`);

      const expected = (i: number): string => `MESSAGE ${i} ${padding.toUpperCase()}`;
      let received = 0;
      for await (const reply of readable) {
        received += 1;
        if (reply !== expected(received)) assert.fail(`reply ${received} is ${String(reply).slice(0, 40)}...`);
        if (received === COUNT) stream.close({ closeCode: 1000 });
      }
      assert.equal(received, COUNT);
      await within(allWritten, 'every write');
      assert.equal(written, COUNT);
      assert.equal((await within(stream.closed, 'the close')).closeCode, 1000);
    });
  });
});
