/**
 * Scale-out on one machine with node:cluster (issue 9): a primary (test/scale/fixtures/cluster-primary.ts)
 * forks 3 workers that share one port (round-robin, the default on Linux), each a WebSocketServer with
 * its own RedisBackplane on one real redis-server that this test starts on a free port (skipped with a
 * notice when redis-server is not installed). Clients connect one after the other to the one port and
 * land on all three workers (each worker names itself in a response header); publishes from clients on
 * every worker reach every subscriber exactly once, in each publisher's order. SIGTERM to the primary
 * then closes everything gracefully (1001 to every client, every worker exits 0), and no process of the
 * cluster is left (checked with `ps`), also when the test fails (the whole process group is killed).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RedisServer, redisSkipReason } from '../helpers/redis.js';
import { messageText } from './fixtures/protocol.js';
import {
  FixtureProcess,
  ScaleClient,
  groupMembers,
  isRunning,
  prng,
  publishAndVerify,
  until,
  type Published,
} from './scale-helpers.js';
import { scaled } from '../helpers/time.js';

const skip = redisSkipReason();

const WORKERS = 3;
const CLIENTS = 30;
const TOPIC = 'room';
/** Publishers per worker, and publishes in all. */
const PUBLISHERS_PER_WORKER = 2;
const PUBLISHES = 3000;
const WINDOW = 100;
/** Subscribed to nothing. */
const LURKER = CLIENTS - 1;

interface ClusterReady {
  port: number;
  schedulingPolicy: 'rr' | 'none';
  workers: Array<{ id: number; pid: number; label: string }>;
}

describe('scale-out: node:cluster, 3 workers on one port, one Redis', { skip, timeout: scaled(60_000) }, () => {
  let redis: RedisServer | undefined;
  let primary: FixtureProcess | undefined;
  let workerPids: number[] = [];
  const clients: ScaleClient[] = [];

  before(async () => {
    redis = await RedisServer.start();
  });

  after(async () => {
    for (const client of clients) client.ws.terminate();
    // Whatever happened: the primary's whole process group goes (SIGTERM, then SIGKILL), and nothing
    // of it may be left running.
    if (primary !== undefined) {
      await primary.stop();
      const left = [...groupMembers(primary.pid), ...workerPids.filter(isRunning).map((pid) => ({ pid, stat: '?', args: 'worker' }))];
      if (left.length > 0) throw new Error(`processes of the cluster still running: ${JSON.stringify(left)}`);
    }
    await redis?.dispose();
  });

  it(`${CLIENTS} clients over ${WORKERS} workers, ${PUBLISHES.toLocaleString('en')} publishes from clients on every worker: exactly once, in per-publisher order`, async (t) => {
    const started = Date.now();
    const lap = (what: string): void => t.diagnostic(`${what}: ${Date.now() - started} ms`);
    assert.ok(redis !== undefined);
    const channelPrefix = `fd-scale-cluster:${process.pid}:`;
    primary = new FixtureProcess('primary', 'test/scale/fixtures/cluster-primary.ts', { redisUrl: redis.url, channelPrefix, workers: WORKERS, parentPid: process.pid });
    const ready = JSON.parse((await primary.waitFor(/^ready (.*)$/m))[1]!) as ClusterReady;
    workerPids = ready.workers.map((worker) => worker.pid);
    assert.equal(ready.schedulingPolicy, 'rr', 'round-robin is the default on Linux');
    assert.equal(ready.workers.length, WORKERS);
    assert.equal(new Set(workerPids).size, WORKERS);
    // The workers are in the primary's process group (what `after` kills). (Not alone: on a cold tsx
    // cache the group also holds esbuild's service process for a while.)
    const group = groupMembers(primary.pid).map((member) => member.pid);
    for (const pid of [primary.pid, ...workerPids]) assert.ok(group.includes(pid), `pid ${pid} in the primary's process group ${JSON.stringify(group)}`);
    lap('cluster ready');

    // One after the other to the one port: the primary hands them to the workers in turn.
    const url = `ws://127.0.0.1:${ready.port}/`;
    for (let i = 0; i < CLIENTS; i++) clients.push(await ScaleClient.connect(i, url, i === LURKER ? [] : [TOPIC]));
    const byWorker = new Map<string, ScaleClient[]>();
    for (const client of clients) {
      let list = byWorker.get(client.node);
      if (list === undefined) byWorker.set(client.node, (list = []));
      list.push(client);
    }
    t.diagnostic(`clients per worker: ${[...byWorker].map(([node, list]) => `${node}=${list.length}`).join(' ')}`);
    assert.deepEqual([...byWorker.keys()].sort(), ready.workers.map((worker) => worker.label).sort(), 'every worker got clients (and only the workers did)');
    lap('clients open');

    // Every worker's subscription applied in Redis and its count written (through one of its clients);
    // then every worker sees the global count.
    const subscribed = CLIENTS - 1;
    const synced = await Promise.all([...byWorker.values()].map((list) => list[0]!.request({ op: 'sync', topics: [TOPIC] }, 'synced')));
    assert.equal(synced.reduce((sum, reply) => sum + (reply.local[TOPIC] ?? 0), 0), subscribed);
    const counts = await Promise.all([...byWorker.values()].map((list) => list[0]!.request({ op: 'count', topics: [TOPIC] }, 'counts')));
    for (const reply of counts) assert.equal(reply.global[TOPIC], subscribed, `global count seen by ${reply.node}`);
    lap('subscriptions on Redis');

    // Publishers: two clients on each worker (not the lurker), publishing in a random interleaving.
    const publishers = [...byWorker.values()].flatMap((list) => list.filter((client) => client.index !== LURKER).slice(0, PUBLISHERS_PER_WORKER));
    assert.equal(publishers.length, WORKERS * PUBLISHERS_PER_WORKER);
    const random = prng(2024);
    const sequence = new Map<ScaleClient, number>();
    const published: Published[] = [];
    const schedule = Array.from({ length: PUBLISHES }, () => {
      const client = publishers[random(publishers.length)]!;
      const seq = sequence.get(client) ?? 0;
      sequence.set(client, seq + 1);
      const text = messageText(client.index, seq, TOPIC, 'ü'.repeat(random(40)));
      published.push({ publisher: client.index, seq, topic: TOPIC, text });
      return { client, topic: TOPIC, text };
    });
    const deliveries = await publishAndVerify(clients, schedule, published, WINDOW, lap);
    t.diagnostic(`deliveries: ${deliveries.toLocaleString('en')}`);
    assert.equal(clients[LURKER]!.received.length, 0, 'the client on no topic got nothing');

    const stats = await Promise.all([...byWorker.values()].map(async (list) => (await list[0]!.request({ op: 'stats' }, 'stats')).stats));
    for (const s of stats) assert.deepEqual([s.node, s.publishFailures, s.publishErrorEvents, s.backplaneErrors, s.socketErrors], [s.node, 0, 0, [], []]);
    t.diagnostic(`publishes per worker: ${stats.map((s) => `${s.node}=${s.publishes}`).join(' ')}`);

    // Graceful stop through the primary alone: every worker closes (1001 to its clients) and exits 0,
    // then the primary exits 0 and nothing of the group is left.
    primary.child.kill('SIGTERM');
    const closes = await Promise.all(clients.map((client) => client.closed));
    assert.deepEqual(new Set(closes.map((close) => close.code)), new Set([1001]));
    const exit = await primary.exitWithin(scaled(10_000));
    assert.deepEqual(exit, { code: 0, signal: null }, primary.describe());
    const closed = JSON.parse((await primary.waitFor(/^closed (.*)$/m))[1]!) as { workers: Array<{ id: number; code: number | null; signal: string | null }> };
    assert.deepEqual(
      closed.workers.map((worker) => [worker.code, worker.signal]),
      ready.workers.map(() => [0, null]),
    );
    assert.equal(primary.stderr, '', 'the primary and its workers wrote nothing to stderr');
    await until(() => groupMembers(primary!.pid).length === 0 && workerPids.every((pid) => !isRunning(pid)), 'no process of the cluster left');
    lap('cluster stopped');
  });
});
