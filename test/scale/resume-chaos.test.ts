/**
 * Issue 19's chaos proof, on real processes: 3 server processes (./fixtures/resume-server.ts: topics with
 * history in a RedisHistory, the resume subprotocol) on one real redis-server, HAProxy (Debian) in
 * round-robin TCP mode in front of them, `ResumingClient`s in this process (through a relay that can drop
 * their links), each on 1 to 3 of 10 topics from the start of their history. Publishers publish with
 * per-publisher, per-topic sequence numbers while the test SIGKILLs servers at random (and restarts
 * them on the same port), drops client links at random, and cuts the servers' Pub/Sub connections to
 * Redis. Every client must deliver every message of
 * its topics exactly once, in each publisher's order (seq 1..N, no hole, no duplicate), with no `gap`
 * (the history keeps everything) and no protocol error.
 *
 * The publishers are `ResumingClient`s too (ClientPublishers), through the same relay and HAProxy, so
 * their links are dropped and their servers SIGKILLed as well: each server turns a send into
 * `socket.publish(topic, data, { idempotencyKey })` (./fixtures/resume-server.ts). A send is recorded
 * applied only after that publish was stored (claim-after-apply), so a server killed before the append
 * leaves the send to be redelivered to another server, and one killed after the append but before the
 * ack leaves a redelivery whose append is a no-op (docs/recovery.md "Guarantees"): either way each
 * message is in the history exactly once, which the watchers check.
 *
 * Size: the issue's (300 clients, 20,000 publishes) with CONFORMANCE_FULL=1 (`.ci/run`, once) or
 * RESUME_CHAOS_FULL=1; a smaller one otherwise (the default `npm test`). Skips with a notice naming
 * the Debian package when redis-server or haproxy is missing. Asserts on outcomes, never on timings.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'redis';
import { haproxySkipReason } from '../helpers/haproxy.js';
import { redisSkipReason } from '../helpers/redis.js';
import { scaled } from '../helpers/time.js';
import { ClientPublishers, FULL, ResumeCluster, Watcher, planPublishes, startWatchers, waitFor } from './resume-chaos-helpers.js';
import { STEP_TIMEOUT, delay, prng } from './scale-helpers.js';

const skip = redisSkipReason() || haproxySkipReason();

const SERVERS = 3;
const CLIENTS = FULL ? 300 : 90;
const TOPICS = Array.from({ length: 10 }, (_, i) => `t${i}`);
const PUBLISHES = FULL ? 20_000 : 5_000;
const PUBLISHERS = 5;
/** The publishes are spread over this long, so that the chaos happens while they run. */
const PUBLISH_MS = FULL ? 40_000 : 15_000;
/** Every topic keeps all its messages: any hole would be a bug, never a trim. */
const MAX_MESSAGES = 100_000;
/** A chaos step (a kill or a drop of links) every 1 to 2 seconds. */
const CHAOS_MIN_MS = 1_000;
const CHAOS_SPREAD_MS = 1_000;

it('the check of a client catches a silent hole and a duplicate, and lets a hole through only right after a gap', async () => {
  const strict = new Watcher(0, 'ws://127.0.0.1:1/', ['t0'], { gapsAllowed: false, publishers: 2 });
  const lenient = new Watcher(1, 'ws://127.0.0.1:1/', ['t0'], { gapsAllowed: true, publishers: 2 });
  try {
    const info = { epoch: 'e', offset: 1, replayed: false };
    for (const w of [strict, lenient]) {
      for (const text of ['t0:0:1', 't0:1:1', 't0:0:3', 't0:1:1']) w.client.emit('message', 't0', text, info); // p0 skips 2, p1 repeats 1
      w.client.emit('gap', 't0', { reason: 'epoch', epoch: 'f', offset: 0 });
      for (const text of ['t0:0:7', 't0:1:1', 't0:0:8']) w.client.emit('message', 't0', text, info); // told: a hole (p0), a repeat (p1)
      w.client.emit('message', 't0', 't0:0:10', info); // silent again
    }
    assert.equal(strict.problemCount, 5);
    assert.equal(lenient.problemCount, 3);
    assert.match(lenient.problems.join('\n'), /publisher 0: seq 3 after 1 \(1 missing[^]*publisher 1: seq 1 after 1 \(duplicate[^]*publisher 0: seq 10 after 8/);
    assert.deepEqual([lenient.toldHoles, lenient.toldRepeats], [1, 1]);
    assert.equal(lenient.complete(new Map([['t0', [10, 1]]])), true);
    assert.equal(lenient.complete(new Map([['t0', [11, 1]]])), false);
  } finally {
    strict.close();
    lenient.close();
  }
});

describe('resume chaos: 3 servers on Redis behind HAProxy, servers SIGKILLed and links dropped', { skip, timeout: scaled(300_000) }, () => {
  let cluster: ResumeCluster | undefined;
  let publishers: ClientPublishers | undefined;
  const watchers: Watcher[] = [];
  let admin: ReturnType<typeof createClient> | undefined;

  after(async () => {
    admin?.destroy();
    for (const watcher of watchers) watcher.close();
    publishers?.close();
    await cluster?.stop();
  });

  it(`${CLIENTS} resuming clients on ${TOPICS.length} topics get all of ${PUBLISHES.toLocaleString('en')} publishes exactly once, in per-publisher order`, async (t) => {
    const started = Date.now();
    const lap = (what: string): void => t.diagnostic(`${what}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const seed = Number(process.env['RESUME_CHAOS_SEED'] ?? Date.now() % 2 ** 31);
    t.diagnostic(`size: ${FULL ? 'full' : 'default (CONFORMANCE_FULL=1 for the full size)'}; chaos seed ${seed} (RESUME_CHAOS_SEED to repeat it)`);
    cluster = await ResumeCluster.start({ servers: SERVERS, maxMessages: MAX_MESSAGES, prefix: `chaos${process.pid}:` });
    publishers = new ClientPublishers(cluster, PUBLISHERS);
    lap('Redis, 3 servers, HAProxy up');

    // Who is on what (fixed seed): 1 to 3 topics each, every topic with subscribers.
    await startWatchers(cluster, CLIENTS, TOPICS, prng(19), { gapsAllowed: false, publishers: PUBLISHERS, paced: true }, watchers);
    for (const topic of TOPICS) assert.ok(watchers.some((w) => w.topics.includes(topic)), `${topic} has subscribers`);
    lap(`${CLIENTS} clients subscribed (${watchers.reduce((sum, w) => sum + w.topics.length, 0)} subscriptions)`);

    // The chaos, while the publishers run, a step every 1-2 s, in turn: SIGKILL a random server (it
    // restarts a moment later), drop random client links, cut the servers' Pub/Sub connections to Redis
    // (CLIENT KILL TYPE pubsub: their feeds must fill what they missed from the streams).
    const chaosRandom = prng(seed);
    admin = createClient({ url: cluster.redis.url, socket: { reconnectStrategy: false } });
    admin.on('error', () => {});
    await admin.connect();
    let stop = false;
    let dropSteps = 0;
    let pubsubCuts = 0;
    const restarts: Array<Promise<void>> = [];
    const chaos = (async () => {
      for (let step = 0; !stop; step++) {
        await delay(CHAOS_MIN_MS + chaosRandom(CHAOS_SPREAD_MS));
        if (stop) break;
        const running = cluster!.running();
        if (step % 3 === 0 && running.length >= 2) {
          const victim = running[chaosRandom(running.length)]!;
          await cluster!.kill(victim);
          restarts.push(delay(200 + chaosRandom(1_500)).then(() => cluster!.startServer(victim)));
        } else if (step % 3 === 2) {
          pubsubCuts += Number(await admin!.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']));
        } else {
          cluster!.relay.drop(1 + chaosRandom(Math.ceil(CLIENTS / 10)), chaosRandom);
          dropSteps++;
        }
      }
    })();

    const plan = planPublishes(PUBLISHES, PUBLISHERS, TOPICS, prng(7));
    // The chaos goes on until every send was acked (applied: its publish stored), not only sent.
    const sent = publishers.run(plan, { durationMs: PUBLISH_MS });
    await Promise.race([sent, delay(PUBLISH_MS)]);
    await waitFor(() => publishers!.acked + publishers!.errors.length >= PUBLISHES, 'every send acked', STEP_TIMEOUT * 6, () => `${publishers!.acked} of ${PUBLISHES} acked`).finally(() => {
      stop = true;
    });
    await sent;
    await chaos;
    await Promise.all(restarts);
    await cluster.settled();
    assert.deepEqual(publishers.errors, [], 'every send acked');
    assert.equal(publishers.acked, PUBLISHES);
    const runs = Number(await admin.get(`${cluster.prefix}runs`));
    lap(
      `${PUBLISHES} sends acked (${cluster.kills} kills, ${cluster.relay.dropped} links dropped in ${dropSteps} steps, ${pubsubCuts} Pub/Sub connections cut; ` +
        `handler runs ${runs}, i.e. ${runs - PUBLISHES} redelivered (a SIGKILL may lose a few counts), publishers reconnected ${publishers.reconnects} times)`,
    );

    const due = watchers.reduce((sum, w) => sum + w.topics.reduce((n, topic) => n + plan.counts.get(topic)!.reduce((a, b) => a + b, 0), 0), 0);
    const waited = await waitFor(
      () => watchers.every((w) => w.complete(plan.counts) || w.problemCount > 0),
      'every client to have every message',
      STEP_TIMEOUT * 3,
      () => {
        const short = watchers.filter((w) => !w.complete(plan.counts));
        return `${short.length} client(s) short, e.g. ${short.slice(0, 3).map((w) => `client ${w.index} (${w.received} received): ${w.describe(plan.counts)}`).join(' | ')}`;
      },
    ).then(
      () => null,
      (error: Error) => error,
    );
    lap('all delivered');
    await delay(500); // anything extra (a duplicate) would show up now

    const problems = watchers.flatMap((w) => w.problems);
    const problemCount = watchers.reduce((sum, w) => sum + w.problemCount, 0);
    const received = watchers.reduce((sum, w) => sum + w.received, 0);
    const reconnects = watchers.reduce((sum, w) => sum + w.reconnects, 0);
    const replayed = watchers.reduce((sum, w) => sum + w.replayed, 0);
    const gaps = watchers.flatMap((w) => w.gaps);
    t.diagnostic(
      `clients ${CLIENTS}, publishes ${PUBLISHES}, deliveries ${received} of ${due} (${replayed} replayed from history), server kills ${cluster.kills}, links dropped ${cluster.relay.dropped}, Pub/Sub cuts ${pubsubCuts}, ` +
        `reconnects ${reconnects} (${cluster.relay.accepted} connections through the relay), gaps ${gaps.length}, problems ${problemCount}, ` +
        `duration ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    assert.deepEqual(problems, [], `${problemCount} problem(s)`);
    assert.equal(waited, null);
    assert.deepEqual(gaps, [], 'no gap: the history kept everything');
    assert.equal(received, due, 'each message delivered once to each of its subscribers');
    // The chaos happened (a run without it would prove nothing).
    assert.ok(cluster.kills >= 2, `servers were killed (${cluster.kills})`);
    assert.ok(cluster.relay.dropped >= 1, 'links were dropped');
    assert.ok(reconnects > 0, `clients reconnected (${reconnects})`);
  });
});
