import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket, WebSocketServer } from '../../src/node/index.js';
import { inflateRawSync, constants as zlibConstants } from 'node:zlib';
import { Opcode } from '../../src/protocol/constants.js';
import { compressionCounts } from '../../src/node/permessage-deflate.js';
import { handshakenPeer, nextEvent, parseServerFrames, startServer, stopServer, type RawPeer } from '../helpers/net.js';
import { scaled } from '../helpers/time.js';

/** A server whose connections subscribe to the topics the client names in the URL (`/?topics=a,b`). */
async function topicServer(options: ConstructorParameters<typeof WebSocketServer>[0] = {}): Promise<{ wss: WebSocketServer; port: number; url: string; sockets: Map<string, WebSocket> }> {
  const started = await startServer({ heartbeat: false, ...options });
  const sockets = new Map<string, WebSocket>();
  started.wss.on('connection', (ws, request) => {
    const query = new URL(request.url ?? '/', 'http://x').searchParams;
    for (const topic of (query.get('topics') ?? '').split(',').filter(Boolean)) ws.subscribe(topic);
    sockets.set(query.get('name') ?? String(sockets.size), ws);
  });
  return { ...started, sockets };
}

async function client(url: string, name: string, topics: string[], options = {}): Promise<{ ws: WebSocket; messages: string[] }> {
  const ws = new WebSocket(`${url}?name=${name}&topics=${topics.join(',')}`, options);
  const messages: string[] = [];
  ws.on('message', (data, isBinary) => messages.push(isBinary ? `bin:${Buffer.from(data as Buffer).toString('hex')}` : String(data)));
  await nextEvent(ws, 'open');
  return { ws, messages };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + scaled(5000);
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function closeAll(...sockets: WebSocket[]): Promise<void> {
  await Promise.all(
    sockets.map(async (ws) => {
      if (ws.readyState === WebSocket.CLOSED) return;
      const closed = nextEvent(ws, 'close');
      ws.close();
      await closed;
    }),
  );
}

describe('topics: subscribe, publish, unsubscribe', () => {
  it('delivers to the subscribers of a topic only, text as text and binary as binary', async () => {
    const { wss, url } = await topicServer();
    const a = await client(url, 'a', ['room']);
    const b = await client(url, 'b', ['room', 'prices']);
    const c = await client(url, 'c', ['prices']);
    const d = await client(url, 'd', []);
    await until(() => wss.subscriberCount('room') === 2 && wss.subscriberCount('prices') === 2, 'subscriptions');
    assert.equal(wss.publish('room', 'hello room'), 2);
    assert.equal(wss.publish('prices', Buffer.from([1, 2, 3])), 2);
    assert.equal(wss.publish('room', 'as binary', { binary: true }), 2);
    assert.equal(wss.publish('nobody', 'lost'), 0);
    await until(() => a.messages.length === 2 && b.messages.length === 3 && c.messages.length === 1, 'deliveries');
    assert.deepEqual(a.messages, ['hello room', `bin:${Buffer.from('as binary').toString('hex')}`]);
    assert.deepEqual(b.messages, ['hello room', 'bin:010203', `bin:${Buffer.from('as binary').toString('hex')}`]);
    assert.deepEqual(c.messages, ['bin:010203']);
    assert.deepEqual(d.messages, []);
    await closeAll(a.ws, b.ws, c.ws, d.ws);
    await stopServer(wss);
  });

  it('frames once: every subscriber gets the same bytes, one frame per message', async () => {
    const { wss, port } = await topicServer();
    const peers: RawPeer[] = await Promise.all([0, 1, 2].map(() => handshakenPeer(port, '/?topics=t')));
    await until(() => wss.subscriberCount('t') === 3, 'subscriptions');
    assert.equal(wss.publish('t', 'x'.repeat(70_000)), 3);
    for (const peer of peers) {
      await peer.waitFor((bytes) => parseServerFrames(bytes).length === 1, scaled(5000), 'the frame');
      const [frame] = parseServerFrames(peer.received);
      assert.equal(frame!.opcode, Opcode.Text);
      assert.equal(frame!.payload.length, 70_000);
      peer.destroy();
    }
    await stopServer(wss);
  });

  it('socket.publish reaches everyone else on the topic, not the publisher', async () => {
    const { wss, url, sockets } = await topicServer();
    const a = await client(url, 'a', ['room']);
    const b = await client(url, 'b', ['room']);
    const c = await client(url, 'c', ['room']);
    await until(() => wss.subscriberCount('room') === 3, 'subscriptions');
    assert.equal(sockets.get('a')!.publish('room', 'from a'), 2);
    await until(() => b.messages.length === 1 && c.messages.length === 1, 'deliveries');
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.deepEqual(a.messages, []);
    assert.deepEqual(b.messages, ['from a']);
    await closeAll(a.ws, b.ws, c.ws);
    await stopServer(wss);
  });

  it('reports subscriptions; subscribing twice or unsubscribing what is not subscribed returns false', async () => {
    const { wss, url, sockets } = await topicServer();
    const a = await client(url, 'a', []);
    await until(() => sockets.has('a'), 'the connection');
    const ws = sockets.get('a')!;
    assert.equal(ws.subscribe('x'), true);
    assert.equal(ws.subscribe('x'), false);
    assert.equal(ws.subscribe('__proto__'), true); // any string is a name
    assert.deepEqual(ws.topics.sort(), ['__proto__', 'x']);
    assert.equal(ws.isSubscribed('x'), true);
    assert.equal(wss.subscriberCount('__proto__'), 1);
    assert.equal(ws.unsubscribe('x'), true);
    assert.equal(ws.unsubscribe('x'), false);
    assert.equal(ws.unsubscribe('never'), false);
    assert.equal(wss.publish('x', 'gone'), 0);
    assert.deepEqual(ws.topics, ['__proto__']);
    await closeAll(a.ws);
    await stopServer(wss);
  });

  it('unsubscribes a connection from everything when it closes', async () => {
    const { wss, url, sockets } = await topicServer();
    const a = await client(url, 'a', ['one', 'two']);
    const b = await client(url, 'b', ['two']);
    await until(() => wss.subscriberCount('two') === 2, 'subscriptions');
    const serverSide = sockets.get('a')!;
    const seenAtClose = new Promise<string[]>((resolve) => serverSide.on('close', () => resolve(serverSide.topics)));
    await closeAll(a.ws);
    assert.deepEqual(await seenAtClose, []);
    assert.equal(wss.subscriberCount('one'), 0);
    assert.equal(wss.subscriberCount('two'), 1);
    assert.equal(serverSide.subscribe('one'), false, 'a closed connection does not subscribe');
    assert.equal(wss.publish('two', 'still here'), 1);
    await until(() => b.messages.length === 1, 'delivery');
    await closeAll(b.ws);
    await stopServer(wss);
  });

  it('keeps each publisher\'s order for every subscriber, each message exactly once', async () => {
    const { wss, url, sockets } = await topicServer();
    const publishers = await Promise.all(['p0', 'p1', 'p2'].map((name) => client(url, name, [])));
    const subscribers = await Promise.all(Array.from({ length: 10 }, (_, i) => client(url, `s${i}`, ['feed'])));
    await until(() => wss.subscriberCount('feed') === 10 && sockets.size === 13, 'subscriptions');
    const count = 1000;
    for (let i = 0; i < count; i++) {
      for (let p = 0; p < 3; p++) sockets.get(`p${p}`)!.publish('feed', `${p}:${i}`);
    }
    await until(() => subscribers.every((s) => s.messages.length === 3 * count), 'every message');
    for (const { messages } of subscribers) {
      const next = [0, 0, 0];
      for (const message of messages) {
        const [p, i] = message.split(':').map(Number) as [number, number];
        assert.equal(i, next[p], `publisher ${p}: expected ${next[p]}, got ${i}`);
        next[p]!++;
      }
      assert.deepEqual(next, [count, count, count]);
    }
    await closeAll(...publishers.map((p) => p.ws), ...subscribers.map((s) => s.ws));
    await stopServer(wss);
  });

  it('a subscriber that stops reading gets the slow-consumer policy and does not hold up the others', async () => {
    const { wss, port, url, sockets } = await topicServer({ maxBufferedAmount: 1024 * 1024, slowConsumer: 'close', closeTimeout: 300 });
    const stalled = await handshakenPeer(port, '/?name=stalled&topics=t');
    stalled.socket.pause(); // reads nothing from here on
    const reader = await client(url, 'reader', ['t']);
    await until(() => wss.subscriberCount('t') === 2, 'subscriptions');
    const payload = 'y'.repeat(64 * 1024);
    // 32 MB, published at the pace of the reader (256 KiB ahead at most): far beyond what the stalled
    // peer's socket buffers (a few MB on loopback) and its 1 MiB limit hold.
    const total = 500;
    for (let i = 0; i < total; i++) {
      wss.publish('t', payload);
      if (i % 4 === 3) await until(() => reader.messages.length > i - 4, 'the reader to keep up');
    }
    await until(() => reader.messages.length === total, 'the reader to get every message');
    assert.notEqual(sockets.get('stalled')!.readyState, WebSocket.OPEN, 'the slow consumer is being closed');
    await until(() => wss.subscriberCount('t') === 1, 'the stalled subscriber to be dropped');
    stalled.destroy();
    await closeAll(reader.ws);
    await stopServer(wss);
  });

  it('compresses for a subscriber that negotiated permessage-deflate', async () => {
    const { wss, url } = await topicServer({ perMessageDeflate: { threshold: 0 } });
    const compressed = await client(url, 'z', ['t']);
    const plain = await client(url, 'p', ['t'], { perMessageDeflate: false });
    assert.match(compressed.ws.extensions, /permessage-deflate/);
    await until(() => wss.subscriberCount('t') === 2, 'subscriptions');
    const text = 'compress me '.repeat(200);
    wss.publish('t', text);
    wss.publish('t', 'after');
    await until(() => compressed.messages.length === 2 && plain.messages.length === 2, 'deliveries');
    assert.deepEqual(compressed.messages, [text, 'after']);
    assert.deepEqual(plain.messages, [text, 'after']);
    await closeAll(compressed.ws, plain.ws);
    await stopServer(wss);
  });

  it('compresses once for all subscribers whose parameters allow it (no context takeover, same window)', async () => {
    const { wss, url, port, sockets } = await topicServer({ perMessageDeflate: { threshold: 0 } });
    // Two groups that share: server_no_context_takeover with the default window, and with window 10.
    const shared15 = await Promise.all([0, 1, 2, 3, 4].map((i) => client(url, `s15-${i}`, ['t'], { perMessageDeflate: { serverNoContextTakeover: true } })));
    const shared10 = await Promise.all([0, 1, 2].map((i) => client(url, `s10-${i}`, ['t'], { perMessageDeflate: { serverNoContextTakeover: true, serverMaxWindowBits: 10 } })));
    // Context takeover: each compresses with its own context. No deflate: the plain frame.
    const own = await Promise.all([0, 1].map((i) => client(url, `own-${i}`, ['t'])));
    const plain = await client(url, 'plain', ['t'], { perMessageDeflate: false });
    // Two raw peers of the first group, to see the bytes on the wire.
    const offer = { 'Sec-WebSocket-Extensions': 'permessage-deflate; server_no_context_takeover' };
    const raw = await Promise.all([0, 1].map((i) => handshakenPeer(port, `/?name=raw-${i}&topics=t`, offer)));
    const everyone = [...shared15, ...shared10, ...own, plain];
    await until(() => wss.subscriberCount('t') === everyone.length + raw.length, 'subscriptions');
    assert.match(shared10[0]!.ws.extensionsHeader, /server_max_window_bits=10/);

    const before = { ...compressionCounts };
    const texts = ['first: ' + 'pub/sub '.repeat(300), 'second: ' + 'ünïcödé '.repeat(100)];
    wss.publish('t', texts[0]!);
    // A message of one subscriber's own in between: it keeps its place in that connection's order.
    sockets.get('s15-0')!.send('own message');
    wss.publish('t', texts[1]!);
    await until(() => everyone.every((c) => c.messages.length >= 2) && shared15[0]!.messages.length === 3, 'deliveries');
    assert.equal(compressionCounts.shared - before.shared, 2 * 2, 'once per message and sharing group');
    // The connections with a context compress for themselves.
    assert.equal(compressionCounts.perConnection - before.perConnection, 2 * own.length + 1);
    assert.deepEqual(shared15[0]!.messages, [texts[0], 'own message', texts[1]]);
    for (const c of everyone.slice(1)) assert.deepEqual(c.messages, texts);

    // On the wire: the same compressed bytes for both raw peers, RSV1 set, inflating to the text.
    for (const peer of raw) await peer.waitFor((bytes) => parseServerFrames(bytes).length === 2, scaled(5000), 'two frames');
    const [framesA, framesB] = raw.map((peer) => parseServerFrames(peer.received));
    framesA!.forEach((frame, i) => {
      assert.equal(frame.rsv, 0b100, "RSV1 (compressed)");
      assert.equal(frame.opcode, Opcode.Text);
      assert.deepEqual(frame.payload, framesB![i]!.payload);
      const inflated = inflateRawSync(Buffer.concat([frame.payload, Buffer.from([0, 0, 0xff, 0xff])]), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
      assert.equal(inflated.toString('utf8'), texts[i]);
    });
    for (const peer of raw) peer.destroy();
    await closeAll(...everyone.map((c) => c.ws));
    await stopServer(wss);
  });

  it('a server with serverNoContextTakeover compresses a broadcast once for every browser-like client', async () => {
    const { wss, url } = await topicServer({ perMessageDeflate: { threshold: 0, serverNoContextTakeover: true } });
    const clients = await Promise.all(Array.from({ length: 20 }, (_, i) => client(url, `c${i}`, ['t'])));
    await until(() => wss.subscriberCount('t') === 20, 'subscriptions');
    const before = { ...compressionCounts };
    const messages = Array.from({ length: 10 }, (_, i) => `${i}: ${'tick '.repeat(50 + i)}`);
    for (const message of messages) wss.publish('t', message);
    wss.broadcast(Buffer.alloc(5000, 7));
    await until(() => clients.every((c) => c.messages.length === 11), 'deliveries');
    assert.equal(compressionCounts.shared - before.shared, 11);
    assert.equal(compressionCounts.perConnection - before.perConnection, 0);
    for (const c of clients) assert.deepEqual(c.messages, [...messages, `bin:${'07'.repeat(5000)}`]);
    await closeAll(...clients.map((c) => c.ws));
    await stopServer(wss);
  });

  it('is for connections a server accepted: a client connection throws', async () => {
    const { wss, url } = await topicServer();
    const a = await client(url, 'a', []);
    assert.throws(() => a.ws.subscribe('x'), /for connections accepted by a WebSocketServer/);
    assert.throws(() => a.ws.publish('x', 'y'), /for connections accepted by a WebSocketServer/);
    await closeAll(a.ws);
    await stopServer(wss);
  });
});
