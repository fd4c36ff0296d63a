import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADDRESS_DEFAULTS, KEY_DEFAULTS, MESSAGE_DEFAULTS, normalizeLimits } from '../../src/node/limits-options.js';
import { WebSocketServer } from '../../src/node/server.js';

test('every group is off unless asked for; `true` turns a group on with its defaults', () => {
  const none = normalizeLimits({});
  assert.equal(none.perAddress, null);
  assert.equal(none.perKey, null);
  assert.equal(none.messages, null);
  assert.equal(none.maxLifetime, null);
  const on = normalizeLimits({ perAddress: true, messages: true });
  assert.deepEqual({ ...on.perAddress }, { ...ADDRESS_DEFAULTS, ipv6Prefix: 64 });
  assert.deepEqual({ ...on.messages }, { ...MESSAGE_DEFAULTS });
  assert.equal(MESSAGE_DEFAULTS.policy, 'pause');
  const key = () => 'k';
  assert.deepEqual({ ...normalizeLimits({ perKey: { key } }).perKey }, { ...KEY_DEFAULTS, key });
  assert.equal(on.maxTrackedClients, 100_000);
  assert.equal(on.retryAfter, 5);
  assert.equal(on.lifetimeJitter, 0.1);
  assert.equal(on.lifetimeCloseCode, 1012);
});

test('a limit given replaces its default; Infinity turns one limit off', () => {
  const limits = normalizeLimits({ perAddress: { maxConnections: Infinity, handshakeBurst: 3 }, maxLifetime: Infinity });
  assert.equal(limits.perAddress!.maxConnections, Infinity);
  assert.equal(limits.perAddress!.handshakeBurst, 3);
  assert.equal(limits.perAddress!.handshakesPerSecond, ADDRESS_DEFAULTS.handshakesPerSecond);
  assert.equal(limits.maxLifetime, null);
});

test('a bad limit is a RangeError (or TypeError) when the server is created', () => {
  const bad: Array<[object, RegExp]> = [
    [{ perAddress: { maxConnections: 0 } }, /limits\.perAddress\.maxConnections must be an integer > 0/],
    [{ perAddress: { maxConnections: 1.5 } }, /maxConnections/],
    [{ perAddress: { handshakesPerSecond: -1 } }, /handshakesPerSecond/],
    [{ perAddress: { ipv6Prefix: 0 } }, /ipv6Prefix must be an integer from 1 to 128/],
    [{ perAddress: 'yes' }, /limits\.perAddress must be an object or a boolean/],
    [{ perKey: {} }, /limits\.perKey\.key must be a function/],
    [{ messages: { policy: 'ban' } }, /policy must be 'pause', 'drop' or 'close'/],
    [{ messages: { bytesPerSecond: Number.NaN } }, /bytesPerSecond/],
    [{ maxLifetime: 0 }, /maxLifetime/],
    [{ lifetimeJitter: 1 }, /lifetimeJitter must be a number from 0 to less than 1/],
    [{ lifetimeCloseCode: 1000 }, /lifetimeCloseCode must be 1012 or 1013/],
    [{ retryAfter: 0.5 }, /retryAfter must be a whole number of seconds/],
    [{ maxTrackedClients: 0 }, /maxTrackedClients/],
  ];
  for (const [limits, message] of bad) {
    assert.throws(() => new WebSocketServer({ noServer: true, limits: limits as never }), message, JSON.stringify(limits));
  }
});
