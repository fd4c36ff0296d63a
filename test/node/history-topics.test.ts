/**
 * Topics with history on a WebSocketServer (src/node/history-topics.ts) in one process (MemoryHistory):
 * the options, publishing through the store, live delivery with positions, resuming after missed
 * messages, gaps, plain and resume subscribers of one topic framed once each, the seam under concurrent
 * publishing, and a replay that respects the connection's backpressure.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket, WebSocketServer } from '../../src/node/index.js';
import { MemoryHistory } from '../../src/node/memory-history.js';
import { kBroadcast } from '../../src/node/websocket.js';
import type { FramedMessage } from '../../src/node/framed-message.js';
import type { Position } from '../../src/node/history.js';
import { RESUME_SUBPROTOCOL } from '../../src/protocol/resume-wire.js';
import { nextEvent, startServer, stopServer } from '../helpers/net.js';
import { offsets, range, ResumeTestClient, until } from '../helpers/resume-client.js';
import { scaled } from '../helpers/time.js';

type Options = ConstructorParameters<typeof WebSocketServer>[0];

/** A server whose topics starting with `h:` keep history (the given bounds), open to every resume client. */
async function historyServer(options: Partial<Options> = {}, bounds: { maxMessages: number; maxAgeMs?: number } | true = true) {
  return startServer({
    heartbeat: false,
    history: { topics: (topic) => (topic.startsWith('h:') ? bounds : null) },
    resume: { authorize: () => true },
    ...options,
  });
}

function publish(wss: WebSocketServer, topic: string, data: string | Buffer): Promise<Position> {
  return new Promise((resolve, reject) => wss.publish(topic, data, {}, (error, position) => (error ? reject(error) : resolve(position!))));
}

async function publishMany(wss: WebSocketServer, topic: string, from: number, to: number): Promise<void> {
  const all: Array<Promise<Position>> = [];
  for (let i = from; i <= to; i++) all.push(publish(wss, topic, `m${i}`));
  await Promise.all(all);
}

/** A resume client subscribed live to `topic`, once the server confirmed it (`subscribed`). */
async function subscribedClient(url: string, topic: string): Promise<ResumeTestClient> {
  const client = await ResumeTestClient.connect(url, { subscribe: { [topic]: {} } });
  await until(() => client.eventsOf('subscribed').length === 1, 'subscribed');
  return client;
}

describe('history options', () => {
  it('checks history and resume with TypeErrors naming the option', () => {
    const base = { noServer: true } as const;
    assert.throws(() => new WebSocketServer({ ...base, history: { topics: 42 as never } }), /history\.topics/);
    assert.throws(() => new WebSocketServer({ ...base, history: { topics: { a: { maxMessages: 0 } } } }), /maxMessages/);
    assert.throws(() => new WebSocketServer({ ...base, history: { topics: () => true, store: {} as never } }), /history\.store/);
    assert.throws(() => new WebSocketServer({ ...base, resume: { authorize: () => true } }), /needs the history option/);
    assert.throws(() => new WebSocketServer({ ...base, history: { topics: () => true }, resume: {} as never }), /resume\.authorize/);
    assert.throws(() => new WebSocketServer({ ...base, history: { topics: () => true }, resume: { authorize: () => true, sessionTtlMs: -1 } }), /resume\.sessionTtlMs/);
    const wss = new WebSocketServer({ ...base, history: { topics: new Map([['a', true]]) }, resume: { authorize: () => true } });
    wss.close();
  });

  it('takes a function, a Map or an object of names (true: the default 1,000 messages)', async () => {
    for (const topics of [(topic: string) => (topic === 'a' ? { maxMessages: 2 } : topic === 'b'), new Map<string, true | { maxMessages: number }>([['a', { maxMessages: 2 }], ['b', true]]), { a: { maxMessages: 2 }, b: true as const }]) {
      const store = new MemoryHistory();
      const wss = new WebSocketServer({ noServer: true, history: { topics, store } });
      for (let i = 0; i < 3; i++) await publish(wss, 'a', `a${i}`);
      await publish(wss, 'b', 'b0');
      wss.publish('__proto__', 'plain');
      assert.equal((await store.read('a', null, 0, 10)).kind, 'gone', 'a keeps 2');
      assert.deepEqual(await store.read('a', null, 1, 10).then((read) => (read.kind === 'entries' ? read.entries.map((entry) => String(entry.payload)) : [])), ['a1', 'a2']);
      assert.equal((await store.position('b')).offset, 1);
      assert.equal((await store.position('__proto__')).offset, 0, 'not a history topic');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    }
  });

  it('selects the resume subprotocol only when resume is enabled, before handleProtocols', async () => {
    const seen: string[][] = [];
    const handleProtocols = (offered: Set<string>): string | false => {
      seen.push([...offered]);
      return offered.has('chat') ? 'chat' : false;
    };
    const plain = await startServer({ heartbeat: false });
    const resume = await historyServer({ handleProtocols });
    const withHandler = await startServer({ heartbeat: false, handleProtocols });
    try {
      const protocolOf = async (url: string, protocols: string[]): Promise<string> => {
        const ws = new WebSocket(url, protocols);
        await nextEvent(ws, 'open');
        const protocol = ws.protocol;
        ws.close();
        await nextEvent(ws, 'close');
        return protocol;
      };
      assert.equal(await protocolOf(plain.url, [RESUME_SUBPROTOCOL]), '', 'a server without resume does not select it');
      assert.equal(await protocolOf(plain.url, [RESUME_SUBPROTOCOL, 'chat']), 'chat');
      assert.equal(await protocolOf(resume.url, ['chat', RESUME_SUBPROTOCOL]), RESUME_SUBPROTOCOL);
      assert.equal(await protocolOf(resume.url, ['chat']), 'chat');
      assert.equal(await protocolOf(withHandler.url, [RESUME_SUBPROTOCOL]), '', "the user's handleProtocols decides when resume is off");
      assert.deepEqual(seen, [['chat'], [RESUME_SUBPROTOCOL]]);
    } finally {
      await Promise.all([stopServer(plain.wss), stopServer(resume.wss), stopServer(withHandler.wss)]);
    }
  });
});

describe('history topics: delivery and resume (memory)', () => {
  it('delivers live messages with contiguous positions, and the publish callback gets each position', async () => {
    const { wss, url } = await historyServer();
    try {
      const client = await subscribedClient(url, 'h:room');
      const positions: Position[] = [];
      for (let i = 1; i <= 5; i++) positions.push(await publish(wss, 'h:room', `m${i}`));
      await publish(wss, 'h:room', Buffer.from([1, 2, 3]));
      assert.deepEqual(positions.map((position) => position.offset), [1, 2, 3, 4, 5]);
      await until(() => client.of('h:room').length === 6, 'six messages');
      const got = client.of('h:room');
      assert.deepEqual(offsets(got), range(1, 6));
      assert.deepEqual(got.slice(0, 5).map((message) => message.data), ['m1', 'm2', 'm3', 'm4', 'm5']);
      assert.deepEqual([...(got[5]!.data as Uint8Array)], [1, 2, 3]);
      assert.ok(got.every((message) => message.epoch === positions[0]!.epoch && !message.replayed));
      assert.equal(wss.subscriberCount('h:room'), 1);
      assert.deepEqual(client.errors, []);
      await client.drop();
    } finally {
      await stopServer(wss);
    }
  });

  it('replays exactly what a client missed, then goes live', async () => {
    const { wss, url } = await historyServer();
    try {
      const client = await subscribedClient(url, 'h:room');
      await publishMany(wss, 'h:room', 1, 3);
      await until(() => client.of('h:room').length === 3, 'three live');
      await client.drop();
      await publishMany(wss, 'h:room', 4, 10);
      await client.open(url);
      await until(() => client.of('h:room').length === 10, 'the missed seven');
      await publishMany(wss, 'h:room', 11, 12);
      await until(() => client.of('h:room').length === 12, 'live again');
      assert.deepEqual(offsets(client.of('h:room')), range(1, 12));
      assert.deepEqual(client.of('h:room').map((message) => message.replayed), [...Array(3).fill(false), ...Array(7).fill(true), false, false]);
      const subscribed = client.eventsOf('subscribed');
      assert.deepEqual(subscribed.map((event) => (event.type === 'subscribed' ? [event.replay, event.gap] : [])), [[0, null], [7, null]]);
      assert.deepEqual(client.errors, []);
      await client.drop();
    } finally {
      await stopServer(wss);
    }
  });

  it('"start" replays everything kept; past the count bound it says trimmed and replays what is kept', async () => {
    const { wss, url } = await historyServer({}, { maxMessages: 5 });
    try {
      await publishMany(wss, 'h:a', 1, 3);
      await publishMany(wss, 'h:b', 1, 8);
      const client = await ResumeTestClient.connect(url, { subscribe: { 'h:a': { from: 'start' }, 'h:b': { from: 'start' } } });
      await until(() => client.of('h:a').length === 3 && client.of('h:b').length === 5, 'the kept messages');
      assert.deepEqual(offsets(client.of('h:a')), [1, 2, 3]);
      assert.deepEqual(offsets(client.of('h:b')), [4, 5, 6, 7, 8]);
      const gaps = client.eventsOf('gap');
      assert.equal(gaps.length, 1);
      assert.deepEqual(gaps[0], { type: 'gap', topic: 'h:b', reason: 'trimmed', position: { epoch: client.of('h:b')[0]!.epoch, offset: 3 } });
      await client.drop();
    } finally {
      await stopServer(wss);
    }
  });

  it('reports a trimmed gap and an epoch gap, and continues live from the current position', async () => {
    const { wss, url } = await historyServer({}, { maxMessages: 3 });
    try {
      const client = await subscribedClient(url, 'h:t');
      await publishMany(wss, 'h:t', 1, 2);
      await until(() => client.of('h:t').length === 2, 'two');
      const epoch = client.of('h:t')[0]!.epoch;
      await client.drop();
      await publishMany(wss, 'h:t', 3, 9); // keeps 7, 8, 9: 3..6 are gone
      await client.open(url);
      await until(() => client.eventsOf('gap').length === 1, 'the trimmed gap');
      assert.deepEqual(client.eventsOf('gap')[0], { type: 'gap', topic: 'h:t', reason: 'trimmed', position: { epoch, offset: 9 } });
      await publish(wss, 'h:t', 'm10');
      await until(() => client.of('h:t').length === 3, 'live after the gap');
      assert.deepEqual(offsets(client.of('h:t')), [1, 2, 10]);

      // A position of another epoch (the history of a server that restarted).
      const other = await ResumeTestClient.connect(url, { subscribe: { 'h:t': { from: { epoch: 'another-epoch', offset: 5 } } } });
      await until(() => other.eventsOf('gap').length === 1, 'the epoch gap');
      assert.deepEqual(other.eventsOf('gap')[0], { type: 'gap', topic: 'h:t', reason: 'epoch', position: { epoch, offset: 10 } });
      assert.deepEqual([...client.errors, ...other.errors], []);
      await Promise.all([client.drop(), other.drop()]);
    } finally {
      await stopServer(wss);
    }
  });

  it('serves plain and resume subscribers of one topic, each kind framed once per message', async () => {
    const { wss, url } = await historyServer();
    wss.on('connection', (ws, request) => {
      if (request.url?.includes('plain')) ws.subscribe('h:mixed');
    });
    const frames: Array<{ ws: WebSocket; frame: Buffer }> = [];
    const original = WebSocket.prototype[kBroadcast];
    WebSocket.prototype[kBroadcast] = function (this: WebSocket, message: FramedMessage, compress: boolean | undefined) {
      frames.push({ ws: this, frame: message.frame[0]! });
      return original.call(this, message, compress);
    };
    try {
      const resumers = await Promise.all([1, 2, 3].map(() => ResumeTestClient.connect(url, { subscribe: { 'h:mixed': {} } })));
      const plains = await Promise.all([1, 2].map(async () => {
        const ws = new WebSocket(`${url}/plain`);
        const got: string[] = [];
        ws.on('message', (data) => got.push(String(data)));
        await nextEvent(ws, 'open');
        return { ws, got };
      }));
      await until(() => resumers.every((client) => client.eventsOf('subscribed').length === 1) && wss.subscriberCount('h:mixed') === 5, 'five subscribers');
      frames.length = 0;
      await publish(wss, 'h:mixed', 'one');
      await publish(wss, 'h:mixed', 'two');
      await until(() => resumers.every((client) => client.of('h:mixed').length === 2) && plains.every((plain) => plain.got.length === 2), 'both messages everywhere');
      assert.deepEqual(plains.map((plain) => plain.got), [['one', 'two'], ['one', 'two']]);
      assert.equal(frames.length, 10, 'five subscribers, two messages');
      for (const text of ['one', 'two']) {
        const withIt = frames.filter((entry) => entry.frame.toString('latin1').endsWith(text));
        assert.equal(withIt.length, 5);
        const distinct = new Set(withIt.map((entry) => entry.frame));
        assert.equal(distinct.size, 2, `"${text}": one buffer for the three resume subscribers, one for the two plain ones`);
      }
      await Promise.all(resumers.map((client) => client.drop()));
      for (const plain of plains) plain.ws.close();
    } finally {
      WebSocket.prototype[kBroadcast] = original;
      await stopServer(wss);
    }
  });

  it('socket.publish skips the plain publisher but not a resume subscriber (it needs every offset)', async () => {
    const { wss, url } = await historyServer();
    const sockets: WebSocket[] = [];
    wss.on('connection', (ws) => {
      if (ws.protocol === '') ws.subscribe('h:chat');
      sockets.push(ws);
    });
    try {
      const plainClients = await Promise.all([1, 2].map(async () => {
        const ws = new WebSocket(url);
        const got: string[] = [];
        ws.on('message', (data) => got.push(String(data)));
        await nextEvent(ws, 'open');
        return { ws, got };
      }));
      const resumer = await ResumeTestClient.connect(url, { subscribe: { 'h:chat': {} } });
      await until(() => wss.subscriberCount('h:chat') === 3, 'three subscribers');
      const publisher = sockets[0]!;
      const results = await Promise.all([1, 2, 3].map((i) => new Promise<[Error | null, Position | undefined]>((resolve) => publisher.publish('h:chat', `p${i}`, {}, (error, position) => resolve([error, position])))));
      assert.deepEqual(results.map(([error, position]) => [error, position?.offset]), [[null, 1], [null, 2], [null, 3]]);
      await publish(wss, 'h:chat', 'server');
      await until(() => plainClients[1]!.got.length === 4 && resumer.of('h:chat').length === 4, 'deliveries');
      assert.deepEqual(plainClients[0]!.got, ['server'], 'the publisher does not get its own');
      assert.deepEqual(plainClients[1]!.got, ['p1', 'p2', 'p3', 'server']);
      assert.deepEqual(offsets(resumer.of('h:chat')), [1, 2, 3, 4]);
      for (const plain of plainClients) plain.ws.close();
      await resumer.drop();
    } finally {
      await stopServer(wss);
    }
  });

  it('refuses a topic without history and a topic authorize refuses, with an error message (the connection stays)', async () => {
    const asked: string[] = [];
    const { wss, url } = await historyServer({
      resume: {
        authorize: async (socket, topic, request) => {
          asked.push(`${topic} ${request.url}`);
          assert.equal(socket.protocol, RESUME_SUBPROTOCOL);
          return topic !== 'h:secret';
        },
      },
    });
    try {
      const client = await ResumeTestClient.connect(`${url}/?user=1`, { subscribe: { 'h:secret': {}, 'plain-topic': {}, 'h:open': {} } });
      await until(() => client.eventsOf('refused').length === 2 && client.eventsOf('subscribed').length === 1, 'answers');
      const refusals = client.eventsOf('refused').map((event) => (event.type === 'refused' ? [event.topic, event.code] : []));
      assert.deepEqual(refusals.sort(), [['h:secret', 'FD_ERR_RESUME_FORBIDDEN'], ['plain-topic', 'FD_ERR_RESUME_NO_HISTORY']]);
      assert.deepEqual(asked.sort(), ['h:open /?user=1', 'h:secret /?user=1']);
      assert.deepEqual(client.state.subscriptions(), ['h:open']);
      await publish(wss, 'h:secret', 'hidden');
      await publish(wss, 'h:open', 'visible');
      await until(() => client.of('h:open').length === 1, 'the allowed topic');
      assert.deepEqual(client.received.map((message) => message.data), ['visible']);
      assert.equal(client.ws!.readyState, WebSocket.OPEN);
      await client.drop();
    } finally {
      await stopServer(wss);
    }
  });

  it('keeps the plain API untouched for resume connections: subscribe() throws, broadcast skips them', async () => {
    const { wss, url } = await historyServer();
    const connected = new Promise<WebSocket>((resolve) => wss.once('connection', resolve));
    try {
      const client = await ResumeTestClient.connect(url);
      const ws = await connected;
      assert.throws(() => ws.subscribe('h:x'), /subscribes with its own "sub" messages/);
      assert.deepEqual(ws.topics, []);
      assert.equal(wss.broadcast('to everyone'), 0);
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(client.errors, []);
      await client.drop();
    } finally {
      await stopServer(wss);
    }
  });
});

describe('the seam under concurrent publishing (memory)', () => {
  it('20 clients resuming from various offsets while 5,000 publishes run get each offset exactly once, in order', { timeout: scaled(120_000) }, async () => {
    const { wss, url } = await historyServer({}, { maxMessages: 100_000 });
    try {
      // 1 KB messages: a replay of a few thousand fills the connection (1 MiB high-water mark), so it
      // waits for room while the publishes go on, and the seam is crossed under load.
      const body = 'x'.repeat(1000);
      const before = 5000;
      const total = before + 5000;
      let epoch = '';
      for (let i = 1; i <= before; i += 500) {
        const all: Array<Promise<Position>> = [];
        for (let j = i; j < i + 500; j++) all.push(publish(wss, 'h:seam', `${j} ${body}`));
        epoch = (await Promise.all(all))[0]!.epoch;
      }
      let published = before;
      const publishing = (async () => {
        while (published < total) {
          const all: Array<Promise<Position>> = [];
          for (let j = 0; j < 10 && published < total; j++) all.push(publish(wss, 'h:seam', `${++published} ${body}`));
          await Promise.all(all);
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
      })();
      const froms = Array.from({ length: 20 }, (_, c) => c * 250); // 0, 250, ... 4750
      const clients = await Promise.all(
        froms.map(async (from, c) => {
          await new Promise((resolve) => setTimeout(resolve, c * 10));
          return ResumeTestClient.connect(url, { subscribe: { 'h:seam': { from: { epoch, offset: from } } } });
        }),
      );
      const publishedWhenAllSubscribed = published;
      await publishing;
      await until(() => clients.every((client, c) => client.of('h:seam').length === total - froms[c]!), 'every client complete', 60_000);
      assert.ok(publishedWhenAllSubscribed < total, 'the clients subscribed while publishes ran');
      clients.forEach((client, c) => {
        assert.deepEqual(client.errors, []);
        const got = client.of('h:seam');
        assert.deepEqual(offsets(got), range(froms[c]! + 1, total), `client ${c}`);
        assert.ok(got.every((message) => String(message.data).startsWith(`${message.offset} `)), `client ${c}: each payload at its offset`);
        assert.deepEqual(client.wire, range(froms[c]! + 1, total), `client ${c}: no duplicate on the wire either`);
      });
      await Promise.all(clients.map((client) => client.drop()));
    } finally {
      await stopServer(wss);
    }
  });

  it('a replay of 100,000 entries to a client that does not read keeps server memory bounded', { timeout: scaled(120_000) }, async () => {
    const { wss, url } = await historyServer({}, { maxMessages: 200_000 });
    let serverSide: WebSocket | null = null;
    wss.on('connection', (ws) => (serverSide = ws));
    try {
      const payload = 'x'.repeat(1000);
      for (let i = 0; i < 100; i++) {
        const all: Array<Promise<Position>> = [];
        for (let j = 0; j < 1000; j++) all.push(publish(wss, 'h:big', payload));
        await Promise.all(all);
      }
      const client = await ResumeTestClient.connect(url, { subscribe: { 'h:big': { from: 'start' } } });
      client.ws!.pause(); // reads nothing: the server's buffer fills
      await until(() => serverSide !== null && serverSide.bufferedAmount > 0, 'the replay started');
      await new Promise((resolve) => setTimeout(resolve, 500));
      const buffered = serverSide!.bufferedAmount;
      assert.ok(buffered < 4 * 1024 * 1024, `the server buffers ${buffered} bytes for a paused client (100 MB of history)`);
      client.ws!.resume();
      await until(() => client.of('h:big').length === 100_000, 'the whole replay', 60_000);
      assert.deepEqual(client.errors, []);
      assert.equal(client.of('h:big').at(-1)!.offset, 100_000);
      await client.drop();
    } finally {
      await stopServer(wss);
    }
  });
});
