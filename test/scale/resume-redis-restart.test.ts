/**
 * Issue 19's Redis-restart proof, on real processes: the cluster of resume-chaos.test.ts (3 server
 * processes on one redis-server without persistence, HAProxy round robin in TCP mode, `ResumingClient`s
 * in this process) while publishers publish with per-publisher, per-topic sequence numbers; mid-run,
 * Redis is stopped and started again (empty: no RDB, no AOF) just after a third of the client links
 * were dropped (those clients come back with a position in the lost history), and publishing goes on (a publish that
 * failed while Redis was away is tried again until stored). Never a silent hole: per client, per topic,
 * per publisher, each message is the one after the previous, unless a `gap` event of the topic came
 * in between (then a hole or a repeat is told, not silent); every gap says `epoch` (the history is
 * large enough never to trim); and since the restarted Redis has lost every topic's history, every
 * client must have been told so on every one of its topics. In the end every client has the last message
 * of every publisher on its topics (the stream goes on in the new epoch).
 *
 * Size: larger with CONFORMANCE_FULL=1 (`.ci/run`, once) or RESUME_CHAOS_FULL=1, with two restarts.
 * Skips with a notice naming the Debian package when redis-server or haproxy is missing.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { haproxySkipReason } from '../helpers/haproxy.js';
import { redisSkipReason } from '../helpers/redis.js';
import { scaled } from '../helpers/time.js';
import { FULL, Publisher, ResumeCluster, Watcher, planPublishes, startWatchers, waitFor } from './resume-chaos-helpers.js';
import { STEP_TIMEOUT, delay, prng } from './scale-helpers.js';

const skip = redisSkipReason() || haproxySkipReason();

const SERVERS = 3;
const CLIENTS = FULL ? 150 : 60;
const TOPICS = Array.from({ length: 10 }, (_, i) => `t${i}`);
const PUBLISHES = FULL ? 8_000 : 3_000;
const PUBLISHERS = 5;
const PUBLISH_MS = FULL ? 20_000 : 12_000;
/** Redis restarts when this share of the publishes is done (one restart, two with the full size). */
const RESTART_AT = FULL ? [0.3, 0.65] : [0.4];
/** How long Redis stays away. */
const DOWN_MS = 1_000;
const MAX_MESSAGES = 100_000;

describe('resume across a Redis restart without persistence: never a silent hole', { skip, timeout: scaled(240_000) }, () => {
  let cluster: ResumeCluster | undefined;
  let publisher: Publisher | undefined;
  const watchers: Watcher[] = [];

  after(async () => {
    for (const watcher of watchers) watcher.close();
    await publisher?.close();
    await cluster?.stop();
  });

  it(`${CLIENTS} resuming clients, ${PUBLISHES.toLocaleString('en')} publishes, Redis restarted ${RESTART_AT.length} time(s): complete, or told 'epoch' at every discontinuity`, async (t) => {
    const started = Date.now();
    const lap = (what: string): void => t.diagnostic(`${what}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    cluster = await ResumeCluster.start({ servers: SERVERS, maxMessages: MAX_MESSAGES, prefix: `restart${process.pid}:` });
    publisher = new Publisher(cluster, MAX_MESSAGES);
    await publisher.ready();

    const random = prng(23);
    await startWatchers(cluster, CLIENTS, TOPICS, random, { gapsAllowed: true, publishers: PUBLISHERS }, watchers);
    lap(`${CLIENTS} clients subscribed`);

    // Redis goes away and comes back empty at the given shares of the publishes.
    const plan = planPublishes(PUBLISHES, PUBLISHERS, TOPICS, prng(11));
    const marks = RESTART_AT.map((share) => Math.floor(share * PUBLISHES));
    const restarts: Array<Promise<void>> = [];
    const restartRedis = async (): Promise<void> => {
      // A third of the clients lose their link first: they come back while Redis is away (1013 Try
      // Again Later) or after, with a position of the lost history, and missed what was published meanwhile.
      cluster!.relay.drop(Math.ceil(CLIENTS / 3), random);
      await delay(100);
      await cluster!.redis.stop();
      await delay(DOWN_MS);
      await cluster!.redis.restart();
      lap(`Redis back (after ${publisher!.published} publishes)`);
    };
    const errors = await publisher.run(plan, PUBLISHERS, {
      durationMs: PUBLISH_MS,
      window: 1,
      retry: true,
      onProgress: (published) => {
        if (marks.length > 0 && published >= marks[0]! && restarts.length === RESTART_AT.length - marks.length) {
          marks.shift();
          lap(`Redis stopped (after ${published} publishes)`);
          restarts.push(restartRedis());
        }
      },
    });
    await Promise.all(restarts);
    assert.deepEqual(errors, []);
    assert.equal(restarts.length, RESTART_AT.length, 'Redis was restarted mid-run');
    lap(`published ${PUBLISHES} (${publisher.failures} publishes failed while Redis was away and were tried again)`);

    const waited = await waitFor(
      () => watchers.every((w) => w.complete(plan.counts) || w.problemCount > 0),
      'every client to have the last message of every publisher',
      STEP_TIMEOUT * 3,
      () => {
        const short = watchers.filter((w) => !w.complete(plan.counts));
        return `${short.length} client(s) short, e.g. ${short.slice(0, 3).map((w) => `client ${w.index}: ${w.describe(plan.counts)}`).join(' | ')}`;
      },
    ).then(
      () => null,
      (error: Error) => error,
    );
    await delay(500);

    const problems = watchers.flatMap((w) => w.problems);
    const problemCount = watchers.reduce((sum, w) => sum + w.problemCount, 0);
    const gaps = watchers.flatMap((w) => w.gaps);
    const holes = watchers.reduce((sum, w) => sum + w.toldHoles, 0);
    const repeats = watchers.reduce((sum, w) => sum + w.toldRepeats, 0);
    const lossless = watchers.filter((w) => w.toldHoles === 0).length;
    const reconnects = watchers.reduce((sum, w) => sum + w.reconnects, 0);
    t.diagnostic(
      `clients ${CLIENTS}, publishes ${PUBLISHES}, Redis restarts ${RESTART_AT.length}, gap events ${gaps.length} (${gaps.filter((gap) => gap.reason === 'epoch').length} epoch), ` +
        `holes told by a gap ${holes}, repeats after a gap ${repeats}, clients that lost nothing ${lossless}, links dropped ${cluster.relay.dropped}, reconnects ${reconnects}, problems ${problemCount}, ` +
        `duration ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    assert.deepEqual(problems, [], `${problemCount} problem(s): a silent hole, a duplicate without a gap, or a protocol error`);
    assert.equal(waited, null);
    assert.deepEqual(
      gaps.filter((gap) => gap.reason !== 'epoch'),
      [],
      'every gap is an epoch change (the history is large enough never to be trimmed)',
    );
    // The restarted Redis lost every topic's history: every client was told so, on each of its topics.
    for (const w of watchers) {
      const told = new Set(w.gaps.map((gap) => gap.topic));
      assert.deepEqual(
        w.topics.filter((topic) => !told.has(topic)),
        [],
        `client ${w.index} was told of the lost history on every topic`,
      );
    }
  });
});
