/**
 * Scale-out, end to end (issue 9): three server PROCESSES (test/scale/fixtures/topic-server.ts), each a
 * WebSocketServer on its own port with its own RedisBackplane on one real redis-server that this test
 * starts on a free port (skipped with a notice when redis-server is not installed), and 100 clients in
 * this process spread over the three ports, each on 0 to 3 of 10 topics. 10,000 publishes from random
 * clients (fixed seed), each asked of the client's server (`socket.publish`): every subscriber gets
 * exactly the messages of its topics, each exactly once, in each publisher's order, and nobody gets
 * anything else. Then SIGTERM: every client gets 1001 and every server process exits 0 by itself.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'redis';
import { RedisServer, redisSkipReason } from '../helpers/redis.js';
import { messageText, type NodeStats } from './fixtures/protocol.js';
import {
  FixtureProcess,
  ScaleClient,
  isRunning,
  prng,
  publishAndVerify,
  type Published,
} from './scale-helpers.js';
import { scaled } from '../helpers/time.js';

const skip = redisSkipReason();

const SERVERS = 3;
const CLIENTS = 100;
const TOPICS = Array.from({ length: 10 }, (_, i) => `t${i}`);
const PUBLISHES = 10_000;
/** Publishes not yet acknowledged by their server's backplane, over all clients. */
const WINDOW = 200;
/** Subscribed to nothing. */
const LURKER = CLIENTS - 1;
/** t8 has subscribers on server 0 only; t9 has none anywhere (it is published to all the same). */
const ONE_SERVER_TOPIC = 't8';
const NOBODY_TOPIC = 't9';

describe('scale-out: 3 server processes on one Redis', { skip, timeout: scaled(60_000) }, () => {
  let redis: RedisServer | undefined;
  const servers: FixtureProcess[] = [];
  const clients: ScaleClient[] = [];

  before(async () => {
    redis = await RedisServer.start();
  });

  after(async () => {
    for (const client of clients) client.ws.terminate();
    const exits = await Promise.all(servers.map((server) => server.stop()));
    await redis?.dispose();
    const survivors = servers.filter((server) => isRunning(server.pid));
    if (survivors.length > 0) throw new Error(`server processes still running: ${survivors.map((s) => s.pid).join(', ')} (${JSON.stringify(exits)})`);
  });

  it(`${CLIENTS} clients, ${TOPICS.length} topics, ${PUBLISHES.toLocaleString('en')} publishes: exactly once, in per-publisher order, only to subscribers`, async (t) => {
    const started = Date.now();
    const lap = (what: string): void => t.diagnostic(`${what}: ${Date.now() - started} ms`);
    assert.ok(redis !== undefined);
    const channelPrefix = `fd-scale-3:${process.pid}:`;

    // Three processes; server 2 also accepts permessage-deflate (the clients offer it), so that its
    // subscribers get the larger messages compressed for their own connection.
    for (let i = 0; i < SERVERS; i++) {
      const config = { redisUrl: redis.url, channelPrefix, port: 0, label: `s${i}`, parentPid: process.pid, ...(i === 2 ? { perMessageDeflate: { threshold: 256 } } : {}) };
      servers.push(new FixtureProcess(`s${i}`, 'test/scale/fixtures/topic-server.ts', config));
    }
    const ports = await Promise.all(servers.map(async (server) => Number((await server.waitFor(/^ready .*"port":(\d+)/m))[1])));
    assert.equal(new Set(ports).size, SERVERS, 'three ports');
    lap('servers ready');

    // Who is where, on what (fixed seed). Client i on server i % 3.
    const random = prng(9);
    const plan = Array.from({ length: CLIENTS }, (_, i) => {
      const server = i % SERVERS;
      if (i === LURKER) return { server, topics: [] as string[] };
      const pool = TOPICS.filter((topic) => topic !== NOBODY_TOPIC && (topic !== ONE_SERVER_TOPIC || server === 0));
      const topics = new Set<string>();
      const count = 1 + random(3);
      while (topics.size < count) topics.add(pool[random(pool.length)]!);
      return { server, topics: [...topics].sort() };
    });
    const subscribers = (topic: string, server?: number): number => plan.filter((p) => p.topics.includes(topic) && (server === undefined || p.server === server)).length;
    // The mix the test is about: most topics on all three servers, one on one server, one on none.
    for (const topic of TOPICS.slice(0, 8)) for (let s = 0; s < SERVERS; s++) assert.ok(subscribers(topic, s) > 0, `${topic} has subscribers on s${s}`);
    assert.ok(subscribers(ONE_SERVER_TOPIC, 0) > 0 && subscribers(ONE_SERVER_TOPIC) === subscribers(ONE_SERVER_TOPIC, 0));
    assert.equal(subscribers(NOBODY_TOPIC), 0);
    assert.equal(plan[LURKER]!.topics.length, 0);
    t.diagnostic(`subscriptions: ${plan.reduce((sum, p) => sum + p.topics.length, 0)}; per topic ${TOPICS.map((topic) => `${topic}=${subscribers(topic)}`).join(' ')}`);

    // Connect, 20 at a time.
    for (let first = 0; first < CLIENTS; first += 20) {
      const batch = plan.slice(first, first + 20).map((p, k) => ScaleClient.connect(first + k, `ws://127.0.0.1:${ports[p.server]}/`, p.topics));
      clients.push(...(await Promise.all(batch)));
    }
    clients.forEach((client, i) => assert.equal(client.node, `s${plan[i]!.server}`, `client ${i} is on its server`));
    lap('clients open');

    // Before publishing: every server's subscriptions applied in Redis (backplane.ready()) and its counts
    // written, through one of its own clients...
    const local = await Promise.all(servers.map((_, s) => clients[s]!.request({ op: 'sync', topics: TOPICS }, 'synced')));
    local.forEach((reply, s) => {
      for (const topic of TOPICS) assert.equal(reply.local[topic], subscribers(topic, s), `s${s}: local subscribers of ${topic}`);
    });
    // ...Redis itself agrees (one Pub/Sub subscriber per server that has the topic, none for t9)...
    const probe = createClient({ url: redis.url });
    await probe.connect();
    try {
      const numsub = await probe.pubSubNumSub(TOPICS.map((topic) => channelPrefix + topic));
      for (const topic of TOPICS) {
        const withTopic = [0, 1, 2].filter((s) => subscribers(topic, s) > 0).length;
        assert.equal(Number(numsub[channelPrefix + topic]), withTopic, `Redis subscribers of ${topic}`);
      }
    } finally {
      await probe.close();
    }
    // ...and every server sees the same global counts, the sums over the three.
    const counts = await Promise.all(servers.map((_, s) => clients[s]!.request({ op: 'count', topics: TOPICS }, 'counts')));
    for (const reply of counts) assert.deepEqual(reply.global, Object.fromEntries(TOPICS.map((topic) => [topic, subscribers(topic)])), `global counts seen by ${reply.node}`);
    lap('subscriptions on Redis');

    // 10,000 publishes from random clients to random topics (including their own topics, whose message
    // they must not get back, and t9, which nobody gets), each client with its own sequence numbers.
    // Mostly short texts, one in 20 between 300 B and 3.3 kB (compressed for server 2's subscribers),
    // all with multi-byte UTF-8, which must arrive as it was sent.
    const sequence = new Array<number>(CLIENTS).fill(0);
    const published: Published[] = [];
    const schedule = Array.from({ length: PUBLISHES }, () => {
      const publisher = random(CLIENTS);
      const topic = TOPICS[random(TOPICS.length)]!;
      const seq = sequence[publisher]!++;
      const filler = 'aé€😀'.repeat(random(20) === 0 ? 30 + random(300) : random(12));
      const text = messageText(publisher, seq, topic, filler);
      published.push({ publisher, seq, topic, text });
      return { client: clients[publisher]!, topic, text };
    });
    const deliveries = await publishAndVerify(clients, schedule, published, WINDOW, lap);
    t.diagnostic(`publishers: ${sequence.filter((n) => n > 0).length}; deliveries: ${deliveries.toLocaleString('en')}`);
    assert.equal(clients[LURKER]!.received.length, 0, 'the client on no topic got nothing');
    assert.equal(clients.reduce((sum, client) => sum + client.received.length, 0), deliveries);

    const stats: NodeStats[] = (await Promise.all(servers.map((_, s) => clients[s]!.request({ op: 'stats' }, 'stats')))).map((reply) => reply.stats);
    for (const s of stats) {
      assert.deepEqual({ node: s.node, publishFailures: s.publishFailures, publishErrorEvents: s.publishErrorEvents, backplaneErrors: s.backplaneErrors, socketErrors: s.socketErrors }, { node: s.node, publishFailures: 0, publishErrorEvents: 0, backplaneErrors: [], socketErrors: [] });
    }
    assert.equal(stats.reduce((sum, s) => sum + s.publishes, 0), PUBLISHES);
    t.diagnostic(`publishes per server: ${stats.map((s) => `${s.node}=${s.publishes}`).join(' ')}`);

    // Graceful stop: SIGTERM to each server; each client gets 1001, each process exits 0 by itself.
    for (const server of servers) server.child.kill('SIGTERM');
    const closes = await Promise.all(clients.map((client) => client.closed));
    assert.deepEqual(new Set(closes.map((close) => close.code)), new Set([1001]));
    const exits = await Promise.all(servers.map((server) => server.exitWithin(scaled(10_000))));
    servers.forEach((server, i) => {
      assert.deepEqual(exits[i], { code: 0, signal: null }, server.describe());
      assert.match(server.stdout, /^closed$/m);
      assert.equal(server.stderr, '', `${server.name} wrote to stderr`);
    });
    lap('servers stopped');
  });
});
