/**
 * Topics across servers: WebSocketServers on different ports, each with its own RedisBackplane on one
 * real redis-server (Debian package redis-server; skipped with a notice when it is missing).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from '../../src/node/index.js';
import { createClient } from 'redis';
import { RedisBackplane } from '../../src/redis.js';
import { RedisServer, redisSkipReason } from '../helpers/redis.js';
import { nextEvent } from '../helpers/net.js';
import { scaled } from '../helpers/time.js';

const skip = redisSkipReason();

interface Node {
  wss: WebSocketServer;
  backplane: RedisBackplane;
  url: string;
  /** Server-side sockets by the client's name. */
  sockets: Map<string, WebSocket>;
}

async function startNode(redisUrl: string, channelPrefix: string): Promise<Node> {
  const backplane = new RedisBackplane({ url: redisUrl, channelPrefix, reconnect: { minDelayMs: 50, maxDelayMs: 200 } });
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', heartbeat: false, backplane });
  const sockets = new Map<string, WebSocket>();
  wss.on('connection', (ws, request) => {
    const query = new URL(request.url ?? '/', 'http://x').searchParams;
    for (const topic of (query.get('topics') ?? '').split(',').filter(Boolean)) ws.subscribe(topic);
    sockets.set(query.get('name') ?? '', ws);
  });
  await nextEvent(wss, 'listening');
  await backplane.ready();
  return { wss, backplane, url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`, sockets };
}

async function stopNode(node: Node): Promise<void> {
  await new Promise<void>((resolve) => node.wss.close(() => resolve()));
}

async function client(node: Node, name: string, topics: string[]): Promise<{ ws: WebSocket; messages: string[] }> {
  const ws = new WebSocket(`${node.url}?name=${name}&topics=${topics.join(',')}`);
  const messages: string[] = [];
  ws.on('message', (data, isBinary) => messages.push(isBinary ? `bin:${Buffer.from(data as Buffer).toString('hex')}` : String(data)));
  await nextEvent(ws, 'open');
  return { ws, messages };
}

async function until(condition: () => boolean | Promise<boolean>, what: string, ms = scaled(10_000)): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('topics across servers over Redis', { skip, timeout: scaled(120_000) }, () => {
  let redis: RedisServer;
  let prefixCount = 0;
  const nodes: Node[] = [];
  const clients: WebSocket[] = [];
  const freshPrefix = (): string => `fd-test-${process.pid}-${++prefixCount}:`;

  before(async () => {
    redis = await RedisServer.start();
  });
  after(async () => {
    for (const ws of clients) ws.terminate();
    await Promise.all(nodes.splice(0).map(stopNode));
    await redis.stop();
  });

  it('3 servers, 30 clients, 10 topics, 1,000 publishes: each subscriber gets its topics exactly once, in order', async () => {
    const prefix = freshPrefix();
    const three = await Promise.all([0, 1, 2].map(() => startNode(redis.url, prefix)));
    nodes.push(...three);
    const topicsOf = (i: number): string[] => [`t${i % 10}`, `t${(i * 3 + 1) % 10}`].filter((t, k, all) => all.indexOf(t) === k);
    const people = await Promise.all(Array.from({ length: 30 }, (_, i) => client(three[i % 3]!, `c${i}`, topicsOf(i))));
    clients.push(...people.map((p) => p.ws));
    await until(() => three.every((node) => node.sockets.size === 10), 'every connection');
    await until(async () => (await three[0]!.wss.subscriberCount('t1', { global: true })) === people.filter((_, i) => topicsOf(i).includes('t1')).length, 'global counts');

    // Publishers: clients 0..5, each with its own sequence, to random topics (fixed seed).
    let seed = 7;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const expected = people.map(() => [] as string[]);
    const sequence = [0, 0, 0, 0, 0, 0];
    for (let k = 0; k < 1000; k++) {
      const publisher = random(6);
      const topic = `t${random(10)}`;
      const text = `${publisher}:${sequence[publisher]!++}:${topic}:ünïcode`;
      const node = three[publisher % 3]!;
      node.sockets.get(`c${publisher}`)!.publish(topic, text);
      people.forEach((_, i) => {
        if (i !== publisher && topicsOf(i).includes(topic)) expected[i]!.push(text);
      });
    }
    await until(() => people.every((p, i) => p.messages.length >= expected[i]!.length), 'every delivery');
    await new Promise((resolve) => setTimeout(resolve, 200)); // nothing more arrives
    people.forEach((person, i) => {
      // Exactly the messages of its topics, once each, and each publisher's in its order. (Messages
      // from different servers may interleave differently: compare per publisher.)
      for (let publisher = 0; publisher < 6; publisher++) {
        const mine = (list: string[]): string[] => list.filter((m) => m.startsWith(`${publisher}:`));
        assert.deepEqual(mine(person.messages), mine(expected[i]!), `client ${i}, publisher ${publisher}`);
      }
      assert.equal(person.messages.length, expected[i]!.length);
    });
  });

  it('binary stays binary and bytes stay bytes; server.publish reaches every server', async () => {
    const prefix = freshPrefix();
    const two = await Promise.all([0, 1].map(() => startNode(redis.url, prefix)));
    nodes.push(...two);
    const a = await client(two[0]!, 'a', ['bin']);
    const b = await client(two[1]!, 'b', ['bin']);
    clients.push(a.ws, b.ws);
    await until(async () => (await two[0]!.wss.subscriberCount('bin', { global: true })) === 2, 'global count');
    const done = new Promise<Error | null>((resolve) => two[1]!.wss.publish('bin', Buffer.from([0, 0xff, 0x80, 1]), {}, resolve));
    assert.equal(await done, null);
    two[0]!.wss.publish('bin', 'text');
    await until(() => a.messages.length === 2 && b.messages.length === 2, 'deliveries');
    // Two publishers on two servers: no order between them (each one's own order holds).
    assert.deepEqual(a.messages.sort(), ['bin:00ff8001', 'text']);
    assert.deepEqual(b.messages.sort(), ['bin:00ff8001', 'text']);
  });

  it('close() calls back once the backplane has left Redis: no stale presence, no subscription', async () => {
    const prefix = freshPrefix();
    const node = await startNode(redis.url, prefix);
    const a = await client(node, 'a', ['room']);
    await until(async () => (await node.wss.subscriberCount('room', { global: true })) === 1, 'global count');
    const probe = createClient({ url: redis.url });
    await probe.connect();
    try {
      assert.equal(await probe.exists(`${prefix}node:${node.backplane.nodeId}`), 1);
      assert.equal(Number((await probe.pubSubNumSub(`${prefix}room`))[`${prefix}room`]), 1);
      await new Promise<void>((resolve) => node.wss.close(() => resolve()));
      // At the callback, without waiting any longer:
      assert.equal(node.backplane.connected, false);
      assert.equal(await probe.exists(`${prefix}node:${node.backplane.nodeId}`), 0, 'liveness key removed');
      assert.equal(await probe.hExists(`${prefix}count:room`, node.backplane.nodeId), 0, 'count field removed');
      assert.equal(Number((await probe.pubSubNumSub(`${prefix}room`))[`${prefix}room`]), 0, 'unsubscribed');
      assert.equal(a.ws.readyState === WebSocket.CLOSED || a.ws.readyState === WebSocket.CLOSING, true);
    } finally {
      a.ws.terminate();
      await probe.close();
    }
  });

  it('Redis restarts: local delivery goes on, publishes while it is down are reported, then it resumes', async () => {
    const own = await RedisServer.start();
    const prefix = freshPrefix();
    const two = await Promise.all([0, 1].map(() => startNode(own.url, prefix)));
    const a = await client(two[0]!, 'a', ['news']);
    const a2 = await client(two[0]!, 'a2', ['news']);
    const b = await client(two[1]!, 'b', ['news']);
    try {
      await until(async () => (await two[0]!.wss.subscriberCount('news', { global: true })) === 3, 'global count');
      two[0]!.sockets.get('a')!.publish('news', 'before');
      await until(() => a2.messages.length === 1 && b.messages.length === 1, 'first delivery');

      await own.stop();
      const refused = await new Promise<Error | null>((resolve) => two[0]!.sockets.get('a')!.publish('news', 'during', {}, resolve));
      assert.ok(refused instanceof Error, 'a publish while the broker is down is reported');
      const reported: string[] = [];
      two[0]!.wss.on('publishError', (_error, topic) => reported.push(topic));
      two[0]!.wss.publish('news', 'during, no callback');
      await until(() => reported.length === 1, 'publishError');
      // Local subscribers still got both.
      await until(() => a2.messages.length === 3 && a.messages.length === 1, 'local delivery while Redis is down');

      await own.restart();
      // Both backplanes reconnect by themselves (nobody calls subscribe again); ready() resolves once
      // their connections are back and their subscriptions are applied.
      await Promise.all(two.map((node) => node.backplane.ready()));
      const result = await new Promise<Error | null>((resolve) => two[0]!.sockets.get('a')!.publish('news', 'after', {}, resolve));
      assert.equal(result, null);
      await until(() => b.messages.includes('after'), 'delivery after the restart');
      assert.deepEqual(b.messages.filter((m) => m.startsWith('during')), [], 'nothing published during the outage arrives later');
    } finally {
      for (const ws of [a.ws, a2.ws, b.ws]) ws.terminate();
      await Promise.all(two.map(stopNode));
      await own.stop();
    }
  });
});
