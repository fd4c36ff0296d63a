/**
 * A client that stops reading while the server keeps sending: the server's memory stays under
 * `maxBufferedAmount` plus a small constant, then the default slow-consumer policy fails the
 * connection with 1008.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSlowReader, type SlowReaderOptions } from './lib/scenarios/slow-reader.js';
import { scaled } from '../helpers/time.js';

const OPTIONS: SlowReaderOptions = {
  maxBufferedAmount: 4 * 1024 * 1024,
  policy: 'close',
  closeTimeout: 1000,
  // Measured here: array buffers +4.07 MiB, external +4.98 MiB, RSS +4.75 to +6.13 MiB for a 4 MiB limit.
  bufferAllowance: 1024 * 1024,
  rssAllowance: 8 * 1024 * 1024,
  perTick: 4,
};

test('slow reader: server memory stays under maxBufferedAmount + a constant, then 1008', { timeout: scaled(60_000) }, async (t) => {
  const report = await runSlowReader(OPTIONS);
  for (const line of report.lines()) t.diagnostic(line);
  assert.deepEqual(report.failures, []);
});

test("with slowConsumer 'ignore' the same measurement sees the backlog grow past the limit", { timeout: scaled(60_000) }, async (t) => {
  const report = await runSlowReader({ ...OPTIONS, policy: 'ignore' });
  for (const line of report.lines()) t.diagnostic(line);
  assert.deepEqual(report.failures, []);
});
