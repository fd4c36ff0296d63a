/**
 * Control frames between fullduplex and `ws`, both arrangements and both ways: pings and pongs with
 * payloads (automatic pongs, the `ping`/`pong` events, `autoPong: false`), and the closing handshake
 * (codes, UTF-8 reasons, 1005 for a close without a code, `wasClean`, the server closing TCP first).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import type { CloseEvent } from 'ws';
import { messages, once } from '../helpers/node.js';
import { DIRECTIONS, withPair, type InteropPair } from './peers.js';
import { scaled } from '../helpers/time.js';

const TIMEOUT = { timeout: scaled(30_000) };

type Side = 'ours' | 'theirs';

function ping(pair: InteropPair, side: Side, data?: Buffer | string): void {
  if (side === 'ours') pair.ours.ping(data);
  else pair.theirs.ping(data);
}

function pong(pair: InteropPair, side: Side, data?: Buffer | string): void {
  if (side === 'ours') pair.ours.pong(data);
  else pair.theirs.pong(data);
}

function socketOf(pair: InteropPair, side: Side): InteropPair['ours'] | InteropPair['theirs'] {
  return side === 'ours' ? pair.ours : pair.theirs;
}

const name = (side: Side): string => (side === 'ours' ? 'fullduplex' : 'ws');

/**
 * Record, for one end of a TCP connection, whether it had already sent its FIN (called `end()`) when
 * the peer's FIN arrived. Listeners are prepended so that no reaction to the FIN runs first.
 */
function finOrder(socket: Socket): { endedFirst: boolean | undefined } {
  const record: { endedFirst: boolean | undefined } = { endedFirst: undefined };
  socket.prependOnceListener('end', () => {
    record.endedFirst = socket.writableEnded;
  });
  return record;
}

for (const direction of DIRECTIONS) {
  describe(`interop control frames: ${direction}`, () => {
    for (const from of ['ours', 'theirs'] as const) {
      const to: Side = from === 'ours' ? 'theirs' : 'ours';
      const arrow = `${name(from)} -> ${name(to)}`;

      it(`ping with a payload is answered by an automatic pong with the same payload, ${arrow}`, TIMEOUT, () =>
        withPair(direction, {}, async (pair) => {
          const payloads = [Buffer.from('hello'), Buffer.alloc(0), Buffer.from(pattern125()), Buffer.from('ünï 😀')];
          for (const payload of payloads) {
            const pinged = once<[Buffer]>(socketOf(pair, to), 'ping');
            const ponged = once<[Buffer]>(socketOf(pair, from), 'pong');
            ping(pair, from, payload);
            const [[seen], [answer]] = await Promise.all([pinged, ponged]);
            assert.ok(seen.equals(payload), `${name(to)} saw ping ${seen.toString('hex')}`);
            assert.ok(answer.equals(payload), `${name(from)} got pong ${answer.toString('hex')}`);
          }
        }),
      );

      it(`an unsolicited pong is reported as a 'pong' event, ${arrow}`, TIMEOUT, () =>
        withPair(direction, {}, async (pair) => {
          const events: string[] = [];
          socketOf(pair, to).on('ping', () => events.push('ping'));
          socketOf(pair, to).on('pong', (data: Buffer) => events.push(`pong ${data.toString()}`));
          const ponged = once(socketOf(pair, to), 'pong');
          pong(pair, from, 'heartbeat');
          await ponged;
          // A round trip after it, so that a stray event would have arrived.
          const received = messages(socketOf(pair, to), 1);
          if (from === 'ours') pair.ours.send('done');
          else pair.theirs.send('done');
          await received;
          assert.deepEqual(events, ['pong heartbeat']);
        }),
      );
    }

    it('autoPong: false on our side: the ping event fires and only our own pong is sent', TIMEOUT, () =>
      withPair(direction, { ours: { autoPong: false } }, async (pair) => {
        const pongs: string[] = [];
        pair.theirs.on('pong', (data) => pongs.push(data.toString()));
        const pinged = once<[Buffer]>(pair.ours, 'ping');
        pair.theirs.ping('are you there');
        const [data] = await pinged;
        assert.equal(data.toString(), 'are you there');
        const ponged = once(pair.theirs, 'pong');
        pair.ours.pong('manual');
        await ponged;
        // An automatic pong would have been written before the 'ping' event, hence before ours.
        assert.deepEqual(pongs, ['manual']);
      }),
    );

    it('autoPong: false on the ws side: our pong event gets only its own pong', TIMEOUT, () =>
      withPair(direction, { theirs: { autoPong: false } }, async (pair) => {
        const pongs: string[] = [];
        pair.ours.on('pong', (data) => pongs.push(data.toString()));
        const pinged = once<[Buffer]>(pair.theirs, 'ping');
        pair.ours.ping('are you there');
        await pinged;
        const ponged = once(pair.ours, 'pong');
        pair.theirs.pong('manual');
        await ponged;
        assert.deepEqual(pongs, ['manual']);
      }),
    );

    it('a ping over 125 bytes is refused on our side (RangeError) and nothing is sent', TIMEOUT, () =>
      withPair(direction, {}, async (pair) => {
        assert.throws(() => pair.ours.ping(Buffer.alloc(126)), RangeError);
        assert.throws(() => pair.ours.pong(Buffer.alloc(126)), RangeError);
        // The connection is still fine.
        const ponged = once<[Buffer]>(pair.ours, 'pong');
        pair.ours.ping(Buffer.alloc(125, 1));
        assert.equal((await ponged)[0].length, 125);
      }),
    );

    const cases: Array<{ code?: number; reason?: string; title: string }> = [
      { code: 1000, title: '1000 without a reason' },
      { code: 1000, reason: 'bye', title: '1000 "bye"' },
      { code: 1001, reason: 'going away', title: '1001 "going away"' },
      { code: 4000, reason: 'ünïcødé ✓ 中文 😀', title: '4000 with a UTF-8 reason' },
      { title: 'no code (the other side sees 1005)' },
    ];
    for (const initiator of ['ours', 'theirs'] as const) {
      const receiving: Side = initiator === 'ours' ? 'theirs' : 'ours';
      for (const { code, reason, title } of cases) {
        it(`close ${title}, started by ${name(initiator)}: both close events, wasClean, the server closes TCP first`, TIMEOUT, () =>
          withPair(direction, {}, async (pair) => {
            const serverFin = finOrder(pair.serverTcp);
            const clientFin = finOrder(pair.clientTcp);
            const ourClose = once<[number, Buffer]>(pair.ours, 'close');
            const theirClose = once<[number, Buffer]>(pair.theirs, 'close');
            let theirEvent: CloseEvent | undefined;
            pair.theirs.addEventListener('close', (event) => {
              theirEvent = event;
            });
            // A message sent just before closing still arrives, before the close.
            const order: string[] = [];
            socketOf(pair, receiving).on('message', (data: unknown) => order.push(`message ${String(data)}`));
            socketOf(pair, receiving).on('close', () => order.push('close'));
            if (initiator === 'ours') {
              pair.ours.send('last words');
              pair.ours.close(code, reason);
              assert.equal(pair.ours.readyState, pair.ours.CLOSING);
            } else {
              pair.theirs.send('last words');
              pair.theirs.close(code, reason);
            }
            const [[ourCode, ourReason], [theirCode, theirReason]] = await Promise.all([ourClose, theirClose]);
            const expected = { code: code ?? 1005, reason: code === undefined ? '' : (reason ?? '') };
            const seen = initiator === 'ours' ? { code: theirCode, reason: theirReason } : { code: ourCode, reason: ourReason };
            const echoed = initiator === 'ours' ? { code: ourCode, reason: ourReason } : { code: theirCode, reason: theirReason };
            assert.deepEqual({ code: seen.code, reason: seen.reason.toString('utf8') }, expected, `${name(receiving)}'s close event`);
            // The answer echoes the code (RFC 6455 §5.5.1); echoing the reason is optional (ws does, we do not).
            assert.equal(echoed.code, expected.code, `${name(initiator)}'s close event`);
            assert.ok(['', expected.reason].includes(echoed.reason.toString('utf8')), `echoed reason ${echoed.reason.toString()}`);
            assert.deepEqual(order, ['message last words', 'close']);

            assert.equal(pair.ours.readyState, pair.ours.CLOSED);
            assert.equal(pair.theirs.readyState, pair.theirs.CLOSED);
            assert.deepEqual(pair.ours.closeResult && { ...pair.ours.closeResult, reason: pair.ours.closeResult.reason.toString() }, {
              code: ourCode,
              reason: ourReason.toString(),
              wasClean: true,
              failed: false,
            });
            assert.equal(theirEvent?.wasClean, true, 'ws: wasClean');
            assert.equal(theirEvent?.code, theirCode);

            // The server sent its FIN before the client's arrived (RFC 6455 §7.1.1)...
            await Promise.all([tcpClosed(pair.serverTcp), tcpClosed(pair.clientTcp)]);
            assert.equal(serverFin.endedFirst, true, 'the server had closed TCP when the client FIN arrived');
            // ...and our client waits for it (ws's client may close right after the close frames: RFC 6455 allows it).
            if (pair.ourRole === 'client') assert.equal(clientFin.endedFirst, false, 'our client closed TCP before the server');
          }),
        );
      }
    }

    it('close codes that may not be sent, and reasons over 123 bytes, throw on our side', TIMEOUT, () =>
      withPair(direction, {}, async (pair) => {
        for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 1000.5]) {
          assert.throws(() => pair.ours.close(code), TypeError, `code ${code}`);
        }
        assert.throws(() => pair.ours.close(1000, 'x'.repeat(124)), RangeError);
        assert.throws(() => pair.ours.close(1000, '😀'.repeat(31)), RangeError); // 124 bytes
        assert.equal(pair.ours.readyState, pair.ours.OPEN);
        const theirClose = once<[number, Buffer]>(pair.theirs, 'close');
        pair.ours.close(3000, 'x'.repeat(123));
        const [code, reason] = await theirClose;
        assert.equal(code, 3000);
        assert.equal(reason.length, 123);
      }),
    );

    if (direction === 'fullduplex server <-> ws client') {
      it("our WebSocketServer.close() sends 1001 to the ws client and ends once it has closed", TIMEOUT, () =>
        withPair(direction, {}, async (pair) => {
          const theirClose = once<[number, Buffer]>(pair.theirs, 'close');
          const serverClosed = once(pair.ourServer!, 'close');
          pair.ourServer!.close();
          const [code, reason] = await theirClose;
          assert.equal(code, 1001);
          assert.equal(reason.toString(), 'Server shutting down');
          await serverClosed;
          assert.equal(pair.ours.closeResult?.wasClean, true);
        }),
      );
    }

    it('terminate() on one side: the other sees 1006 and wasClean false', TIMEOUT, () =>
      withPair(direction, {}, async (pair) => {
        const ourClose = once<[number, Buffer]>(pair.ours, 'close');
        pair.theirs.terminate();
        const [code] = await ourClose;
        assert.equal(code, 1006);
        assert.equal(pair.ours.closeResult?.wasClean, false);
      }),
    );
  });
}

async function tcpClosed(socket: Socket): Promise<void> {
  if (!socket.closed) await once(socket, 'close');
}

function pattern125(): number[] {
  return Array.from({ length: 125 }, (_, i) => (i * 7 + 3) & 0xff);
}
