import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RECONNECT_QUEUE_DEFAULTS, reconnectQueueBound } from '../../src/protocol/reconnect-queue.js';

describe('reconnect queue option (shared by the Node client and ReconnectingWebSocket)', () => {
  it('defaults to 1,000 messages and 1 MiB when absent, and fills in a missing bound', () => {
    assert.deepEqual(RECONNECT_QUEUE_DEFAULTS, { maxMessages: 1_000, maxBytes: 1_048_576 });
    assert.deepEqual(reconnectQueueBound(undefined), { maxMessages: 1_000, maxBytes: 1_048_576 });
    assert.deepEqual(reconnectQueueBound({}), { maxMessages: 1_000, maxBytes: 1_048_576 });
    assert.deepEqual(reconnectQueueBound({ maxMessages: 5 }), { maxMessages: 5, maxBytes: 1_048_576 });
    assert.deepEqual(reconnectQueueBound({ maxBytes: 0 }), { maxMessages: 1_000, maxBytes: 0 });
    assert.deepEqual(reconnectQueueBound({ maxMessages: Infinity, maxBytes: Infinity }), { maxMessages: Infinity, maxBytes: Infinity });
  });

  it('false means refuse (null)', () => {
    assert.equal(reconnectQueueBound(false), null);
  });

  it('rejects a bad queue or bound with an error naming the field', () => {
    const table: [unknown, typeof TypeError | typeof RangeError, RegExp][] = [
      [true, TypeError, /reconnect\.queue option must be \{ maxMessages, maxBytes \} or false; got true/],
      ['refuse', TypeError, /reconnect\.queue option .* got refuse/],
      [null, TypeError, /reconnect\.queue option/],
      [{ maxMessages: -1 }, RangeError, /reconnect\.queue\.maxMessages .* got -1/],
      [{ maxMessages: 1.5 }, RangeError, /reconnect\.queue\.maxMessages .* got 1\.5/],
      [{ maxBytes: Number.NaN }, RangeError, /reconnect\.queue\.maxBytes .* got NaN/],
      [{ maxBytes: '10' }, RangeError, /reconnect\.queue\.maxBytes .* got 10/],
    ];
    for (const [queue, type, message] of table) {
      assert.throws(() => reconnectQueueBound(queue), (error: Error) => error instanceof type && message.test(error.message), `queue ${String(queue)}`);
    }
  });
});
