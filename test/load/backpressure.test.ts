/**
 * Backpressure on a connection whose client reads normally: the server sends 64 KiB messages past
 * `highWaterMark` (1 MiB), waiting for `drain` whenever `send` returns false, as streaming code does.
 * Everything must arrive, the send callbacks must mean "written", and the server must stay responsive.
 *
 * Two of these fail at the time of writing, both with permessage-deflate (see each test):
 *  - the server's event loop spins forever once `send` returned false while messages wait for the
 *    compressor (Transport.checkDrain's zero-byte "drain probe" write completes at once and re-arms
 *    itself through process.nextTick, so zlib's completions never run);
 *  - send callbacks run before their message is compressed and written.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runBackpressure } from './lib/scenarios/backpressure.js';
import { scaled } from '../helpers/time.js';

test("streaming 4 MiB past highWaterMark, waiting for 'drain': everything arrives", { timeout: scaled(60_000) }, async (t) => {
  const report = await runBackpressure({ messages: 64, waitForDrain: true, deflate: false, timeoutMs: scaled(10_000) });
  for (const line of report.lines()) t.diagnostic(line);
  assert.deepEqual(report.failures, []);
});

// Fails: the server process stops answering (100% CPU in process.nextTick: Transport.onDrainProbe ->
// checkDrain -> socket.write(EMPTY, onDrainProbe) -> ...) as soon as `send` has returned false while
// the compression queue holds more than highWaterMark / 2. Every connection of that process hangs.
test("with permessage-deflate: streaming past highWaterMark, waiting for 'drain', does not hang the server", { timeout: scaled(60_000) }, async (t) => {
  const report = await runBackpressure({ messages: 64, waitForDrain: true, deflate: true, timeoutMs: scaled(10_000) });
  for (const line of report.lines()) t.diagnostic(line);
  assert.deepEqual(report.failures, []);
});

// Fails: with permessage-deflate, `send`'s callback is attached to the transport's current flush
// (WebSocket.#sendNow -> Transport.addCallback) while the message still waits in the compression
// queue, so it reports "written" before the message is even compressed. 8 x 64 KiB stays under
// highWaterMark (the hang above does not interfere).
test('with permessage-deflate: send callbacks run only once their message is written', { timeout: scaled(60_000) }, async (t) => {
  const report = await runBackpressure({ messages: 8, waitForDrain: false, deflate: true, timeoutMs: scaled(10_000) });
  for (const line of report.lines()) t.diagnostic(line);
  assert.deepEqual(report.failures, []);
});

test('without compression: send callbacks run only once their message is written', { timeout: scaled(60_000) }, async (t) => {
  const report = await runBackpressure({ messages: 8, waitForDrain: false, deflate: false, timeoutMs: scaled(10_000) });
  for (const line of report.lines()) t.diagnostic(line);
  assert.deepEqual(report.failures, []);
});
