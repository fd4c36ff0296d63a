/**
 * RedisHistory (src/node/redis-history.ts) against a real redis-server (test/helpers/redis.ts): the
 * HistoryStore contract (test/node/history-contract.ts), then what only a shared broker has: two servers
 * on one Redis, Pub/Sub losing messages (a killed subscriber connection, a PUBLISH that never came), Redis
 * losing its data, and the cost of a read behind a stream of a million entries. Skips with a one-line
 * notice when redis-server (Debian package redis-server) is not installed.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'redis';
import { RedisHistory, type RedisHistoryOptions } from '../../src/redis.js';
import { APPEND_SCRIPT } from '../../src/node/redis-history-scripts.js';
import type { HistoryStore } from '../../src/node/history.js';
import { RedisServer, redisSkipReason } from '../helpers/redis.js';
import { freePort } from '../helpers/process.js';
import { scaled } from '../helpers/time.js';
import { historyContract, offsetsOf, RecordingSink, sleep, until, type HistoryHarness } from './history-contract.js';

const skip = redisSkipReason();
const BIG = { maxMessages: 100_000 };

let shared: Promise<RedisServer> | null = null;
let prefixCounter = 0;

/** One redis-server for the contract suite and the tests that do not stop or flush it. */
function sharedRedis(): Promise<RedisServer> {
  shared ??= RedisServer.start();
  return shared;
}

after(async () => {
  if (shared !== null) await (await shared).dispose();
});

function makeHarness(url: () => string, options: RedisHistoryOptions = {}): HistoryHarness & { errors: Error[]; prefix: string } {
  const prefix = `t${++prefixCounter}:`;
  const stores: RedisHistory[] = [];
  const errors: Error[] = [];
  return {
    errors,
    prefix,
    ageMs: scaled(500),
    async open(sink) {
      const store = new RedisHistory({ url: url(), prefix, reconnect: { minDelayMs: 50, maxDelayMs: 500 }, onError: (e) => errors.push(e), ...options });
      store.attach(sink);
      stores.push(store);
      await withTimeout(store.ready(), 'the store to connect');
      return store;
    },
    async settled(store: HistoryStore) {
      await withTimeout((store as RedisHistory).ready(), 'the feeds to be live');
    },
    async advance(ms) {
      await sleep(ms + 20);
    },
    async dispose() {
      await Promise.all(stores.map((s) => s.close()));
    },
  };
}

function withTimeout<T>(promise: Promise<T>, what: string, timeoutMs = scaled(10_000)): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A plain connection to poke at Redis behind the store's back. */
type RawClient = ReturnType<typeof createClient>;

async function raw(url: string): Promise<RawClient> {
  const client: RawClient = createClient({ url });
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** Runs `use` with a plain connection to `url` (see raw()), closed after. */
async function withRaw<T>(url: string, use: (admin: RawClient) => Promise<T>): Promise<T> {
  const admin = await raw(url);
  try {
    return await use(admin);
  } finally {
    admin.destroy();
  }
}

historyContract('RedisHistory', skip, async () => {
  const server = await sharedRedis();
  return makeHarness(() => server.url);
});

describe('RedisHistory on a shared Redis', { skip, timeout: scaled(180_000) }, () => {
  let redis: RedisServer;
  const harnesses: Array<ReturnType<typeof makeHarness>> = [];

  before(async () => {
    redis = await sharedRedis();
  });

  after(async () => {
    await Promise.all(harnesses.map((h) => h.dispose()));
  });

  function harness(options: RedisHistoryOptions = {}): ReturnType<typeof makeHarness> {
    const h = makeHarness(() => redis.url, options);
    harnesses.push(h);
    return h;
  }

  /** A store of `h` recording its deliveries in `sink`; with `topic`, subscribed to it, its feed live. */
  async function listening(h: ReturnType<typeof makeHarness>, topic?: string): Promise<{ sink: RecordingSink; store: HistoryStore }> {
    const sink = new RecordingSink();
    const store = await h.open(sink);
    if (topic !== undefined) {
      store.subscribe(topic);
      await h.settled(store);
    }
    return { sink, store };
  }

  it('gives two servers on one Redis the same feed, in one order, with appends from both at once', async () => {
    const h = harness();
    const sinkA = new RecordingSink();
    const sinkB = new RecordingSink();
    const a = await h.open(sinkA);
    const b = await h.open(sinkB);
    a.subscribe('room');
    b.subscribe('room');
    await Promise.all([h.settled(a), h.settled(b)]);
    const each = 100;
    await Promise.all(
      [a, b].map(async (store, s) => {
        for (let i = 0; i < each; i += 10) {
          await Promise.all(Array.from({ length: 10 }, (_, k) => store.append('room', Buffer.from(`${s}:${i + k}`), false, BIG)));
        }
      }),
    );
    await until('both feeds complete', () => sinkA.on('room').length >= 2 * each && sinkB.on('room').length >= 2 * each);
    await sleep(50);
    const order = sinkA.on('room').map((d) => `${d.offset}=${d.text}`);
    assert.deepEqual(sinkA.offsets('room'), Array.from({ length: 2 * each }, (_, i) => i + 1));
    assert.deepEqual(sinkB.on('room').map((d) => `${d.offset}=${d.text}`), order, 'one order on both servers');
    assert.equal(new Set(sinkA.on('room').map((d) => d.epoch)).size, 1);
    assert.deepEqual([...sinkA.resets, ...sinkB.resets], []);
  });

  it('idempotency keys: one record per key across servers on one Redis, expiring after idempotencyTtlMs, and of no use after the history was lost', async () => {
    const ttlMs = scaled(1000);
    const h = harness({ idempotencyTtlMs: ttlMs });
    const a = await h.open(new RecordingSink());
    const b = await h.open(new RecordingSink());
    const bounds = { maxMessages: 100 };
    const first = await a.append('keyed', Buffer.from('x'), false, bounds, 'send-1');
    assert.deepEqual(await b.append('keyed', Buffer.from('x'), false, bounds, 'send-1'), first, 'the other server sees the key');
    await withRaw(redis.url, async (admin) => {
      const keys = await admin.keys(`${h.prefix}hk:*`);
      assert.deepEqual(keys, [`${h.prefix}hk:5:keyed:send-1`]);
      const ttl = Number(await admin.pTTL(keys[0]!));
      assert.ok(ttl > 0 && ttl <= ttlMs, `expires (${ttl} ms left)`);
      await sleep(ttlMs + 100);
      assert.equal((await b.append('keyed', Buffer.from('x'), false, bounds, 'send-1')).offset, 2, 'expired: appended again');
      await admin.del([`${h.prefix}hm:keyed`, `${h.prefix}h:keyed`]); // the topic's history lost, the key's record not
      const again = await a.append('keyed', Buffer.from('x'), false, bounds, 'send-1');
      assert.notEqual(again.epoch, first.epoch);
      assert.equal(again.offset, 1, 'a record of a lost epoch does not hide the append');
    });
  });

  it('starts a feed at the position read after SUBSCRIBE, while another server appends: no gap, no duplicate at the start', async () => {
    const h = harness();
    const { sink, store: listener } = await listening(h);
    const publisher = await h.open(new RecordingSink());
    let appended = 0;
    let stop = false;
    const appends = (async () => {
      while (!stop) {
        await Promise.all(Array.from({ length: 4 }, () => publisher.append('race', Buffer.from('x'), false, BIG)));
        appended += 4;
      }
    })();
    // Subscribe, leave and come back at a few points during the appends; the last start is what is checked.
    let since = 0;
    for (const at of [40, 120, 200]) {
      await until(`${at} appends`, () => appended >= at);
      listener.unsubscribe('race');
      since = sink.delivered.length;
      listener.subscribe('race');
    }
    await until('a delivery after the last subscribe', () => sink.delivered.length > since);
    const more = appended + 40;
    await until(`${more} appends`, () => appended >= more);
    stop = true;
    await appends;
    const { offset: total } = await publisher.position('race');
    await until('the feed to reach the last offset', () => sink.offsets('race').at(-1) === total);
    await sleep(50);
    const got = sink.offsets('race').slice(since);
    assert.ok(got[0]! > 200, `started at ${got[0]}`);
    assert.deepEqual(got, Array.from({ length: total - got[0]! + 1 }, (_, i) => got[0]! + i), 'contiguous up to the last offset');
    assert.deepEqual(sink.resets, []);
  });

  it('trims the stream itself (not only what read shows): exactly maxMessages, and entries past the age bound at the next append', async () => {
    const h = harness();
    const store = await h.open(new RecordingSink());
    await withRaw(redis.url, async (admin) => {
      for (let i = 0; i < 30; i++) await store.append('count', Buffer.from('x'), false, { maxMessages: 7 });
      assert.equal(Number(await admin.sendCommand(['XLEN', `${h.prefix}h:count`])), 7);
      const bounds = { maxMessages: 1000, maxAgeMs: h.ageMs };
      // Appended without the age bound, so that none goes while filling, however slow the machine.
      for (let i = 0; i < 200; i++) await store.append('age', Buffer.from('x'), false, { maxMessages: 1000 });
      await h.advance(h.ageMs);
      await store.append('age', Buffer.from('young'), false, bounds);
      // One append looks at no more than 146 of the oldest entries: 146 of the 200 old ones go now...
      assert.equal(Number(await admin.sendCommand(['XLEN', `${h.prefix}h:age`])), 200 - 146 + 1);
      await store.append('age', Buffer.from('young'), false, bounds);
      // ... and the rest with the next one.
      assert.equal(Number(await admin.sendCommand(['XLEN', `${h.prefix}h:age`])), 2);
    });
  });

  it('fills what Pub/Sub lost while the subscriber connection was cut (CLIENT KILL TYPE pubsub), once each, in order', async () => {
    const h = harness();
    const { sink } = await listening(h, 'cut');
    const publisher = await h.open(new RecordingSink());
    await publisher.append('cut', Buffer.from('before'), false, BIG);
    await until('the first delivery', () => sink.on('cut').length === 1);
    const errorsBefore = h.errors.length;
    await withRaw(redis.url, async (admin) => {
      // node-redis reconnects at once after a cut, so the kill and the 50 appends (the store's own script)
      // run in one MULTI: Redis runs them back to back, before any reconnection can subscribe again.
      const multi = admin.multi().addCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
      for (let i = 0; i < 50; i++) {
        multi.addCommand(['EVAL', APPEND_SCRIPT, '2', `${h.prefix}h:cut`, `${h.prefix}hm:cut`, 'unused', '100000', '0', '0', `m${i}`, `${h.prefix}hc:cut`]);
      }
      const replies = (await multi.exec()) as unknown[];
      assert.ok(Number(replies[0]) >= 1, 'a subscriber connection was killed');
      assert.deepEqual((replies[50] as unknown[])[1], 51);
    });
    await until('the 50 messages', () => sink.on('cut').length >= 51);
    await publisher.append('cut', Buffer.from('after'), false, BIG);
    await until('the message after', () => sink.on('cut').length >= 52);
    await sleep(50);
    assert.ok(h.errors.length > errorsBefore, 'the cut was noticed (an error went to onError)');
    assert.deepEqual(sink.offsets('cut'), Array.from({ length: 52 }, (_, i) => i + 1));
    assert.deepEqual(sink.on('cut').map((d) => d.text), ['before', ...Array.from({ length: 50 }, (_, i) => `m${i}`), 'after']);
    assert.deepEqual(sink.resets, []);
  });

  it('goes on without loss when the subscriber connection is cut while a store appends', async () => {
    const h = harness();
    const { sink } = await listening(h, 'cut2');
    const publisher = await h.open(new RecordingSink());
    await withRaw(redis.url, async (admin) => {
      const appends = (async () => {
        for (let i = 0; i < 200; i++) await publisher.append('cut2', Buffer.from(`m${i}`), false, BIG);
      })();
      for (let k = 0; k < 3; k++) {
        await sleep(5);
        await admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
      }
      await appends;
    });
    await until('the 200 messages', () => sink.on('cut2').length >= 200);
    await sleep(50);
    assert.deepEqual(sink.on('cut2').map((d) => d.text), Array.from({ length: 200 }, (_, i) => `m${i}`));
    assert.deepEqual(sink.offsets('cut2'), Array.from({ length: 200 }, (_, i) => i + 1));
    assert.deepEqual(sink.resets, []);
  });

  it('reads a hole from the stream when a PUBLISH never arrived, and resets (trimmed) when the hole is gone', async () => {
    const h = harness();
    const { sink, store } = await listening(h, 'holes');
    const { epoch } = await store.append('holes', Buffer.from('m1'), false, BIG);
    await until('m1', () => sink.on('holes').length === 1);
    const prefix = h.prefix;
    await withRaw(redis.url, async (admin) => {
      // Two messages stored without their PUBLISH (as if Pub/Sub lost them).
      const sneak = async (text: string): Promise<number> => {
        const offset = Number(await admin.sendCommand(['HINCRBY', `${prefix}hm:holes`, 'offset', '1']));
        await admin.sendCommand(['XADD', `${prefix}h:holes`, `${offset}-0`, 't', String(Date.now()), 'b', '0', 'd', text]);
        return offset;
      };
      assert.equal(await sneak('m2'), 2);
      await sneak('m3');
      await store.append('holes', Buffer.from('m4'), false, BIG);
      await until('m2 to m4', () => sink.on('holes').length === 4);
      assert.deepEqual(sink.on('holes').map((d) => `${d.offset}=${d.text}`), ['1=m1', '2=m2', '3=m3', '4=m4']);

      // Two more without PUBLISH, then trimmed away before the next message arrives.
      await sneak('m5');
      await sneak('m6');
      await admin.sendCommand(['XTRIM', `${prefix}h:holes`, 'MINID', '7-0']);
      await store.append('holes', Buffer.from('m7'), false, BIG);
      await until('m7', () => sink.on('holes').length === 5);
      assert.deepEqual(sink.on('holes').map((d) => `${d.offset}=${d.text}`), ['1=m1', '2=m2', '3=m3', '4=m4', '7=m7']);
      assert.deepEqual(sink.resets, [{ topic: 'holes', position: { epoch, offset: 6 }, reason: 'trimmed' }]);
    });
  });

  it('after FLUSHALL, the next append starts a new epoch: the feed resets (epoch), the old epoch reads as gone', async () => {
    const h = harness();
    const { sink, store } = await listening(h, 'flushed');
    const old = await store.append('flushed', Buffer.from('old'), false, BIG);
    await until('old', () => sink.on('flushed').length === 1);
    await withRaw(redis.url, (admin) => admin.sendCommand(['FLUSHALL']));
    const fresh = await store.append('flushed', Buffer.from('new'), false, BIG);
    assert.notEqual(fresh.epoch, old.epoch);
    assert.equal(fresh.offset, 1);
    await until('new', () => sink.on('flushed').length === 2);
    assert.deepEqual(sink.resets, [{ topic: 'flushed', position: { epoch: fresh.epoch, offset: 0 }, reason: 'epoch' }]);
    assert.deepEqual(sink.on('flushed').map((d) => [d.epoch, d.offset, d.text]), [
      [old.epoch, 1, 'old'],
      [fresh.epoch, 1, 'new'],
    ]);
    assert.deepEqual(await store.read('flushed', old.epoch, 1, 10), { kind: 'gone', epoch: fresh.epoch, top: 1, first: 1, reason: 'epoch' });
  });
});

describe('RedisHistory when Redis restarts without persistence', { skip, timeout: scaled(120_000) }, () => {
  it('resets (epoch) every subscribed feed once the connection is back, before any new append', async () => {
    const redis = await RedisServer.start();
    const h = makeHarness(() => redis.url);
    try {
      const sink = new RecordingSink();
      const store = await h.open(sink);
      store.subscribe('t');
      await h.settled(store);
      const old = await store.append('t', Buffer.from('one'), false, BIG);
      await store.append('t', Buffer.from('two'), false, BIG);
      await until('two deliveries', () => sink.on('t').length === 2);
      await redis.stop();
      await redis.restart();
      await until('the reset', () => sink.resets.length === 1, scaled(20_000));
      const reset = sink.resets[0]!;
      assert.equal(reset.reason, 'epoch');
      assert.equal(reset.position.offset, 0);
      assert.notEqual(reset.position.epoch, old.epoch);
      await withTimeout((store as RedisHistory).ready(), 'the store to be back');
      const next = await store.append('t', Buffer.from('three'), false, BIG);
      assert.deepEqual(next, { epoch: reset.position.epoch, offset: 1 });
      await until('three', () => sink.on('t').length === 3);
      assert.deepEqual(sink.on('t').map((d) => d.text), ['one', 'two', 'three']);
      assert.equal(sink.resets.length, 1);
      assert.deepEqual(await store.read('t', old.epoch, 2, 10), { kind: 'gone', epoch: next.epoch, top: 1, first: 1, reason: 'epoch' });
    } finally {
      await h.dispose();
      await redis.dispose();
    }
  });
});

/** Calls per command from INFO commandstats (e.g. { xrange: 3, evalsha: 1 }). */
async function commandCalls(client: RawClient): Promise<Map<string, number>> {
  const info = String(await client.sendCommand(['INFO', 'commandstats']));
  const calls = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(match[1]!, Number(match[2]));
  return calls;
}

describe('RedisHistory read cost', { skip, timeout: scaled(300_000) }, () => {
  it('reads 10 entries behind a stream of 1,000,000 with a bounded number of Redis commands', async () => {
    const redis = await RedisServer.start();
    const h = makeHarness(() => redis.url);
    const admin = await raw(redis.url);
    try {
      const store = await h.open(new RecordingSink());
      const prefix = h.prefix;
      const total = 1_000_000;
      const { epoch } = await store.position('big');
      // Filled by Redis itself (a Lua loop, 100,000 entries per call), not a million round trips.
      const fill = `local t = redis.call('TIME')[1] * 1000
        for i = tonumber(ARGV[1]), tonumber(ARGV[2]) do
          redis.call('XADD', KEYS[1], string.format('%d-0', i), 't', t, 'b', 0, 'd', 'payload ' .. i)
        end
        redis.call('HSET', KEYS[2], 'offset', ARGV[2])`;
      const started = Date.now();
      for (let from = 1; from <= total; from += 100_000) {
        await admin.sendCommand(['EVAL', fill, '2', `${prefix}h:big`, `${prefix}hm:big`, String(from), String(from + 99_999)]);
      }
      const fillMs = Date.now() - started;
      assert.equal(Number(await admin.sendCommand(['XLEN', `${prefix}h:big`])), total);

      const before = await commandCalls(admin);
      const t0 = process.hrtime.bigint();
      const read = await store.read('big', epoch, total - 10, 1000);
      const micros = Number(process.hrtime.bigint() - t0) / 1000;
      const afterCalls = await commandCalls(admin);
      assert.deepEqual(offsetsOf(read), Array.from({ length: 10 }, (_, i) => total - 9 + i));
      assert.equal(read.kind === 'entries' && read.entries[9]!.payload.toString(), `payload ${total}`);
      const delta: Record<string, number> = {};
      for (const [name, calls] of afterCalls) {
        const d = calls - (before.get(name) ?? 0);
        if (d > 0 && name !== 'info') delta[name] = d;
      }
      // One script call: HMGET of the meta, one XRANGE that starts at the asked offset (a seek in the radix tree).
      assert.deepEqual(delta, { evalsha: 1, hmget: 1, xrange: 1 });
      const memory = String(await admin.sendCommand(['MEMORY', 'USAGE', `${prefix}h:big`]));
      console.log(`# RedisHistory: filled 1,000,000 entries in ${fillMs} ms (${(Number(memory) / 1e6).toFixed(0)} MB); read of the last 10 took ${(micros / 1000).toFixed(2)} ms, commands ${JSON.stringify(delta)}`);

      // And an append on top of it costs what an append costs (count trim at 1,000,000 is one entry).
      // The first one loads the script into Redis (NOSCRIPT, then EVAL); the second is measured.
      assert.deepEqual(await store.append('big', Buffer.from('more'), false, { maxMessages: total }), { epoch, offset: total + 1 });
      const t1 = process.hrtime.bigint();
      const next = await store.append('big', Buffer.from('more'), false, { maxMessages: total });
      const appendMicros = Number(process.hrtime.bigint() - t1) / 1000;
      assert.deepEqual(next, { epoch, offset: total + 2 });
      assert.equal(Number(await admin.sendCommand(['XLEN', `${prefix}h:big`])), total);
      console.log(`# RedisHistory: an append on the 1,000,000-entry stream (trimming one) took ${(appendMicros / 1000).toFixed(2)} ms`);
    } finally {
      admin.destroy();
      await h.dispose();
      await redis.dispose();
    }
  });
});

describe('RedisHistory without Redis', { skip, timeout: scaled(60_000) }, () => {
  it('rejects append, read and position at once while Redis is unreachable, and close() does not wait for it', async () => {
    const port = await freePort(); // nothing listens there
    const errors: Error[] = [];
    const store = new RedisHistory({ url: `redis://127.0.0.1:${port}`, reconnect: { minDelayMs: 50, maxDelayMs: 200 }, onError: (e) => errors.push(e) });
    store.attach(new RecordingSink());
    store.subscribe('t');
    await until('a connection error', () => errors.length > 0);
    await assert.rejects(store.append('t', Buffer.from('x'), false, BIG), /unreachable/);
    await assert.rejects(store.read('t', null, 0, 10), /unreachable/);
    await assert.rejects(store.position('t'), /unreachable/);
    const started = Date.now();
    await withTimeout(store.close(), 'close()');
    assert.ok(Date.now() - started < scaled(3000), 'close() returned promptly');
    await assert.rejects(store.append('t', Buffer.from('x'), false, BIG), /closed/);
    await assert.rejects(store.ready(), /closed/);
  });
});
