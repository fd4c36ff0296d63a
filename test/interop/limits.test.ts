/**
 * Limits and flow control between fullduplex and `ws`, both arrangements: `maxPayload` on either side
 * fails the connection with 1009 (and the sender sees 1009), our `send` reports backpressure and
 * `drain` follows once the peer reads, and send callbacks and `bufferedAmount` behave as in `ws`.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { WebSocketProtocolError } from '../../src/node/ws-errors.js';
import { delay, messages, once, onceWithin } from '../helpers/node.js';
import { DIRECTIONS, pattern, withPair, type InteropPair } from './peers.js';
import { scaled } from '../helpers/time.js';

const TIMEOUT = { timeout: scaled(60_000) };

/** Send `chunk` until `send` returns false, one send per turn of the event loop (so the socket writes). */
async function fillUntilBackpressure(pair: InteropPair, chunk: Buffer, limit = 100_000): Promise<number> {
  for (let sent = 1; sent <= limit; sent++) {
    if (!pair.ours.send(chunk)) return sent;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`send never reported backpressure after ${limit} messages`);
}

for (const direction of DIRECTIONS) {
  describe(`interop limits: ${direction}`, () => {
    describe('maxPayload', () => {
      it('on our side: a message at the limit passes; one byte over fails the connection with 1009 on both sides', TIMEOUT, () =>
        withPair(direction, { ours: { maxPayload: 1000 } }, async (pair) => {
          const errors: WebSocketProtocolError[] = [];
          pair.ours.on('error', (error) => errors.push(error as WebSocketProtocolError));
          const received = messages(pair.ours, 2);
          pair.theirs.send(pattern(1000));
          pair.theirs.send('é'.repeat(500)); // 1000 bytes of text: the limit counts bytes
          const got = await received;
          assert.deepEqual(got.map(({ data }) => data.length), [1000, 1000]);

          const ourClose = once<[number, Buffer]>(pair.ours, 'close');
          const theirClose = once<[number, Buffer]>(pair.theirs, 'close');
          const late: unknown[] = [];
          pair.ours.on('message', (data) => late.push(data));
          pair.theirs.send('é'.repeat(500) + 'a');
          const [[ourCode], [theirCode]] = await Promise.all([ourClose, theirClose]);
          assert.equal(theirCode, 1009, 'ws (the sender) sees 1009');
          assert.equal(ourCode, 1009);
          assert.equal(errors.length, 1);
          assert.ok(errors[0] instanceof RangeError);
          assert.equal(errors[0]!.code, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
          assert.equal(errors[0]!.fdCode, 'FD_ERR_MESSAGE_TOO_BIG');
          assert.equal(errors[0]!.closeCode, 1009);
          assert.equal(pair.ours.closeResult?.failed, true);
          assert.equal(pair.ours.closeResult?.wasClean, false);
          assert.deepEqual(late, []);
        }),
      );

      it('on our side: the limit applies to the whole of a fragmented message', TIMEOUT, () =>
        withPair(direction, { ours: { maxPayload: 1000 } }, async (pair) => {
          pair.ours.on('error', () => {});
          const ourClose = once<[number, Buffer]>(pair.ours, 'close');
          const theirClose = once<[number, Buffer]>(pair.theirs, 'close');
          pair.theirs.send(pattern(600), { fin: false });
          pair.theirs.send(pattern(600), { fin: true });
          const [[ourCode], [theirCode]] = await Promise.all([ourClose, theirClose]);
          assert.equal(ourCode, 1009);
          assert.equal(theirCode, 1009);
        }),
      );

      it('on the ws side: our message one byte over its maxPayload makes ws fail with 1009, and we see 1009', TIMEOUT, () =>
        withPair(direction, { theirs: { maxPayload: 1000 } }, async (pair) => {
          const errors: Array<Error & { code?: string }> = [];
          pair.theirs.on('error', (error) => errors.push(error));
          const received = messages(pair.theirs, 1);
          pair.ours.send(pattern(1000));
          assert.equal((await received)[0]!.data.length, 1000);

          const ourClose = once<[number, Buffer]>(pair.ours, 'close');
          const theirClose = once(pair.theirs, 'close');
          pair.ours.send(pattern(1001));
          const [[ourCode]] = await Promise.all([ourClose, theirClose]);
          assert.equal(ourCode, 1009, 'we (the sender) see 1009');
          assert.equal(errors.length, 1);
          assert.equal(errors[0]!.code, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
          assert.equal(pair.ours.closeResult?.failed, false);
        }),
      );
    });

    describe('backpressure', () => {
      for (const { highWaterMark, chunkSize, title } of [
        { highWaterMark: 256 * 1024, chunkSize: 64 * 1024, title: 'highWaterMark 256 KiB' },
        // Below the socket's own high-water mark (16 KiB on our server's sockets): the socket then
        // emits no 'drain' of its own, and ours used to never come (fixed in transport.ts).
        { highWaterMark: 1024, chunkSize: 2048, title: "highWaterMark 1 KiB, below the socket's own" },
      ]) {
        it(`${title}: send returns false while the peer does not read, and drain follows once it reads`, TIMEOUT, () =>
          withPair(direction, { ours: { highWaterMark } }, async (pair) => {
            const chunk = pattern(chunkSize, 21);
            const received: Buffer[] = [];
            pair.theirs.on('message', (data: Buffer) => received.push(data));
            pair.theirs.pause();
            // Fill the socket and the kernel's buffers: send until `send` says stop and no `drain`
            // follows, as the peer reads nothing.
            let sent = 0;
            for (;;) {
              sent += await fillUntilBackpressure(pair, chunk);
              assert.ok(pair.ours.bufferedAmount > highWaterMark, `bufferedAmount ${pair.ours.bufferedAmount}`);
              if ((await onceWithin(pair.ours, 'drain', 100)) === undefined) break;
            }
            let drained = 0;
            pair.ours.on('drain', () => drained++);
            await delay(20);
            assert.equal(drained, 0, 'no drain while the peer reads nothing');

            const drain = once(pair.ours, 'drain');
            pair.theirs.resume();
            await drain;
            assert.ok(pair.ours.bufferedAmount <= highWaterMark / 2, `bufferedAmount ${pair.ours.bufferedAmount} at drain`);
            assert.equal(pair.ours.send('after drain'), true);
            await messages(pair.theirs, sent + 1 - received.length);
            assert.equal(received.length, sent + 1);
            assert.ok(received[sent]!.toString() === 'after drain', 'the message sent after drain comes last');
            assert.ok(received.slice(0, sent).every((data) => data.equals(chunk)), 'every chunk intact');
            assert.equal(pair.ours.bufferedAmount, 0);
          }),
        );
      }
    });

    describe('send callbacks and bufferedAmount', () => {
      it('the callback is called once, without an error, once the data is written; bufferedAmount is then 0', TIMEOUT, () =>
        withPair(direction, {}, async (pair) => {
          const calls: Array<{ error: unknown; buffered: number }> = [];
          const received = messages(pair.theirs, 1);
          const written = new Promise<void>((resolve) =>
            pair.ours.send('hello', (error) => {
              calls.push({ error, buffered: pair.ours.bufferedAmount });
              resolve();
            }),
          );
          assert.equal(calls.length, 0, 'not called synchronously');
          await written;
          assert.equal((await received)[0]!.data.toString(), 'hello');
          // A round trip, so that a second call would have happened.
          const ponged = once(pair.ours, 'pong');
          pair.ours.ping();
          await ponged;
          assert.equal(calls.length, 1);
          assert.equal(calls[0]!.error ?? null, null);
          assert.equal(calls[0]!.buffered, 0);
        }),
      );

      it('a 16 MiB message: bufferedAmount counts it until it is written, then returns to 0', TIMEOUT, () =>
        withPair(direction, {}, async (pair) => {
          const big = pattern(16 * 1024 * 1024, 33);
          let calls = 0;
          const received = messages(pair.theirs, 1);
          const written = new Promise<unknown>((resolve) =>
            pair.ours.send(big, (error) => {
              calls++;
              resolve(error);
            }),
          );
          assert.ok(pair.ours.bufferedAmount >= big.length, `bufferedAmount ${pair.ours.bufferedAmount}`);
          assert.equal((await written) ?? null, null);
          assert.equal(pair.ours.bufferedAmount, 0);
          const [message] = await received;
          assert.ok(message!.data.equals(big));
          assert.equal(calls, 1);
        }),
      );

      it('callbacks of several sends run in order, each once; ping callbacks too', TIMEOUT, () =>
        withPair(direction, {}, async (pair) => {
          const order: string[] = [];
          const done = messages(pair.theirs, 4);
          pair.ours.send('a', () => order.push('a'));
          pair.ours.send(Buffer.from('b'), () => order.push('b'));
          pair.ours.ping('p', undefined, () => order.push('ping'));
          pair.ours.send('c', () => order.push('c'));
          await new Promise((resolve) => setImmediate(resolve));
          pair.ours.send('d', () => order.push('d'));
          await done;
          const ponged = once(pair.ours, 'pong');
          pair.ours.ping();
          await ponged;
          assert.deepEqual(order, ['a', 'b', 'ping', 'c', 'd']);
        }),
      );

      it('a send after close() calls back with an error and counts in bufferedAmount (as in ws)', TIMEOUT, () =>
        withPair(direction, {}, async (pair) => {
          const results: unknown[] = [];
          const before = new Promise<void>((resolve) =>
            pair.ours.send('before', (error) => {
              results.push(error ?? null);
              resolve();
            }),
          );
          const received = messages(pair.theirs, 1);
          pair.ours.close(1000);
          const bufferedAtClose = pair.ours.bufferedAmount;
          const after = new Promise<unknown>((resolve) => assert.equal(pair.ours.send('late', resolve), false));
          assert.equal(pair.ours.bufferedAmount, bufferedAtClose + 4);
          const error = await after;
          assert.ok(error instanceof Error, 'the late send calls back with an error');
          await before;
          assert.deepEqual(results, [null], 'the send before close() was written');
          assert.equal((await received)[0]!.data.toString(), 'before');
          await once(pair.ours, 'close');
        }),
      );
    });
  });
}
