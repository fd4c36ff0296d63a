/**
 * MemoryHistory (src/node/memory-history.ts): the HistoryStore contract (test/node/history-contract.ts)
 * on a fake clock, and what is particular to the ring (it grows and shrinks with the bound, a read costs
 * what it returns, the sink gets appends synchronously).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryHistory } from '../../src/node/memory-history.js';
import type { HistoryStore } from '../../src/node/history.js';
import { historyContract, offsetsOf, RecordingSink, texts } from './history-contract.js';

historyContract('MemoryHistory', false, async () => {
  let clock = 0;
  const stores: HistoryStore[] = [];
  return {
    ageMs: 1000,
    async open(sink) {
      const store = new MemoryHistory({ now: () => clock });
      store.attach(sink);
      stores.push(store);
      return store;
    },
    async settled() {},
    async advance(ms) {
      clock += ms + 1;
    },
    async dispose() {
      await Promise.all(stores.map((s) => s.close()));
    },
  };
});

describe('MemoryHistory', () => {
  it('remembers idempotency keys for idempotencyTtlMs, at most maxIdempotencyKeys (the oldest go first)', async () => {
    let clock = 0;
    const store = new MemoryHistory({ now: () => clock, idempotencyTtlMs: 1000, maxIdempotencyKeys: 2 });
    store.attach(new RecordingSink());
    const bounds = { maxMessages: 100 };
    const append = async (key: string) => (await store.append('t', Buffer.from(key), false, bounds, key)).offset;
    assert.deepEqual([await append('a'), await append('b'), await append('a')], [1, 2, 1]);
    assert.equal(await append('c'), 3);
    assert.equal(await append('a'), 4, 'a was the oldest of three keys: forgotten, appended again');
    assert.equal(await append('c'), 3);
    clock = 1001;
    assert.equal(await append('c'), 5, 'expired: appended again');
    assert.throws(() => new MemoryHistory({ idempotencyTtlMs: 0 }), /idempotencyTtlMs/);
    assert.throws(() => new MemoryHistory({ maxIdempotencyKeys: 1.5 }), /maxIdempotencyKeys/);
  });

  it('delivers an append to the sink before append resolves', async () => {
    const store = new MemoryHistory();
    const sink = new RecordingSink();
    store.attach(sink);
    store.subscribe('t');
    const pending = store.append('t', Buffer.from('x'), false, { maxMessages: 5 });
    assert.deepEqual(sink.offsets('t'), [1], 'delivered synchronously, within the call');
    assert.equal((await pending).offset, 1);
  });

  it('keeps the newest maxMessages across many wraps of the ring, and follows a bound that grows and shrinks', async () => {
    const store = new MemoryHistory();
    let epoch = '';
    for (let i = 1; i <= 1000; i++) epoch = (await store.append('t', Buffer.from(String(i)), false, { maxMessages: 37 })).epoch;
    assert.deepEqual(offsetsOf(await store.read('t', epoch, 963, 100)), Array.from({ length: 37 }, (_, i) => 964 + i));
    assert.equal((await store.read('t', epoch, 962, 100)).kind, 'gone');
    for (let i = 1001; i <= 1100; i++) await store.append('t', Buffer.from(String(i)), false, { maxMessages: 80 });
    assert.deepEqual(texts(await store.read('t', epoch, 1020, 3)), ['1021', '1022', '1023'], '80 kept once the bound grew');
    assert.equal((await store.read('t', epoch, 1019, 3)).kind, 'gone');
    await store.append('t', Buffer.from('1101'), false, { maxMessages: 2 });
    assert.deepEqual(texts(await store.read('t', epoch, 1099, 10)), ['1100', '1101']);
    assert.equal((await store.read('t', epoch, 1098, 10)).kind, 'gone');
  });

  it('reads 10 entries behind a million in time proportional to 10', async () => {
    const store = new MemoryHistory();
    const payload = Buffer.from('p');
    const bounds = { maxMessages: 1_000_000 };
    let epoch = '';
    for (let i = 0; i < 1_000_000; i++) epoch = (await store.append('big', payload, false, bounds)).epoch;
    const started = process.hrtime.bigint();
    const read = await store.read('big', epoch, 999_990, 1000);
    const micros = Number(process.hrtime.bigint() - started) / 1000;
    assert.deepEqual(offsetsOf(read), Array.from({ length: 10 }, (_, i) => 999_991 + i));
    // Reported, not asserted tightly (a loaded machine): a scan of the ring would take milliseconds.
    console.log(`# MemoryHistory: read of 10 entries behind 1,000,000 took ${micros.toFixed(0)} µs`);
  });

  it('rejects a second attach and a subscribe before attach', () => {
    const store = new MemoryHistory();
    assert.throws(() => store.subscribe('t'), /attach/);
    store.attach(new RecordingSink());
    assert.throws(() => store.attach(new RecordingSink()), /already/);
  });

  it('reports a sink that throws to onError, and the append still resolves', async () => {
    const errors: Error[] = [];
    const store = new MemoryHistory({ onError: (e) => errors.push(e) });
    store.attach({ deliver: () => { throw new Error('boom'); }, reset: () => {} });
    store.subscribe('t');
    assert.equal((await store.append('t', Buffer.from('x'), false, { maxMessages: 5 })).offset, 1);
    assert.deepEqual(errors.map((e) => e.message), ['boom']);
  });
});
