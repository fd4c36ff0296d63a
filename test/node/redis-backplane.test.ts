/**
 * RedisBackplane against a real redis-server (test/helpers/redis.ts), through the Backplane interface,
 * with fake servers (BackplaneNode objects that record what `deliver` receives). Skips with a one-line
 * notice when redis-server (Debian package redis-server) is not installed.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import { RedisBackplane, type RedisBackplaneOptions } from '../../src/redis.js';
import type { BackplaneNode } from '../../src/node/backplane.js';
import { RedisServer, redisSkipReason } from '../helpers/redis.js';
import { scaled } from '../helpers/time.js';

const skip = redisSkipReason();

const TIMEOUT = 10_000;

interface Delivery {
  topic: string;
  payload: Buffer;
  binary: boolean;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Poll `check` until it returns true, or fail after `timeoutMs` with `what`. */
async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = TIMEOUT): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

function withTimeout<T>(promise: Promise<T>, what: string, timeoutMs = TIMEOUT): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A fake server: local subscriber counts per topic, and every delivery it got. */
class FakeNode implements BackplaneNode {
  readonly name: string;
  readonly counts = new Map<string, number>();
  readonly received: Delivery[] = [];
  readonly errors: Error[] = [];
  readonly backplane: RedisBackplane;

  constructor(name: string, options: RedisBackplaneOptions) {
    this.name = name;
    this.backplane = new RedisBackplane({ ...options, onError: (error) => this.errors.push(error) });
    this.backplane.attach(this);
  }

  deliver(topic: string, payload: Buffer, binary: boolean): void {
    this.received.push({ topic, payload: Buffer.from(payload), binary });
  }

  localTopics(): Iterable<string> {
    return [...this.counts].filter(([, count]) => count > 0).map(([topic]) => topic);
  }

  localSubscriberCount(topic: string): number {
    return this.counts.get(topic) ?? 0;
  }

  /** `n` local subscribers join `topic` (the backplane hears of the first one, as from a server). */
  join(topic: string, n = 1): void {
    const before = this.localSubscriberCount(topic);
    this.counts.set(topic, before + n);
    if (before === 0) this.backplane.subscribe(topic);
  }

  /** Every local subscriber of `topic` leaves. */
  leave(topic: string): void {
    if (this.localSubscriberCount(topic) === 0) return;
    this.counts.delete(topic);
    this.backplane.unsubscribe(topic);
  }

  /** Deliveries on `topic` as strings, fences left out. */
  texts(topic: string): string[] {
    return this.received.filter((d) => d.topic === topic).map((d) => d.payload.toString());
  }

  has(topic: string, text: string): boolean {
    return this.received.some((d) => d.topic === topic && d.payload.toString() === text);
  }
}

/** Subscribers Redis itself has for each channel (PUBSUB NUMSUB). */
async function numsub(url: string, channels: string[]): Promise<number[]> {
  const raw = createClient({ url });
  raw.on('error', () => {});
  await raw.connect();
  try {
    const reply = (await raw.sendCommand(['PUBSUB', 'NUMSUB', ...channels])) as unknown[];
    return channels.map((_, i) => Number(reply[2 * i + 1]));
  } finally {
    raw.destroy();
  }
}

let fenceCounter = 0;

/**
 * Each node publishes a marker on `topic` (which all of them subscribe to) and waits until every other
 * node got it. Redis keeps one publisher's messages in order on a subscriber's connection, so once a
 * node has the marker of publisher P, it has everything P published before, and any message it should
 * not have got would be there already.
 */
async function fence(nodes: FakeNode[], topic = 'fence'): Promise<void> {
  const markers = nodes.map((node) => `${node.name}:${++fenceCounter}`);
  await Promise.all(nodes.map((node, i) => node.backplane.publish(topic, Buffer.from(markers[i]!), false)));
  await until(`the fence markers on "${topic}"`, () => nodes.every((node, i) => markers.every((marker, j) => i === j || node.has(topic, marker))));
  nodes.forEach((node, i) => assert.ok(!node.has(topic, markers[i]!), `${node.name} got its own publish back`));
}

describe('RedisBackplane', { skip, timeout: scaled(120_000) }, () => {
  let redis: RedisServer;
  const open: FakeNode[] = [];
  let prefixCounter = 0;

  function nodes(count: number, options: RedisBackplaneOptions = {}): FakeNode[] {
    const channelPrefix = `test${++prefixCounter}:`;
    const made = Array.from({ length: count }, (_, i) => new FakeNode(String.fromCharCode(65 + i), { url: redis.url, channelPrefix, ...options }));
    open.push(...made);
    return made;
  }

  async function ready(list: FakeNode[]): Promise<void> {
    await withTimeout(Promise.all(list.map((node) => node.backplane.ready())), 'the backplanes to be ready');
  }

  async function closeAll(): Promise<void> {
    await Promise.all(open.splice(0).map((node) => node.backplane.close()));
  }

  before(async () => {
    redis = await RedisServer.start();
  });

  after(async () => {
    await closeAll();
    await redis?.dispose();
  });

  it('three nodes: a publish reaches every other subscribed node exactly once, never its own, and only nodes subscribed to its topic', async () => {
    const [a, b, c] = nodes(3) as [FakeNode, FakeNode, FakeNode];
    for (const node of [a, b, c]) node.join('fence');
    a.join('news');
    a.join('sports');
    b.join('news', 2);
    c.join('sports');
    c.join('weather');
    await ready([a, b, c]);

    await a.backplane.publish('news', Buffer.from('n1'), false);
    await b.backplane.publish('news', Buffer.from('n2'), false);
    await c.backplane.publish('sports', Buffer.from('s1'), false);
    await a.backplane.publish('weather', Buffer.from('w1'), false); // a topic its own node does not have
    await b.backplane.publish('nobody', Buffer.from('x1'), false); // no subscriber anywhere
    await fence([a, b, c]);

    assert.deepEqual(a.texts('news'), ['n2']);
    assert.deepEqual(a.texts('sports'), ['s1']);
    assert.deepEqual(b.texts('news'), ['n1']);
    assert.deepEqual(c.texts('sports'), []);
    assert.deepEqual(c.texts('weather'), ['w1']);
    for (const node of [a, b, c]) {
      assert.deepEqual(node.texts('nobody'), []);
      const topics = new Set(node.received.map((d) => d.topic));
      for (const topic of topics) assert.ok(node.localSubscriberCount(topic) > 0, `${node.name} got "${topic}" without subscribing`);
      assert.deepEqual(node.errors, []);
    }
    await closeAll();
  });

  it('carries binary and text payloads byte for byte with their binary flag (invalid UTF-8, empty, 1 MiB)', async () => {
    const [a, b] = nodes(2) as [FakeNode, FakeNode];
    a.join('bytes');
    b.join('bytes');
    await ready([a, b]);
    const invalidUtf8 = Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0xf4, 0x90, 0x80, 0x80, 0x00]);
    const bigText = Buffer.from('héllo wörld ✓ 😀 '.repeat(Math.ceil(1048576 / 24))).subarray(0, 1048576);
    const cases: Array<[Buffer, boolean]> = [
      [randomBytes(1000), true],
      [Buffer.from('héllo wörld ✓ 😀'), false],
      [invalidUtf8, false],
      [invalidUtf8, true],
      [Buffer.alloc(0), true],
      [Buffer.alloc(0), false],
      [randomBytes(1048576), true],
      [bigText, false],
    ];
    for (const [payload, binary] of cases) await a.backplane.publish('bytes', payload, binary);
    await b.backplane.publish('bytes', cases[6]![0], true); // the other way too
    await until('every payload', () => b.received.length === cases.length && a.received.length === 1);
    cases.forEach(([payload, binary], i) => {
      const got = b.received[i]!;
      assert.equal(got.topic, 'bytes');
      assert.equal(got.binary, binary, `case ${i}: binary flag`);
      assert.ok(got.payload.equals(payload), `case ${i}: ${payload.length} bytes arrive unchanged (got ${got.payload.length})`);
    });
    assert.ok(a.received[0]!.payload.equals(cases[6]![0]));
    assert.equal(a.received[0]!.binary, true);
    await closeAll();
  });

  it('crosses Redis in the documented envelope: [version 1][flags][16-byte origin][payload]', async () => {
    const [a, b] = nodes(2);
    a!.join('env');
    b!.join('env');
    await ready([a!, b!]);
    const raw = createClient({ url: redis.url });
    raw.on('error', () => {});
    await raw.connect();
    const seen: Buffer[] = [];
    const prefix = `test${prefixCounter}:`;
    await raw.subscribe(`${prefix}env`, (message) => seen.push(Buffer.from(message)), true);
    await a!.backplane.publish('env', Buffer.from('hi'), true);
    await a!.backplane.publish('env', Buffer.from('hi'), false);
    await until('two raw messages', () => seen.length === 2);
    const id = Buffer.from(a!.backplane.nodeId, 'hex');
    assert.deepEqual(seen[0], Buffer.concat([Buffer.from([1, 1]), id, Buffer.from('hi')]));
    assert.deepEqual(seen[1], Buffer.concat([Buffer.from([1, 0]), id, Buffer.from('hi')]));
    // Something else on the channel is reported and not delivered.
    const publisher = raw.duplicate();
    publisher.on('error', () => {});
    await publisher.connect();
    await publisher.publish(`${prefix}env`, 'not an envelope');
    await until('the malformed message to be reported', () => b!.errors.some((e) => /malformed/.test(e.message)));
    await a!.backplane.publish('env', Buffer.from('after'), false);
    await until('the next message', () => b!.has('env', 'after'));
    assert.deepEqual(b!.texts('env'), ['hi', 'hi', 'after']);
    publisher.destroy();
    raw.destroy();
    await closeAll();
  });

  it('keeps each publisher’s order (sequence numbers over 1,000 publishes from each of two nodes)', async () => {
    const [a, b, c] = nodes(3) as [FakeNode, FakeNode, FakeNode];
    for (const node of [a, b, c]) node.join('seq');
    await ready([a, b, c]);
    const COUNT = 1000;
    const message = (from: number, seq: number): Buffer => {
      const buffer = Buffer.alloc(5);
      buffer[0] = from;
      buffer.writeUInt32BE(seq, 1);
      return buffer;
    };
    // Not awaited one by one: the publishes are in flight together, interleaved between the two nodes.
    await Promise.all([
      ...Array.from({ length: COUNT }, (_, i) => a.backplane.publish('seq', message(0, i), true)),
      ...Array.from({ length: COUNT }, (_, i) => b.backplane.publish('seq', message(1, i), true)),
    ]);
    await until('all sequence numbers', () => a.received.length === COUNT && b.received.length === COUNT && c.received.length === 2 * COUNT);
    const sequences = (node: FakeNode, from: number): number[] => node.received.filter((d) => d.payload[0] === from).map((d) => d.payload.readUInt32BE(1));
    const expected = Array.from({ length: COUNT }, (_, i) => i);
    assert.deepEqual(sequences(b, 0), expected);
    assert.deepEqual(sequences(a, 1), expected);
    assert.deepEqual(sequences(c, 0), expected);
    assert.deepEqual(sequences(c, 1), expected);
    assert.equal(sequences(a, 0).length, 0);
    assert.equal(sequences(b, 1).length, 0);
    await closeAll();
  });

  it('stops delivering after unsubscribe, and starts again on a new subscribe', async () => {
    const [a, b, c] = nodes(3) as [FakeNode, FakeNode, FakeNode];
    for (const node of [a, b, c]) {
      node.join('fence');
      node.join('u');
    }
    await ready([a, b, c]);
    await a.backplane.publish('u', Buffer.from('m1'), false);
    await fence([a, b, c]);
    assert.deepEqual(b.texts('u'), ['m1']);

    const channel = `test${prefixCounter}:u`;
    assert.deepEqual(await numsub(redis.url, [channel]), [3]);
    b.leave('u');
    await ready([b]);
    assert.deepEqual(await numsub(redis.url, [channel]), [2], 'b sent UNSUBSCRIBE');
    await a.backplane.publish('u', Buffer.from('m2'), false);
    await fence([a, b, c]);
    assert.deepEqual(b.texts('u'), ['m1']);
    assert.deepEqual(c.texts('u'), ['m1', 'm2']);

    // Quick toggles settle on the last call.
    b.join('u');
    b.leave('u');
    b.join('u');
    await ready([b]);
    assert.deepEqual(await numsub(redis.url, [channel]), [3]);
    await a.backplane.publish('u', Buffer.from('m3'), false);
    await fence([a, b, c]);
    assert.deepEqual(b.texts('u'), ['m1', 'm3']);
    await closeAll();
  });

  it('subscriberCount: sums the local counts of every node, leaves out closed and dead nodes', async () => {
    const [a, b, c] = nodes(3, { countIntervalMs: 200 }) as [FakeNode, FakeNode, FakeNode];
    await ready([a, b, c]);
    a.join('room', 3);
    b.join('room', 2);
    await Promise.all([a.backplane.refreshCounts(), b.backplane.refreshCounts()]);
    assert.equal(await c.backplane.subscriberCount('room'), 5);
    assert.equal(await a.backplane.subscriberCount('room'), 5);
    assert.equal(await c.backplane.subscriberCount('empty'), 0);

    // A count that changes without subscribe/unsubscribe calls: the node's own view is live, the others'
    // follow with the periodic refresh.
    a.counts.set('room', 7);
    assert.equal(await a.backplane.subscriberCount('room'), 9);
    await until('the periodic refresh', async () => (await c.backplane.subscriberCount('room')) === 9, 5000);

    b.leave('room');
    await until('b leaving', async () => (await c.backplane.subscriberCount('room')) === 7, 5000);

    // A node that died without close(): its field stays, but its liveness key expires.
    const raw = createClient({ url: redis.url });
    raw.on('error', () => {});
    await raw.connect();
    const prefix = `test${prefixCounter}:`;
    const deadId = 'ff'.repeat(16);
    await raw.hSet(`${prefix}count:room`, deadId, '100');
    await raw.set(`${prefix}node:${deadId}`, '1', { PX: 300 });
    assert.equal(await c.backplane.subscriberCount('room'), 107);
    await until('the dead node to drop out', async () => (await c.backplane.subscriberCount('room')) === 7, 5000);
    await until('its field to be removed', async () => Number(await raw.hExists(`${prefix}count:room`, deadId)) === 0, 5000);

    // close() removes the node's fields at once.
    await a.backplane.close();
    assert.equal(await c.backplane.subscriberCount('room'), 0);
    assert.equal(await raw.exists(`${prefix}node:${a.backplane.nodeId}`), 0);
    raw.destroy();
    await closeAll();
  });

  it('survives a Redis restart: publish rejects while it is down, then it reconnects and resubscribes by itself', async () => {
    const own = await RedisServer.start();
    try {
      const channelPrefix = `restart${++prefixCounter}:`;
      const options = { url: own.url, channelPrefix, reconnect: { minDelayMs: 50, maxDelayMs: 500 }, countIntervalMs: 1000 };
      const a = new FakeNode('A', options);
      const b = new FakeNode('B', options);
      open.push(a, b);
      for (const node of [a, b]) {
        node.join('fence');
        node.join('live');
      }
      b.join('gone');
      await ready([a, b]);
      await a.backplane.publish('live', Buffer.from('before'), false);
      await until('the first message', () => b.has('live', 'before'));

      // Mid-stream: a publishes continuously while Redis goes away.
      let stop = false;
      const outcomes: Array<'ok' | Error> = [];
      const stream = (async () => {
        for (let i = 0; !stop; i++) {
          outcomes.push(await a.backplane.publish('live', Buffer.from(`stream ${i}`), false).then(() => 'ok' as const, (error: Error) => error));
          await sleep(5);
        }
      })();
      await until('some publishes', () => outcomes.length > 10);
      await own.stop();
      await until('the backplanes to notice', () => !a.backplane.connected && !b.backplane.connected);
      await until('a rejected publish in the stream', () => outcomes.some((o) => o instanceof Error));
      stop = true;
      await stream;

      await assert.rejects(a.backplane.publish('live', Buffer.from('while down'), false), (error: Error) => {
        assert.match(error.message, /RedisBackplane: Redis is unreachable/);
        return true;
      });
      await assert.rejects(b.backplane.subscriberCount('live'), /unreachable/);
      assert.ok(a.errors.length > 0, 'connection errors go to onError');
      // Calls while disconnected are remembered.
      b.join('later');
      b.leave('gone');

      // A topic the server has local subscribers for but never told the backplane about (it asks
      // node.localTopics() on reconnection).
      b.counts.set('silent', 1);

      await own.restart();
      // Without ready(): the backplanes reconnect and resubscribe by themselves.
      await until('the reconnection', () => a.backplane.connected && b.backplane.connected);
      const channels = ['live', 'later', 'gone', 'silent'].map((topic) => channelPrefix + topic);
      await until('the subscriptions to be restored', async () => (await numsub(own.url, channels)).join() === '2,1,0,1');
      // No subscribe() call for 'live' since: the backplane resubscribed by itself.
      await a.backplane.publish('live', Buffer.from('after'), false);
      await a.backplane.publish('later', Buffer.from('later'), false);
      await a.backplane.publish('gone', Buffer.from('gone'), false);
      await a.backplane.publish('silent', Buffer.from('silent'), false);
      await fence([a, b]);
      assert.deepEqual(b.texts('silent'), ['silent']);
      assert.ok(b.has('live', 'after'));
      assert.deepEqual(b.texts('later'), ['later']);
      assert.deepEqual(b.texts('gone'), []);
      assert.ok(!b.has('live', 'while down'));
      // The stream across the outage: Redis Pub/Sub is at most once (a message Redis accepted just as it
      // went down may be lost, one whose reply was lost may have arrived), but never twice, never out of order.
      const delivered = b.texts('live').filter((text) => text.startsWith('stream ')).map((text) => Number(text.slice(7)));
      assert.ok(delivered.length > 0);
      assert.ok(delivered.every((seq, i) => i === 0 || seq > delivered[i - 1]!), 'in order, no duplicates');
      assert.ok(delivered.every((seq) => seq < outcomes.length));
      // The counts come back with the reconnection (Redis lost them).
      await until('the counts', async () => (await b.backplane.subscriberCount('live')) === 2, 5000);
      await Promise.all([a.backplane.close(), b.backplane.close()]);
    } finally {
      await own.dispose();
    }
  });

  it('takes its connection settings from a given client (duplicate()), leaving that client alone', async () => {
    const given = createClient({ url: redis.url });
    const channelPrefix = `client${++prefixCounter}:`;
    const a = new FakeNode('A', { client: given, channelPrefix });
    const b = new FakeNode('B', { url: redis.url, channelPrefix });
    open.push(a, b);
    a.join('t');
    b.join('t');
    await ready([a, b]);
    await b.backplane.publish('t', Buffer.from('to a'), false);
    await a.backplane.publish('t', Buffer.from('to b'), true);
    await until('both messages', () => a.has('t', 'to a') && b.has('t', 'to b'));
    assert.equal(given.isOpen, false, 'the given client is not connected by the backplane');
    assert.deepEqual(await numsub(redis.url, [`${channelPrefix}t`]), [2]);
    await closeAll();
    assert.deepEqual(await numsub(redis.url, [`${channelPrefix}t`]), [0], 'close() unsubscribed');
    assert.throws(() => new RedisBackplane({ url: redis.url, client: given }), /either url or client/);
  });

  it('after close(): publish and ready reject, close is idempotent', async () => {
    const [a] = nodes(1) as [FakeNode];
    a.join('t');
    await ready([a]);
    await a.backplane.close();
    await a.backplane.close();
    await assert.rejects(a.backplane.publish('t', Buffer.from('x'), false), /closed/);
    await assert.rejects(a.backplane.ready(), /closed/);
    a.backplane.subscribe('t'); // ignored, no throw
  });

  async function runExitFixture(url: string, mode: string): Promise<{ code: number | null; stdout: string; ms: number }> {
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/node/fixtures/redis-backplane-exit.ts', url, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    clearTimeout(timer);
    if (code !== 0) console.log(stderr);
    return { code, stdout, ms: Date.now() - started };
  }

  it('close() leaves no timer or connection behind: the process exits by itself', async () => {
    const { code, stdout } = await runExitFixture(redis.url, 'up');
    assert.equal(stdout.trim(), 'closed');
    assert.equal(code, 0, 'exited by itself (not killed after 20 s)');
  });

  it('close() while Redis is unreachable does not hang, and leaves nothing behind either', async () => {
    const gone = await RedisServer.start();
    const url = gone.url;
    await gone.dispose();
    const { code, stdout } = await runExitFixture(url, 'down');
    assert.equal(stdout.trim(), 'closed');
    assert.equal(code, 0, 'exited by itself (not killed after 20 s)');
  });
});
