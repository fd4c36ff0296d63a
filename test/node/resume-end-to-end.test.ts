/**
 * The resume subprotocol end to end: the real `ResumingClient` (src/node/resuming-client.ts) against the
 * real server (`WebSocketServer({ history, resume })`), with a MemoryHistory and with a RedisHistory on a
 * real redis-server (test/helpers/redis.ts; those tests skip with a notice naming the Debian package when
 * it is missing). Clients go through a TCP relay (test/helpers/relay.ts) whose target a test switches to
 * move them between servers, or whose links it drops and refuses to keep them away.
 *
 * What it pins: live messages with their positions; a resume after the server drops the connection
 * while publishes go on (nothing missed, nothing twice); a resume on another server of the same Redis;
 * every hole told (trimmed by count or age, a new epoch after FLUSHALL or a restart of a memory server);
 * `from: 'start'` after an age trim replays what is kept; idempotent sends applied once across a drop
 * and across servers; a server restart on the same port with Redis loses nothing; `maxPendingSends`
 * (close 1008, final); the 'drop' slow-consumer policy does not cost a resume subscriber a message; a
 * Redis outage in the middle of a replay (close 1013, the client resumes once Redis is back).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createClient } from 'redis';
import { ResumingClient, WebSocketServer, type ServerOptions, type WebSocket } from '../../src/node/index.js';
import { MemoryHistory } from '../../src/node/memory-history.js';
import type { HistoryBounds, HistoryStore, Position } from '../../src/node/history.js';
import type { ResumeOptions } from '../../src/node/resume-session.js';
import { kBroadcast } from '../../src/node/websocket.js';
import type { FramedMessage } from '../../src/node/framed-message.js';
import { RedisHistory } from '../../src/redis.js';
import { RedisServer, redisSkipReason } from '../helpers/redis.js';
import { TcpRelay } from '../helpers/relay.js';
import { range, ResumeTestClient, until } from '../helpers/resume-client.js';
import { scaled } from '../helpers/time.js';

const redisSkip = redisSkipReason();
let redis: RedisServer | null = null;
let prefixes = 0;

before(async () => {
  if (redisSkip === false) redis = await RedisServer.start();
});
after(async () => {
  await redis?.dispose();
});

type Kind = 'memory' | 'redis';

/** Topics `h:*` keep 100,000 messages, `small:*` 5, `aged:*` 1,000 for 300 ms; the rest none. */
function bounds(topic: string): HistoryBounds | null {
  if (topic.startsWith('h:')) return { maxMessages: 100_000 };
  if (topic.startsWith('small:')) return { maxMessages: 5 };
  if (topic.startsWith('aged:')) return { maxMessages: 1000, maxAgeMs: AGE_MS };
  return null;
}
const AGE_MS = 300;

/** Fast reconnects, no jitter: the tests wait for outcomes, never for a delay. */
const FAST = { initialDelay: 20, maxDelay: 200, jitter: 0 } as const;

interface ServerNode {
  readonly wss: WebSocketServer;
  readonly port: number;
  readonly url: string;
  readonly store: HistoryStore;
}

interface NodeOptions {
  port?: number;
  /** The Redis key prefix (servers with the same one share the history). */
  prefix?: string;
  /** The Redis URL (default: the test's redis-server). */
  redisUrl?: string;
  server?: Partial<ServerOptions>;
  resume?: Partial<ResumeOptions>;
}

async function startNode(kind: Kind, options: NodeOptions = {}): Promise<ServerNode> {
  const store: HistoryStore =
    kind === 'memory'
      ? new MemoryHistory()
      : new RedisHistory({ url: options.redisUrl ?? redis!.url, prefix: options.prefix ?? 'e2e:', reconnect: { minDelayMs: 20, maxDelayMs: 200 } });
  const wss = new WebSocketServer({
    port: options.port ?? 0,
    host: '127.0.0.1',
    heartbeat: false,
    history: { store, topics: bounds },
    resume: { authorize: () => true, ...options.resume },
    ...options.server,
  });
  await once(wss, 'listening');
  if (store instanceof RedisHistory && options.redisUrl === undefined) await until(() => store.connected, 'connected to Redis');
  const port = (wss.address() as { port: number }).port;
  return { wss, port, url: `ws://127.0.0.1:${port}`, store };
}

/** Close a server as a deploy does: a closing handshake (1001) with every client, then the store. */
async function stopNode(node: ServerNode): Promise<void> {
  await new Promise<void>((resolve) => node.wss.close(() => resolve()));
}

/** Drop every connection of a server without a closing handshake (the client sees 1006). */
function dropClients(node: ServerNode): number {
  let count = 0;
  for (const ws of node.wss.clients) {
    ws.terminate();
    count++;
  }
  return count;
}

/** What the server's slow-consumer policy refused on `node`'s connections, and its newest connection. */
interface Refusals {
  /** Broadcast frames a connection did not take (the 'drop' policy dropped them). */
  refused: number;
  last: WebSocket | null;
}

/** Counts, on every connection `node` accepts from now on, the broadcast frames the slow-consumer policy refuses. */
function watchRefusals(node: ServerNode): Refusals {
  const watch: Refusals = { refused: 0, last: null };
  node.wss.on('connection', (ws) => {
    watch.last = ws;
    const original = ws[kBroadcast].bind(ws);
    ws[kBroadcast] = (message: FramedMessage, compress: boolean | undefined): boolean => {
      const taken = original(message, compress);
      if (!taken) watch.refused++;
      return taken;
    };
  });
  return watch;
}

function publish(node: ServerNode, topic: string, data: string | Buffer): Promise<Position> {
  return new Promise((resolve, reject) => node.wss.publish(topic, data, {}, (error, position) => (error ? reject(error) : resolve(position!))));
}

async function publishMany(node: ServerNode, topic: string, from: number, to: number, payload = (i: number): string => `m${i}`): Promise<Position[]> {
  const all: Array<Promise<Position>> = [];
  for (let i = from; i <= to; i++) all.push(publish(node, topic, payload(i)));
  return Promise.all(all);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface Got {
  readonly topic: string;
  readonly data: string;
  readonly epoch: string;
  readonly offset: number;
  readonly replayed: boolean;
}

/** Records what a ResumingClient tells its application. */
class Recorder {
  readonly client: ResumingClient;
  readonly messages: Got[] = [];
  readonly gaps: Array<{ topic: string; reason: string; epoch: string; offset: number }> = [];
  readonly subscribed: Array<{ topic: string; epoch: string; offset: number; replay: number; gap: string | null }> = [];
  readonly reconnecting: Array<{ code: number; error: string | null }> = [];
  readonly refused: Array<{ topic: string | null; code: string }> = [];
  readonly acked: number[] = [];
  readonly errors: Error[] = [];
  opens = 0;
  closed: number | null = null;

  constructor(url: string, options: ConstructorParameters<typeof ResumingClient>[1] = {}) {
    const client = new ResumingClient(url, { reconnect: FAST, heartbeat: false, ...options });
    this.client = client;
    client.on('open', () => this.opens++);
    client.on('message', (topic, data, info) => {
      this.messages.push({ topic, data: typeof data === 'string' ? data : `bytes ${data.toString('hex')}`, ...info });
    });
    client.on('gap', (topic, info) => this.gaps.push({ topic, ...info }));
    client.on('subscribed', (topic, info) => this.subscribed.push({ topic, ...info }));
    client.on('reconnecting', (event) => this.reconnecting.push({ code: event.code, error: event.error === undefined || event.error === null ? null : ((event.error as { code?: string }).code ?? event.error.message) }));
    client.on('refused', (topic, refusal) => this.refused.push({ topic, code: refusal.code }));
    client.on('acked', (seq) => this.acked.push(seq));
    client.on('error', (error) => this.errors.push(error));
    client.on('close', (code) => (this.closed = code));
  }

  of(topic: string): Got[] {
    return this.messages.filter((message) => message.topic === topic);
  }

  offsets(topic: string): number[] {
    return this.of(topic).map((message) => message.offset);
  }

  get open(): boolean {
    return this.client.readyState === 1;
  }

  async close(): Promise<void> {
    if (this.closed !== null) return;
    const closed = once(this.client, 'close');
    this.client.close();
    await closed;
  }
}

function redisDescribe(kind: Kind): string | false {
  return kind === 'redis' ? redisSkip : false;
}

for (const kind of ['memory', 'redis'] as const) {
  describe(`ResumingClient ↔ WebSocketServer (${kind} history)`, { skip: redisDescribe(kind) }, () => {
    it('delivers live messages with the positions the publish callbacks got; subscribed gives where the stream continues', async () => {
      const node = await startNode(kind, { prefix: `live${++prefixes}:` });
      const rec = new Recorder(node.url);
      try {
        rec.client.subscribe('h:live');
        await until(() => rec.subscribed.length === 1, 'subscribed');
        const first = await node.store.position('h:live');
        assert.deepEqual(rec.subscribed, [{ topic: 'h:live', epoch: first.epoch, offset: 0, replay: 0, gap: null }]);
        const positions = await publishMany(node, 'h:live', 1, 4);
        positions.push(await publish(node, 'h:live', Buffer.from([0, 1, 255])));
        await until(() => rec.messages.length === 5, 'five messages');
        assert.deepEqual(
          rec.messages,
          positions.map((position, i) => ({ topic: 'h:live', data: i === 4 ? 'bytes 0001ff' : `m${i + 1}`, epoch: position.epoch, offset: position.offset, replayed: false })),
        );
        assert.deepEqual(positions.map((position) => position.offset), [1, 2, 3, 4, 5]);
        assert.deepEqual(rec.client.position('h:live'), positions[4]);
        assert.deepEqual([rec.gaps, rec.errors, rec.reconnecting], [[], [], []]);
      } finally {
        await rec.close();
        await stopNode(node);
      }
    });

    it('resumes after the server drops the connection while publishes go on: every message once, in order, no gap', { timeout: scaled(120_000) }, async () => {
      const node = await startNode(kind, { prefix: `drop${++prefixes}:` });
      const rec = new Recorder(node.url);
      try {
        await publishMany(node, 'h:drop', 1, 5); // before the client: replayed (from 'start')
        rec.client.subscribe('h:drop', { from: 'start' });
        await until(() => rec.of('h:drop').length === 5, 'the replay');
        const N = 400;
        let drops = 0;
        let firstDrop: () => void = () => {};
        const dropped = new Promise<void>((resolve) => (firstDrop = resolve));
        const publisher = (async () => {
          for (let i = 6; i <= N; i++) {
            await publish(node, 'h:drop', `m${i}`);
            if (i === 100) await dropped; // some are published while the client is away, for sure
            if (i % 10 === 0) await delay(2);
          }
        })();
        while (drops < 3) {
          const seen = rec.messages.length;
          await until(() => rec.open && rec.messages.length > seen, `connected and receiving (drop ${drops + 1})`, 30_000);
          if (dropClients(node) > 0) drops++;
          firstDrop();
        }
        await publisher;
        await until(() => rec.of('h:drop').length >= N, 'every message', 60_000);
        // The last drop may come after the last message: the client is then still on its way back.
        await until(() => rec.open, 'open again after the last drop', 30_000);
        assert.deepEqual(rec.offsets('h:drop'), range(1, N));
        assert.deepEqual(rec.of('h:drop').map((message) => message.data), range(1, N).map((i) => `m${i}`));
        assert.deepEqual(rec.gaps, []);
        assert.deepEqual(rec.errors, []);
        assert.ok(rec.reconnecting.length >= 3 && rec.reconnecting.every((event) => event.code === 1006), JSON.stringify(rec.reconnecting));
        assert.equal(rec.opens, rec.reconnecting.length + 1);
      } finally {
        await rec.close();
        await stopNode(node);
      }
    });

    it('applies an idempotent send once when the connection drops between the handler and its ack', async () => {
      const node = await startNode(kind, { prefix: `send${++prefixes}:` });
      const counts = new Map<string, number>();
      let dropOn: string | null = 's2';
      node.wss.on('connection', (ws) => {
        ws.on('message', async (data) => {
          const text = (data as Buffer).toString();
          counts.set(text, (counts.get(text) ?? 0) + 1);
          if (text === dropOn) {
            dropOn = null;
            ws.terminate(); // applied, never acked on this connection
            await delay(50);
          }
        });
      });
      const rec = new Recorder(node.url);
      try {
        await until(() => rec.open, 'open');
        const results: Array<[string, Error | null]> = [];
        const note = (name: string) => (error: Error | null) => results.push([name, error]);
        assert.equal(rec.client.send('s1', note('s1')), 1);
        await until(() => results.length === 1, 'the first ack');
        assert.equal(rec.client.send('s2', note('s2')), 2);
        await until(() => rec.reconnecting.length === 1, 'the drop');
        assert.equal(rec.client.send(Buffer.from('s3'), note('s3')), 3); // while away (or just back)
        await until(() => results.length === 3, 'every ack');
        assert.deepEqual(results, [['s1', null], ['s2', null], ['s3', null]]);
        assert.deepEqual([...counts], [['s1', 1], ['s2', 1], ['s3', 1]]);
        assert.equal(rec.client.unacked, 0);
        assert.equal(rec.acked.at(-1), 3);
      } finally {
        await rec.close();
        await stopNode(node);
      }
    });

    it('tells a gap when the messages after its position were trimmed by count while it was away, then goes on live', async () => {
      const node = await startNode(kind, { prefix: `trim${++prefixes}:` });
      const proxy = await TcpRelay.start(node.port);
      const rec = new Recorder(proxy.url);
      try {
        rec.client.subscribe('small:t');
        await until(() => rec.subscribed.length === 1, 'subscribed');
        await publishMany(node, 'small:t', 1, 2);
        await until(() => rec.messages.length === 2, 'two');
        proxy.refuse = true;
        proxy.drop();
        await until(() => !rec.open, 'away');
        const positions = await publishMany(node, 'small:t', 3, 12); // 8 to 12 are kept
        proxy.refuse = false;
        await until(() => rec.gaps.length === 1, 'the gap');
        const top = positions.at(-1)!;
        assert.deepEqual(rec.gaps, [{ topic: 'small:t', reason: 'trimmed', epoch: top.epoch, offset: 12 }]);
        assert.deepEqual(rec.subscribed.at(-1), { topic: 'small:t', epoch: top.epoch, offset: 12, replay: 0, gap: 'trimmed' });
        await publish(node, 'small:t', 'm13');
        await until(() => rec.messages.length === 3, 'the next live message');
        assert.deepEqual(rec.offsets('small:t'), [1, 2, 13]);
        // A new client asking for everything kept gets the five kept, with the gap (the older are gone).
        const late = new Recorder(node.url);
        late.client.subscribe('small:t', { from: 'start' });
        await until(() => late.messages.length === 5, 'what is kept');
        assert.deepEqual(late.offsets('small:t'), [9, 10, 11, 12, 13]);
        assert.deepEqual(late.gaps.map((gap) => [gap.reason, gap.offset]), [['trimmed', 8]]);
        await late.close();
        assert.deepEqual(rec.errors, []);
      } finally {
        await rec.close();
        await proxy.close();
        await stopNode(node);
      }
    });

    it('from "start" after an age trim replays what is still kept (with the trimmed gap), not just what comes next', async () => {
      const node = await startNode(kind, { prefix: `aged${++prefixes}:` });
      try {
        await publishMany(node, 'aged:a', 1, 3);
        await delay(AGE_MS * 2); // 1 to 3 are older than the bound: gone
        const kept = await publishMany(node, 'aged:a', 4, 5);
        const rec = new Recorder(node.url);
        rec.client.subscribe('aged:a', { from: 'start' });
        await until(() => rec.messages.length === 2, 'the two kept');
        assert.deepEqual(rec.subscribed, [{ topic: 'aged:a', epoch: kept[0]!.epoch, offset: 3, replay: 2, gap: 'trimmed' }]);
        assert.deepEqual(rec.gaps, [{ topic: 'aged:a', reason: 'trimmed', epoch: kept[0]!.epoch, offset: 3 }]);
        assert.deepEqual(
          rec.messages.map((message) => [message.offset, message.data, message.replayed]),
          [
            [4, 'm4', true],
            [5, 'm5', true],
          ],
        );
        await rec.close();
      } finally {
        await stopNode(node);
      }
    });
  });
}

describe('ResumingClient ↔ WebSocketServer: restarts and epochs (memory history)', () => {
  it('a restarted memory server is a new epoch: the client is told (gap "epoch") and goes on with the new history', async () => {
    let node = await startNode('memory');
    const port = node.port;
    const rec = new Recorder(node.url);
    try {
      rec.client.subscribe('h:r', { from: 'start' });
      const old = await publishMany(node, 'h:r', 1, 3);
      await until(() => rec.messages.length === 3, 'three');
      await stopNode(node);
      node = await startNode('memory', { port });
      const fresh = await publishMany(node, 'h:r', 1, 2, (i) => `n${i}`);
      await until(() => rec.gaps.length === 1, 'the epoch gap');
      assert.notEqual(fresh[0]!.epoch, old[0]!.epoch);
      assert.deepEqual(rec.gaps, [{ topic: 'h:r', reason: 'epoch', epoch: fresh[0]!.epoch, offset: 2 }]);
      await publish(node, 'h:r', 'n3');
      await until(() => rec.messages.length === 4, 'the next message');
      assert.deepEqual(rec.messages.at(-1), { topic: 'h:r', data: 'n3', epoch: fresh[0]!.epoch, offset: 3, replayed: false });
      assert.deepEqual(rec.reconnecting.map((event) => event.code).slice(0, 1), [1001]);
      assert.deepEqual(rec.errors, []);
    } finally {
      await rec.close();
      await stopNode(node);
    }
  });
});

describe('ResumingClient ↔ WebSocketServer: limits and policies (memory history)', () => {
  it('maxPendingSends: one send more than the server lets wait for its handler closes the connection with 1008 (final for the client)', async () => {
    const node = await startNode('memory', { resume: { maxPendingSends: 3 } });
    const handled: string[] = [];
    const release: Array<() => void> = [];
    node.wss.on('connection', (ws) => {
      ws.on('message', (data) => {
        handled.push((data as Buffer).toString());
        return new Promise<void>((resolve) => release.push(resolve)); // never settles during the test
      });
    });
    const rec = new Recorder(node.url);
    try {
      await until(() => rec.open, 'open');
      const results: Array<Error | null> = [];
      for (let i = 1; i <= 5; i++) rec.client.send(`p${i}`, (error) => results.push(error));
      await until(() => rec.closed !== null, 'the close');
      assert.equal(rec.closed, 1008);
      assert.deepEqual(handled, ['p1', 'p2', 'p3']);
      assert.equal(results.length, 5);
      assert.ok(results.every((error) => error instanceof Error && /may or may not have been applied/.test(error.message)));
      assert.deepEqual(rec.reconnecting, []); // 1008 Policy Violation is a final close
    } finally {
      for (const resolve of release) resolve();
      await rec.close();
      await stopNode(node);
    }
  });

  it("the 'drop' slow-consumer policy: frames dropped for a resume subscriber are read back from the store once it drains (no gap)", { timeout: scaled(120_000) }, async () => {
    const node = await startNode('memory', { server: { slowConsumer: 'drop', maxBufferedAmount: 64 * 1024, highWaterMark: 32 * 1024 } });
    const watch = watchRefusals(node);
    const client = await ResumeTestClient.connect(node.url, { subscribe: { 'h:slow': {} } });
    try {
      await until(() => client.eventsOf('subscribed').length === 1, 'subscribed');
      client.ws!.pause(); // reads nothing: the kernel's buffers fill, then the server's
      const N = 8000;
      const payload = 'x'.repeat(4096); // 32 MB in all: more than loopback buffers hold
      for (let from = 1; from <= N; from += 1000) await publishMany(node, 'h:slow', from, Math.min(N, from + 999), () => payload);
      await until(() => watch.refused > 0, 'a frame dropped by the policy', 30_000);
      assert.ok(watch.last!.bufferedAmount < 1024 * 1024, `the server buffers ${watch.last!.bufferedAmount} bytes`);
      client.ws!.resume();
      await until(() => client.of('h:slow').length === N, 'every message', 60_000);
      assert.deepEqual(client.of('h:slow').map((message) => message.offset), range(1, N));
      assert.deepEqual(client.eventsOf('gap'), []);
      assert.deepEqual(client.errors, []);
      assert.deepEqual(client.closes, []);
    } finally {
      await client.drop();
      await stopNode(node);
    }
  });
});

describe("ResumingClient ↔ WebSocketServer: control messages under the 'drop' policy (memory history)", () => {
  it("a control message the 'drop' policy would lose (here a subscribed) fails the connection with 1013 instead; the client resumes from where it was", { timeout: scaled(120_000) }, async () => {
    const node = await startNode('memory', { server: { slowConsumer: 'drop', maxBufferedAmount: 16 * 1024, highWaterMark: 8 * 1024 } });
    const watch = watchRefusals(node);
    const client = await ResumeTestClient.connect(node.url, { subscribe: { 'h:one': {} } });
    try {
      await until(() => client.eventsOf('subscribed').length === 1, 'subscribed');
      client.ws!.pause();
      // Frames larger than maxBufferedAmount: once the kernel's buffers are full, the one the server
      // holds keeps it over the bound, and the next send (data or control) meets the policy.
      const N = 400;
      const payload = 'z'.repeat(256 * 1024);
      for (let from = 1; from <= N; from += 20) {
        await publishMany(node, 'h:one', from, from + 19, () => payload);
        await delay(100);
        if (watch.refused > 0 && watch.last!.bufferedAmount > 16 * 1024) break;
      }
      assert.ok(watch.refused > 0 && watch.last!.bufferedAmount > 16 * 1024, `dropped ${watch.refused}, buffered ${watch.last!.bufferedAmount}`);
      await publish(node, 'h:two', 'two-1');
      client.subscribe('h:two', { from: 'start' }); // its `subscribed` meets a full buffer
      await delay(200);
      client.ws!.resume();
      await until(() => client.closes.length === 1, 'the connection to fail', 30_000).catch((error: Error) => { throw new Error(`${error.message}: ${JSON.stringify({ refused: watch.refused, events: client.events.filter((e) => e.type !== 'message'), n: client.received.length, closes: client.closes, errors: client.errors.map(String) })}`); });
      assert.deepEqual(client.closes, [1013]);
      assert.deepEqual(client.eventsOf('subscribed').map((event) => (event as { topic: string }).topic), ['h:one'], 'the lost subscribed never came');
      const first = client.of('h:one').length;
      assert.deepEqual(client.of('h:one').map((message) => message.offset), range(1, first), 'what came before the close: in order, no hole');
      // The next connection resumes after the last offset received (with these tiny bounds it may meet
      // the policy again: each connection still moves on).
      await client.open(node.url);
      await until(() => client.of('h:one').length > first, 'the resume to continue', 30_000);
      assert.deepEqual(client.of('h:one').map((message) => message.offset), range(1, client.of('h:one').length));
      assert.deepEqual([client.eventsOf('gap'), client.errors], [[], []]);
    } finally {
      await client.drop();
      await stopNode(node);
    }
  });
});

describe('ResumingClient ↔ WebSocketServer: several servers on one Redis', { skip: redisSkip }, () => {
  it('resumes on another server of the same Redis, and a send re-sent there is applied once', async () => {
    const prefix = `move${++prefixes}:`;
    const a = await startNode('redis', { prefix });
    const b = await startNode('redis', { prefix });
    const proxy = await TcpRelay.start(a.port);
    const counts = new Map<string, number>();
    const handledOn: string[] = [];
    for (const [name, node] of [['a', a], ['b', b]] as const) {
      node.wss.on('connection', (ws) => {
        ws.on('message', async (data) => {
          const text = (data as Buffer).toString();
          counts.set(text, (counts.get(text) ?? 0) + 1);
          handledOn.push(`${name} ${text}`);
          if (text === 'x1') {
            // The load balancer sends the next connection to b, and this one ends before the ack.
            proxy.target = b.port;
            proxy.drop();
            await delay(50);
          }
        });
      });
    }
    const rec = new Recorder(proxy.url);
    try {
      rec.client.subscribe('h:move', { from: 'start' });
      await publishMany(a, 'h:move', 1, 10);
      await until(() => rec.messages.length === 10, 'ten');
      const results: Array<Error | null> = [];
      rec.client.send('x1', (error) => results.push(error));
      await until(() => rec.reconnecting.length === 1, 'the move');
      const more = Promise.all([publishMany(b, 'h:move', 11, 20), publishMany(a, 'h:move', 21, 30)]);
      await until(() => b.wss.clients.size === 1, 'connected to b');
      await more;
      rec.client.send('x2', (error) => results.push(error));
      await until(() => rec.messages.length === 30 && results.length === 2, 'everything', 20_000);
      assert.deepEqual(rec.offsets('h:move'), range(1, 30));
      assert.deepEqual(new Set(rec.of('h:move').map((message) => message.data)), new Set(range(1, 30).map((i) => `m${i}`)));
      assert.deepEqual(results, [null, null]);
      assert.deepEqual([...counts], [['x1', 1], ['x2', 1]]);
      assert.deepEqual(handledOn, ['a x1', 'b x2']);
      assert.deepEqual([rec.gaps, rec.errors], [[], []]);
    } finally {
      await rec.close();
      await proxy.close();
      await Promise.all([stopNode(a), stopNode(b)]);
    }
  });

  it('tells an epoch gap after FLUSHALL, to a client that was away and to one that is live', async () => {
    const node = await startNode('redis', { prefix: `flush${++prefixes}:` });
    const proxy = await TcpRelay.start(node.port);
    const admin = createClient({ url: redis!.url });
    await admin.connect();
    const rec = new Recorder(proxy.url);
    try {
      rec.client.subscribe('h:flush', { from: 'start' });
      const old = await publishMany(node, 'h:flush', 1, 3);
      await until(() => rec.messages.length === 3, 'three');
      proxy.refuse = true;
      proxy.drop();
      await until(() => !rec.open, 'away');
      await admin.flushAll();
      const fresh = await publishMany(node, 'h:flush', 1, 2, (i) => `n${i}`);
      assert.notEqual(fresh[0]!.epoch, old[0]!.epoch);
      proxy.refuse = false;
      await until(() => rec.gaps.length === 1, 'the epoch gap (away)');
      assert.deepEqual(rec.gaps[0], { topic: 'h:flush', reason: 'epoch', epoch: fresh[0]!.epoch, offset: 2 });
      await publish(node, 'h:flush', 'n3');
      await until(() => rec.messages.length === 4, 'n3');
      assert.deepEqual(rec.messages.at(-1), { topic: 'h:flush', data: 'n3', epoch: fresh[0]!.epoch, offset: 3, replayed: false });
      // Live: the server's feed sees the new epoch and resets the subscription.
      await admin.flushAll();
      const third = await publish(node, 'h:flush', 'o1');
      await until(() => rec.messages.length === 5, 'o1');
      assert.deepEqual(rec.gaps[1], { topic: 'h:flush', reason: 'epoch', epoch: third.epoch, offset: 0 });
      assert.deepEqual(rec.messages.at(-1), { topic: 'h:flush', data: 'o1', epoch: third.epoch, offset: 1, replayed: false });
      assert.equal(rec.gaps.length, 2);
      assert.deepEqual(rec.errors, []);
    } finally {
      await rec.close();
      await admin.close();
      await proxy.close();
      await stopNode(node);
    }
  });

  it('a server restarted on the same port (close, then a new server) loses nothing: publishes from another server go on meanwhile', { timeout: scaled(120_000) }, async () => {
    const prefix = `restart${++prefixes}:`;
    let node = await startNode('redis', { prefix });
    const publisher = await startNode('redis', { prefix });
    const port = node.port;
    const rec = new Recorder(node.url);
    try {
      rec.client.subscribe('h:restart', { from: 'start' });
      await until(() => rec.subscribed.length === 1, 'subscribed');
      const N = 300;
      let restarted: () => void = () => {};
      const restartDone = new Promise<void>((resolve) => (restarted = resolve));
      let stopped: () => void = () => {};
      const stopDone = new Promise<void>((resolve) => (stopped = resolve));
      const publishing = (async () => {
        for (let i = 1; i <= N; i++) {
          await publish(publisher, 'h:restart', `m${i}`);
          if (i === 100) await stopDone; // 101 ... are published while the server is down
          if (i === 150) await restartDone;
          if (i % 10 === 0) await delay(2);
        }
      })();
      await until(() => rec.messages.length >= 50, 'some messages');
      await stopNode(node);
      stopped();
      await delay(100);
      node = await startNode('redis', { prefix, port });
      restarted();
      await publishing;
      await until(() => rec.messages.length >= N, 'every message', 60_000);
      assert.deepEqual(rec.offsets('h:restart'), range(1, N));
      assert.deepEqual(rec.of('h:restart').map((message) => message.data), range(1, N).map((i) => `m${i}`));
      assert.deepEqual([rec.gaps, rec.errors], [[], []]);
      assert.equal(rec.reconnecting[0]?.code, 1001);
    } finally {
      await rec.close();
      await Promise.all([stopNode(node), stopNode(publisher)]);
    }
  });

  it('a Redis outage in the middle of a replay closes with 1013; the client resumes where it was once Redis is back', { timeout: scaled(180_000) }, async () => {
    const redisProxy = await TcpRelay.start(redis!.port);
    const prefix = `outage${++prefixes}:`;
    const node = await startNode('redis', { prefix, redisUrl: `redis://127.0.0.1:${redisProxy.port}`, server: { highWaterMark: 64 * 1024 } });
    await until(() => (node.store as RedisHistory).connected, 'connected to Redis');
    const N = 10_000;
    const payload = 'y'.repeat(4096); // 40 MB: the replay reads the store many times while it sends
    for (let from = 1; from <= N; from += 1000) await publishMany(node, 'h:out', from, Math.min(N, from + 999), () => payload);
    const rec = new Recorder(node.url);
    let cut = false;
    rec.client.on('message', () => {
      if (!cut && rec.messages.length >= 500) {
        cut = true; // Redis goes away while the server has thousands of entries still to read
        redisProxy.refuse = true;
        redisProxy.drop();
      }
    });
    try {
      rec.client.subscribe('h:out', { from: 'start' });
      await until(() => rec.reconnecting.some((event) => event.code === 1013), 'the 1013 close', 60_000);
      await delay(300);
      redisProxy.refuse = false;
      await until(() => rec.messages.length >= N, 'the whole replay', 120_000);
      assert.deepEqual(rec.offsets('h:out'), range(1, N));
      assert.deepEqual([rec.gaps, rec.errors], [[], []]);
      assert.ok(rec.messages.length < N + 1);
    } finally {
      await rec.close();
      await stopNode(node);
      await redisProxy.close();
    }
  });
});
