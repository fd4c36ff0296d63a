/**
 * Topics with history on RedisHistory (a real redis-server, test/helpers/redis.ts): resuming after missed
 * messages, on the same server and on another one on the same Redis; the seam under concurrent
 * publishing from two servers; a FLUSHALL (the history lost) told as a reset; sends re-sent to another
 * server applied once (dedupe in Redis). Skips with a notice naming the Debian package without redis-server.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'redis';
import { WebSocketServer } from '../../src/node/index.js';
import { RedisHistory } from '../../src/redis.js';
import type { Position } from '../../src/node/history.js';
import { startServer, stopServer } from '../helpers/net.js';
import { RedisServer, redisSkipReason } from '../helpers/redis.js';
import { offsets, range, ResumeTestClient, until } from '../helpers/resume-client.js';
import { scaled } from '../helpers/time.js';

const skip = redisSkipReason();
let redis: RedisServer;
let prefixes = 0;

before(async () => {
  if (skip === false) redis = await RedisServer.start();
});
after(async () => {
  if (skip === false) await redis.dispose();
});

/** `count` servers on one Redis (one RedisHistory each, one prefix for the test). */
async function servers(count: number, bounds = { maxMessages: 100_000 }, resume: { sendLeaseMs?: number } = {}) {
  const prefix = `srv${++prefixes}:`;
  const started: Array<{ wss: WebSocketServer; url: string; store: RedisHistory }> = [];
  for (let i = 0; i < count; i++) {
    const store = new RedisHistory({ url: redis.url, prefix });
    const { wss, url } = await startServer({ heartbeat: false, history: { store, topics: (topic) => (topic.startsWith('h:') ? bounds : null) }, resume: { authorize: () => true, ...resume } });
    started.push({ wss, url, store });
  }
  await until(() => started.every((server) => server.store.connected), 'connected to Redis');
  return { list: started, stop: () => Promise.all(started.map((server) => stopServer(server.wss))) };
}

function publish(wss: WebSocketServer, topic: string, data: string): Promise<Position> {
  return new Promise((resolve, reject) => wss.publish(topic, data, {}, (error, position) => (error ? reject(error) : resolve(position!))));
}

async function publishMany(wss: WebSocketServer, topic: string, from: number, to: number): Promise<Position[]> {
  const all: Array<Promise<Position>> = [];
  for (let i = from; i <= to; i++) all.push(publish(wss, topic, `m${i}`));
  return Promise.all(all);
}

describe('history topics on Redis', { skip }, () => {
  it('resumes after missed messages on the same server and on another server', async () => {
    const { list, stop } = await servers(2);
    const [a, b] = list as [(typeof list)[0], (typeof list)[0]];
    try {
      const client = await ResumeTestClient.connect(a.url, { subscribe: { 'h:room': {} } });
      await until(() => client.eventsOf('subscribed').length === 1, 'subscribed');
      await a.store.ready();
      await publishMany(b.wss, 'h:room', 1, 5); // published on the other server
      await until(() => client.of('h:room').length === 5, 'live from the other server');
      await client.drop();
      await publishMany(a.wss, 'h:room', 6, 9);
      await client.open(a.url);
      await until(() => client.of('h:room').length === 9, 'replay on the same server');
      await client.drop(1006);
      await publishMany(a.wss, 'h:room', 10, 20);
      await client.open(b.url); // resumes on the other server
      await until(() => client.of('h:room').length === 20, 'replay on the other server');
      await publishMany(a.wss, 'h:room', 21, 22);
      await until(() => client.of('h:room').length === 22, 'live on the other server');
      assert.deepEqual(offsets(client.of('h:room')), range(1, 22));
      assert.deepEqual(client.wire, range(1, 22));
      assert.deepEqual(client.errors, []);
      await client.drop();
    } finally {
      await stop();
    }
  });

  it('the seam: 10 clients resuming on two servers while 2,000 publishes run from both get each offset once, in order', { timeout: scaled(120_000) }, async () => {
    const { list, stop } = await servers(2);
    try {
      const first = await publishMany(list[0]!.wss, 'h:seam', 1, 1000);
      const epoch = first[0]!.epoch;
      const total = 3000;
      let published = 1000;
      const publishing = (async () => {
        while (published < total) {
          const batch: Array<Promise<Position>> = [];
          for (let j = 0; j < 20 && published < total; j++) batch.push(publish(list[published % 2]!.wss, 'h:seam', `m${++published}`));
          await Promise.all(batch);
        }
      })();
      const froms = Array.from({ length: 10 }, (_, c) => c * 100);
      const clients = await Promise.all(
        froms.map(async (from, c) => {
          await new Promise((resolve) => setTimeout(resolve, c * 15));
          return ResumeTestClient.connect(list[c % 2]!.url, { subscribe: { 'h:seam': { from: { epoch, offset: from } } } });
        }),
      );
      const publishedWhenSubscribed = published;
      await publishing;
      await until(() => clients.every((client, c) => client.of('h:seam').length === total - froms[c]!), 'every client complete', 60_000);
      assert.ok(publishedWhenSubscribed < total, 'the clients subscribed while publishes ran');
      clients.forEach((client, c) => {
        assert.deepEqual(client.errors, [], `client ${c}`);
        assert.deepEqual(offsets(client.of('h:seam')), range(froms[c]! + 1, total), `client ${c}`);
        assert.deepEqual(client.wire, range(froms[c]! + 1, total), `client ${c}: no duplicate on the wire`);
      });
      await Promise.all(clients.map((client) => client.drop()));
    } finally {
      await stop();
    }
  });

  it('tells live subscribers with a reset when Redis lost the history (FLUSHALL), then goes on in the new epoch', async () => {
    const { list, stop } = await servers(1);
    const server = list[0]!;
    const admin = createClient({ url: redis.url });
    await admin.connect();
    try {
      const client = await ResumeTestClient.connect(server.url, { subscribe: { 'h:flush': {} } });
      await until(() => client.eventsOf('subscribed').length === 1, 'subscribed');
      await server.store.ready();
      const before = await publishMany(server.wss, 'h:flush', 1, 3);
      await until(() => client.of('h:flush').length === 3, 'three');
      await admin.flushAll();
      const afterFlush = await publish(server.wss, 'h:flush', 'new history');
      assert.notEqual(afterFlush.epoch, before[0]!.epoch);
      assert.equal(afterFlush.offset, 1);
      await until(() => client.of('h:flush').length === 4, 'the message of the new epoch');
      const gaps = client.eventsOf('gap');
      assert.deepEqual(gaps, [{ type: 'gap', topic: 'h:flush', reason: 'epoch', position: { epoch: afterFlush.epoch, offset: 0 } }]);
      assert.deepEqual(client.of('h:flush').at(-1), { topic: 'h:flush', offset: 1, epoch: afterFlush.epoch, data: 'new history', replayed: false });
      // A client coming back with a position of the lost epoch is told too.
      const late = await ResumeTestClient.connect(server.url, { subscribe: { 'h:flush': { from: { epoch: before[0]!.epoch, offset: 2 } } } });
      await until(() => late.eventsOf('gap').length === 1, 'the epoch gap');
      assert.equal((late.eventsOf('gap')[0] as { reason: string }).reason, 'epoch');
      assert.deepEqual([...client.errors, ...late.errors], []);
      await Promise.all([client.drop(), late.drop()]);
    } finally {
      await admin.close();
      await stop();
    }
  });

  it('a send whose server died before its handler settled is applied by the server it is re-sent to (at least once, never lost)', async () => {
    const { list, stop } = await servers(2, undefined, { sendLeaseMs: 300 });
    const applied: Array<[number, string, string]> = [];
    list.forEach((server, index) =>
      server.wss.on('connection', (ws) =>
        ws.on('message', (data, _isBinary, send) => {
          applied.push([index, String(data), send!.idempotencyKey]);
          // "second" never finishes on server 0 (as if it died there before the effect): no commit, no ack.
          return index === 0 && String(data) === 'second' ? new Promise<void>(() => {}) : undefined;
        }),
      ),
    );
    try {
      const client = await ResumeTestClient.connect(list[0]!.url);
      const session = client.state.session;
      client.send('first');
      await until(() => client.state.unackedCount === 0, 'acked');
      client.send('second');
      await until(() => applied.length === 2, 'applied on server 0');
      await client.drop(1006);
      assert.equal(client.state.unackedCount, 1);
      await client.open(list[1]!.url); // re-sent to server 1: it waits for server 0's lease, then applies it
      client.send('third');
      await until(() => client.state.unackedCount === 0, 'acked by server 1');
      assert.deepEqual(applied, [
        [0, 'first', `${session}:1`],
        [0, 'second', `${session}:2`],
        [1, 'second', `${session}:2`],
        [1, 'third', `${session}:3`],
      ]);
      await client.drop();
    } finally {
      await stop();
    }
  });

  it('a send re-sent while its first server still applies it waits for that (the lease) and is not applied again', async () => {
    const { list, stop } = await servers(2, undefined, { sendLeaseMs: scaled(60_000) });
    const applied: Array<[number, string]> = [];
    let finishSecond: (() => void) | null = null;
    list.forEach((server, index) =>
      server.wss.on('connection', (ws) =>
        ws.on('message', (data) => {
          applied.push([index, String(data)]);
          return index === 0 && String(data) === 'second' ? new Promise<void>((resolve) => (finishSecond = resolve)) : undefined;
        }),
      ),
    );
    try {
      const client = await ResumeTestClient.connect(list[0]!.url);
      client.send('first');
      client.send('second');
      await until(() => applied.length === 2 && finishSecond !== null, 'applied on server 0');
      await client.drop(1006);
      await client.open(list[1]!.url); // re-sent while server 0 still runs it
      client.send('third');
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.deepEqual(applied, [[0, 'first'], [0, 'second']], 'server 1 waits: the lease is server 0\'s');
      finishSecond!(); // server 0 settles and commits: server 1 acks it without applying it
      await until(() => client.state.unackedCount === 0, 'acked by server 1');
      assert.deepEqual(applied, [[0, 'first'], [0, 'second'], [1, 'third']]);
      await client.drop();
    } finally {
      await stop();
    }
  });

  for (const crash of ['before the append', 'after the append, before the ack'] as const) {
    it(`a send turned into socket.publish with its idempotency key is published exactly once when its server dies ${crash}`, async () => {
      const { list, stop } = await servers(2, undefined, { sendLeaseMs: 300 });
      list.forEach((server, index) =>
        server.wss.on('connection', (ws) =>
          ws.on('message', (data, _isBinary, send) => {
            const dies = index === 0 && String(data) === 'second';
            if (dies && crash === 'before the append') return new Promise<void>(() => {});
            return new Promise<void>((resolve, reject) =>
              ws.publish('h:chat', String(data), { idempotencyKey: send!.idempotencyKey }, (error) => {
                if (error !== null) reject(error);
                else if (!dies) resolve(); // dies: stored, then never settles (no commit, no ack)
              }),
            );
          }),
        ),
      );
      try {
        const reader = await ResumeTestClient.connect(list[1]!.url, { subscribe: { 'h:chat': { from: 'start' } } });
        await until(() => reader.eventsOf('subscribed').length === 1, 'subscribed');
        const client = await ResumeTestClient.connect(list[0]!.url);
        client.send('first');
        client.send('second');
        await until(() => client.state.unackedCount === 1, 'first acked');
        if (crash === 'after the append, before the ack') await until(() => reader.received.length === 2, 'second stored');
        await client.drop(1006);
        await client.open(list[1]!.url);
        client.send('third');
        await until(() => client.state.unackedCount === 0, 'all acked by server 1');
        await until(() => reader.received.length === 3, 'three messages');
        await new Promise((resolve) => setTimeout(resolve, 200)); // a duplicate would show up now
        assert.deepEqual(
          reader.received.map((message) => [message.offset, String(message.data)]),
          [
            [1, 'first'],
            [2, 'second'],
            [3, 'third'],
          ],
        );
        assert.deepEqual(reader.errors, []);
        await Promise.all([client.drop(), reader.drop()]);
      } finally {
        await stop();
      }
    });
  }

  it('claimSend/commitSend: claim-after-apply with a lease, atomically, expiring', async () => {
    const store = new RedisHistory({ url: redis.url, prefix: `claim${++prefixes}:` });
    store.attach({ deliver() {}, reset() {} });
    try {
      await until(() => store.connected, 'connected');
      const claim = (session: string, seq: number, owner: string, leaseMs = 60_000, ttlMs = 60_000) => store.claimSend(session, seq, owner, leaseMs, ttlMs);
      assert.deepEqual(await Promise.all([claim('s', 1, 'A'), claim('s', 1, 'B')]), ['new', 'running'], 'one owner at a time');
      assert.equal(await claim('s', 1, 'A'), 'new', 'the owner itself may claim again');
      await store.commitSend('s', 1, 60_000);
      assert.equal(await claim('s', 1, 'B'), 'applied', 'committed: a duplicate');
      assert.equal(await claim('s', 2, 'A', 50), 'new');
      assert.equal(await claim('s', 2, 'B'), 'running');
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(await claim('s', 2, 'B'), 'new', 'the lease ran out (its server died before committing): redelivered');
      await store.commitSend('s', 2, 60_000);
      await store.commitSend('s', 1, 60_000);
      assert.equal(await claim('s', 2, 'C'), 'applied', 'a commit never goes back');
      assert.equal(await claim('other', 2, 'A'), 'new');
      await store.commitSend('short', 1, 50);
      assert.equal(await claim('short', 1, 'A', 60_000, 50), 'applied');
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(await claim('short', 1, 'A', 60_000, 50), 'new', 'forgotten after its ttl');
      await assert.rejects(claim('', 1, 'A'), /session/);
      await assert.rejects(claim('s', 1, ''), /owner/);
    } finally {
      await store.close();
    }
  });
});
