/**
 * Data messages between fullduplex and `ws`, both arrangements and both ways: sizes around every
 * length-encoding boundary up to 16 MiB (byte for byte, text decoded), 10,000 messages in order,
 * both sides streaming at once, fragmented sends, and our `binaryType`s.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { WebSocket as WsWebSocket } from 'ws';
import type { WebSocket } from '../../src/node/websocket.js';
import { messages, once, type Received } from '../helpers/node.js';
import { DIRECTIONS, SIZES, pattern, utf8Text, withPair, type InteropPair } from './peers.js';
import { scaled } from '../helpers/time.js';

const TIMEOUT = { timeout: scaled(60_000) };

type Side = 'ours' | 'theirs';
const other = (side: Side): Side => (side === 'ours' ? 'theirs' : 'ours');

/** A side's socket, for the few calls whose signatures both libraries share. */
function sender(pair: InteropPair, side: Side): { send(data: string | Buffer, options?: { binary?: boolean; fin?: boolean }): void } {
  return {
    send: (data, options = {}) => {
      if (side === 'ours') pair.ours.send(data, options);
      else pair.theirs.send(data, options);
    },
  };
}

function receiver(pair: InteropPair, side: Side): WebSocket | WsWebSocket {
  return side === 'ours' ? pair.ours : pair.theirs;
}

function label(pair: InteropPair, side: Side): string {
  const role = side === 'ours' ? pair.ourRole : pair.ourRole === 'server' ? 'client' : 'server';
  return `${side === 'ours' ? 'fullduplex' : 'ws'} ${role}`;
}

function seqOf(message: Received<Buffer>): number {
  return message.isBinary ? message.data.readUInt32BE(0) : Number(message.data.toString('utf8').slice(4));
}

/** Message `i` of a sequence: text "seq:i" for even i, 4 bytes big-endian for odd i. */
function sequenced(i: number): { data: string | Buffer; binary: boolean } {
  if (i % 2 === 0) return { data: `seq:${i}`, binary: false };
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(i);
  return { data: bytes, binary: true };
}

function assertInOrder(received: Array<Received<Buffer>>, count: number, who: string): void {
  assert.equal(received.length, count, `${who} received ${received.length} messages`);
  for (let i = 0; i < count; i++) {
    const message = received[i]!;
    assert.equal(message.isBinary, i % 2 === 1, `${who}: message ${i} has the wrong type`);
    assert.equal(seqOf(message), i, `${who}: message ${i} is out of order`);
  }
}

for (const direction of DIRECTIONS) {
  describe(`interop messages: ${direction}`, () => {
    for (const from of ['ours', 'theirs'] as const) {
      const to = other(from);

      it(`binary messages of ${SIZES.join(', ')} bytes, ${from === 'ours' ? 'fullduplex -> ws' : 'ws -> fullduplex'}, byte for byte`, TIMEOUT, () =>
        withPair(direction, {}, async (pair) => {
          for (const size of SIZES) {
            const payload = pattern(size, size + 7);
            const received = messages(receiver(pair, to), 1);
            sender(pair, from).send(payload);
            const [message] = await received;
            assert.equal(message!.isBinary, true, `${size} bytes: isBinary`);
            assert.ok(Buffer.isBuffer(message!.data), `${size} bytes: a Buffer`);
            assert.equal(message!.data.length, size, `${label(pair, to)} got ${message!.data.length} of ${size} bytes`);
            assert.ok(message!.data.equals(payload), `${size} bytes: the bytes differ`);
          }
        }),
      );

      it(`text messages of ${SIZES.join(', ')} UTF-8 bytes (multi-byte characters), ${from === 'ours' ? 'fullduplex -> ws' : 'ws -> fullduplex'}`, TIMEOUT, () =>
        withPair(direction, {}, async (pair) => {
          for (const size of SIZES) {
            const text = utf8Text(size);
            assert.equal(Buffer.byteLength(text), size);
            const received = messages(receiver(pair, to), 1);
            sender(pair, from).send(text);
            const [message] = await received;
            assert.equal(message!.isBinary, false, `${size} bytes: isBinary`);
            assert.equal(message!.data.length, size, `${size} bytes: length`);
            assert.ok(message!.data.toString('utf8') === text, `${size} bytes: the text differs`);
          }
          // Every plane: ASCII, Latin-1, BMP (incl. U+FFFD and U+FEFF), astral, and a lone NUL.
          const mixed = 'plain ASCII, Ünïcödé, 中文, \uFFFD\uFEFF, 𝄞🎉👩‍👩‍👧, \u0000 end';
          const received = messages(receiver(pair, to), 1);
          sender(pair, from).send(mixed);
          const [message] = await received;
          assert.equal(message!.data.toString('utf8'), mixed);
        }),
      );

      it(`10,000 messages arrive in order, ${from === 'ours' ? 'fullduplex -> ws' : 'ws -> fullduplex'}`, TIMEOUT, () =>
        withPair(direction, {}, async (pair) => {
          const count = 10_000;
          const received = messages(receiver(pair, to), count);
          const out = sender(pair, from);
          for (let i = 0; i < count; i++) {
            const { data, binary } = sequenced(i);
            out.send(data, { binary });
          }
          assertInOrder(await received, count, label(pair, to));
        }),
      );

      it(`fragmented messages (send with fin: false), ${from === 'ours' ? 'fullduplex -> ws' : 'ws -> fullduplex'}`, TIMEOUT, () =>
        withPair(direction, {}, async (pair) => {
          const out = sender(pair, from);
          const received = messages(receiver(pair, to), 5);
          // Text in three frames, a multi-byte character inside one of them.
          out.send('Hel', { fin: false });
          out.send('lo ', { fin: false });
          out.send('wörld', { fin: true });
          // Binary in three frames.
          out.send(Buffer.from([1, 2, 3]), { fin: false });
          out.send(Buffer.from([4]), { fin: false });
          out.send(Buffer.from([5, 6]));
          // Text whose UTF-8 characters are split across frames: "A€B😀" as e.g. 41 e2 | 82 | ac 42 f0 9f | 98 80.
          const bytes = Buffer.from('A€B😀', 'utf8');
          out.send(bytes.subarray(0, 2), { binary: false, fin: false });
          out.send(bytes.subarray(2, 3), { binary: false, fin: false });
          out.send(bytes.subarray(3, 7), { binary: false, fin: false });
          out.send(bytes.subarray(7), { binary: false, fin: true });
          // Empty first and last fragments.
          out.send('', { fin: false });
          out.send('abc', { fin: false });
          out.send('', { fin: true });
          // And an ordinary message after them.
          out.send('after');
          const got = await received;
          assert.deepEqual(
            got.map(({ data, isBinary }) => ({ data: isBinary ? [...data] : data.toString('utf8'), isBinary })),
            [
              { data: 'Hello wörld', isBinary: false },
              { data: [1, 2, 3, 4, 5, 6], isBinary: true },
              { data: 'A€B😀', isBinary: false },
              { data: 'abc', isBinary: false },
              { data: 'after', isBinary: false },
            ],
          );
        }),
      );

      it(`a ping between the fragments of a message, ${from === 'ours' ? 'fullduplex -> ws' : 'ws -> fullduplex'}`, TIMEOUT, () =>
        withPair(direction, {}, async (pair) => {
          const events: string[] = [];
          const target = receiver(pair, to);
          const onPing = (data: Buffer): void => void events.push(`ping ${data.toString()}`);
          const onMessage = (data: unknown): void => void events.push(`message ${String(data)}`);
          target.on('ping', onPing);
          target.on('message', onMessage);
          const source = from === 'ours' ? pair.ours : pair.theirs;
          const pong = once<[Buffer]>(source, 'pong');
          const done = once(target, 'message');
          sender(pair, from).send('first ', { fin: false });
          if (from === 'ours') pair.ours.ping('in between');
          else pair.theirs.ping('in between');
          sender(pair, from).send('second');
          await done;
          assert.equal((await pong)[0].toString(), 'in between');
          assert.deepEqual(events, ['ping in between', 'message first second']);
        }),
      );
    }

    it('both sides stream at once: 5,000 messages each way, in order on both sides', TIMEOUT, () =>
      withPair(direction, {}, async (pair) => {
        const count = 5_000;
        const batch = 100;
        const ourInbox = messages(pair.ours, count);
        const theirInbox = messages(pair.theirs, count);
        // Each side sends in batches across turns of the event loop, so both are sending while
        // the other's messages arrive.
        const stream = (side: Side): Promise<void> =>
          new Promise((resolve) => {
            const out = sender(pair, side);
            let next = 0;
            const step = (): void => {
              for (const end = Math.min(count, next + batch); next < end; next++) {
                const { data, binary } = sequenced(next);
                out.send(data, { binary });
              }
              if (next < count) setImmediate(step);
              else resolve();
            };
            step();
          });
        await Promise.all([stream('ours'), stream('theirs')]);
        const [ourReceived, theirReceived] = await Promise.all([ourInbox, theirInbox]);
        assertInOrder(ourReceived, count, label(pair, 'ours'));
        assertInOrder(theirReceived, count, label(pair, 'theirs'));
      }),
    );

    describe('binaryType on our side', () => {
      it("'arraybuffer': binary messages arrive as ArrayBuffers, text as Buffers", TIMEOUT, () =>
        withPair(direction, {}, async (pair) => {
          pair.ours.binaryType = 'arraybuffer';
          assert.equal(pair.ours.binaryType, 'arraybuffer');
          const received = messages<unknown>(pair.ours, 4);
          const bytes = pattern(1000, 3);
          pair.theirs.send(bytes);
          pair.theirs.send(Buffer.alloc(0));
          pair.theirs.send('text stays a Buffer');
          pair.theirs.send(bytes.subarray(0, 10), { fin: false });
          pair.theirs.send(bytes.subarray(10, 20));
          const [first, empty, text, fragmented] = await received;
          assert.ok(first!.data instanceof ArrayBuffer, 'an ArrayBuffer');
          assert.equal(first!.isBinary, true);
          assert.ok(Buffer.from(first!.data).equals(bytes));
          assert.ok(empty!.data instanceof ArrayBuffer);
          assert.equal(empty!.data.byteLength, 0);
          assert.ok(Buffer.isBuffer(text!.data), 'text is a Buffer');
          assert.equal(text!.isBinary, false);
          assert.equal(text!.data.toString(), 'text stays a Buffer');
          assert.ok(fragmented!.data instanceof ArrayBuffer);
          assert.ok(Buffer.from(fragmented!.data).equals(bytes.subarray(0, 20)));
        }),
      );

      it("'fragments': binary messages arrive as arrays of Buffers, text joined", TIMEOUT, () =>
        withPair(direction, {}, async (pair) => {
          pair.ours.binaryType = 'fragments';
          assert.equal(pair.ours.binaryType, 'fragments');
          const received = messages<unknown>(pair.ours, 3);
          const bytes = pattern(3000, 5);
          pair.theirs.send(bytes);
          pair.theirs.send(bytes.subarray(0, 1000), { fin: false });
          pair.theirs.send(bytes.subarray(1000, 2000), { fin: false });
          pair.theirs.send(bytes.subarray(2000));
          pair.theirs.send('té', { fin: false });
          pair.theirs.send('xt');
          const [single, fragmented, text] = await received;
          assert.ok(Array.isArray(single!.data), 'a single frame: an array');
          assert.ok(single!.data.every((piece) => Buffer.isBuffer(piece)));
          assert.ok(Buffer.concat(single!.data).equals(bytes));
          assert.ok(Array.isArray(fragmented!.data), 'three frames: an array');
          assert.ok(fragmented!.data.length >= 1);
          assert.ok(Buffer.concat(fragmented!.data).equals(bytes));
          assert.ok(Buffer.isBuffer(text!.data), 'text is one Buffer');
          assert.equal(text!.data.toString(), 'téxt');
        }),
      );

      it("switching binaryType between messages takes effect for the next one ('nodebuffer', 'blob')", TIMEOUT, () =>
        withPair(direction, {}, async (pair) => {
          const bytes = pattern(100, 9);
          pair.ours.binaryType = 'blob';
          let received = messages<unknown>(pair.ours, 1);
          pair.theirs.send(bytes);
          const [blob] = await received;
          assert.ok(blob!.data instanceof Blob);
          assert.ok(Buffer.from(await blob!.data.arrayBuffer()).equals(bytes));
          pair.ours.binaryType = 'nodebuffer';
          received = messages<unknown>(pair.ours, 1);
          pair.theirs.send(bytes);
          const [buffer] = await received;
          assert.ok(Buffer.isBuffer(buffer!.data) && buffer!.data.equals(bytes));
        }),
      );
    });
  });
}
