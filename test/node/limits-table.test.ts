import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientTable, type ClientEntry, type TableRefusal } from '../../src/node/limits-table.js';

const LIMITS = { maxConnections: 2, handshakesPerSecond: 1, handshakeBurst: 3 };

function isEntry(result: ClientEntry | TableRefusal): result is ClientEntry {
  return 'connections' in result;
}

test('a key gets maxConnections slots, then 503 with the configured Retry-After; a release frees one', () => {
  const table = new ClientTable({ ...LIMITS, handshakesPerSecond: Infinity }, 100, 7);
  const first = table.admit('a', 0);
  const second = table.admit('a', 0);
  assert.ok(isEntry(first) && isEntry(second));
  assert.deepEqual(table.admit('a', 0), { code: 'FD_ERR_CLIENT_CONNECTIONS', status: 503, retryAfter: 7, message: 'Too many connections from this client' });
  assert.ok(isEntry(table.admit('b', 0)), 'another key has its own slots');
  first.release();
  assert.ok(isEntry(table.admit('a', 0)));
});

test('a key gets handshakeBurst handshakes at once, then 429 with the seconds until the next token', () => {
  const table = new ClientTable({ maxConnections: Infinity, handshakesPerSecond: 0.25, handshakeBurst: 3 }, 100, 5);
  for (let i = 0; i < 3; i++) assert.ok(isEntry(table.admit('a', 0)));
  const refused = table.admit('a', 0);
  assert.deepEqual(refused, { code: 'FD_ERR_CLIENT_HANDSHAKE_RATE', status: 429, retryAfter: 4, message: 'Too many handshakes from this client' });
  assert.equal((table.admit('a', 3000) as TableRefusal).retryAfter, 1, 'rounded up, at least 1');
  assert.ok(isEntry(table.admit('a', 4000)));
});

test('the table stays bounded under a flood of keys: idle keys are forgotten, busy ones kept', () => {
  const table = new ClientTable(LIMITS, 100, 5);
  const busy: ClientEntry[] = [];
  for (let i = 0; i < 20; i++) busy.push(table.admit(`busy-${i}`, 0) as ClientEntry);
  for (let i = 0; i < 10_000; i++) {
    const entry = table.admit(`flood-${i}`, i);
    assert.ok(isEntry(entry));
    entry.release(); // the handshake failed or the connection closed at once
    assert.ok(table.size <= 100 + 20 + 1, `size ${table.size} after ${i + 1} keys`);
  }
  for (const entry of busy) assert.equal(table.peek(entry.key), entry, `${entry.key} is kept while it has a connection`);
  assert.equal(busy[0]!.connections, 1);
});

test('keys that hold nothing (no connection, a full bucket) go first, before the bound is reached', () => {
  const table = new ClientTable(LIMITS, 1000, 5);
  for (let i = 0; i < 100; i++) (table.admit(`k${i}`, 0) as ClientEntry).release();
  // 100 s later every bucket is full again: each new key sweeps up to four old ones.
  for (let i = 0; i < 10; i++) (table.admit(`late-${i}`, 100_000) as ClientEntry).release();
  assert.equal(table.size, 100 - 10 * 4 + 10);
  for (let i = 10; i < 30; i++) (table.admit(`late-${i}`, 100_000) as ClientEntry).release();
  assert.equal(table.size, 30, 'only the new keys (their buckets are not full yet)');
  assert.equal(table.peek('k99'), undefined);
});

test('a key seen again moves to the end: the least recently seen idle keys are forgotten first', () => {
  const table = new ClientTable(LIMITS, 4, 5);
  for (const key of ['a', 'b', 'c', 'd']) (table.admit(key, 0) as ClientEntry).release();
  (table.admit('a', 0) as ClientEntry).release(); // a is recent now
  table.admit('e', 0);
  assert.equal(table.peek('a')?.key, 'a');
  assert.equal(table.peek('e')?.key, 'e');
  assert.ok(table.size <= 4);
});
