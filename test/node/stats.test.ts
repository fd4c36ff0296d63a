/**
 * `wss.stats()` (src/node/stats.ts): the sliding handshake rate on a fake clock, then real servers and
 * clients on 127.0.0.1: connections, handshakes, messages and bytes in and out (the bytes checked
 * exactly against what the clients' own sockets wrote and read), broadcast and publish counted per
 * recipient, topics, buffered bytes, and every refusal counted by status and code.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { HandshakeRejection, RejectCode, WebSocket, WebSocketServer, type ServerStats } from '../../src/node/index.js';
import { EventRate } from '../../src/node/stats.js';
import { RawPeer, handshakenPeer, nextEvent, startServer, stopServer, upgradeRequest } from '../helpers/net.js';
import { delay } from '../helpers/node.js';
import { scaled } from '../helpers/time.js';

async function openClient(url: string, protocols: string[] = [], options = {}): Promise<WebSocket> {
  const ws = new WebSocket(url, protocols, options);
  await nextEvent(ws, 'open');
  return ws;
}

/** Close from the client and wait until both ends have seen it. */
async function closeBoth(client: WebSocket, serverSide: WebSocket): Promise<void> {
  const closed = Promise.all([nextEvent(client, 'close'), serverSide.readyState === WebSocket.CLOSED ? null : nextEvent(serverSide, 'close')]);
  client.close(1000, 'bye');
  await closed;
}

/** A refused handshake on a raw socket: the status. */
async function refusedWith(port: number, request: string): Promise<number> {
  const peer = await RawPeer.connect(port);
  peer.write(request);
  const { status } = await peer.response();
  peer.destroy();
  return status;
}

function rejectsOf(stats: ServerStats): Record<string, number> {
  return Object.fromEntries(stats.rejects.map((reject) => [`${reject.status} ${reject.code}`, reject.count]));
}

/** Poll until `test` holds (a hang guard, not a timing assumption). */
async function until(test: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + scaled(5000);
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(5);
  }
}

describe('EventRate: events per second over a sliding window of whole seconds', () => {
  it('divides by the time since creation while it is shorter than the window (and by at least 1 s)', () => {
    let now = 1_000_000;
    const rate = new EventRate(10, () => now);
    for (let i = 0; i < 5; i++) rate.record();
    assert.equal(rate.perSecond(), 5); // 5 events in less than a second: 5/s, not 5/0
    now += 4000;
    for (let i = 0; i < 15; i++) rate.record();
    assert.equal(rate.perSecond(), 20 / 4);
  });

  it('counts the last 10 whole seconds and the current one, and forgets what is older', () => {
    let now = 5_000_000;
    const rate = new EventRate(10, () => now);
    now += 60_000; // an old server
    for (let s = 0; s < 10; s++) {
      for (let i = 0; i < 3; i++) rate.record();
      now += 1000;
    }
    // 30 events over the 10 complete seconds before this one, nothing yet in the current one.
    assert.equal(rate.perSecond(), 30 / 10);
    now += 5000;
    assert.equal(rate.perSecond(), 15 / 10); // the first 5 seconds have left the window
    now += 60_000;
    assert.equal(rate.perSecond(), 0);
    rate.record();
    assert.equal(rate.perSecond(), 1 / 10);
  });

  it('refuses a window that is not a whole number of seconds', () => {
    assert.throws(() => new EventRate(0), RangeError);
    assert.throws(() => new EventRate(1.5), RangeError);
  });
});

describe('WebSocketServer.stats()', () => {
  it('starts at zero', async () => {
    const { wss } = await startServer();
    const stats = wss.stats();
    assert.deepEqual({ ...stats, time: 0, uptime: 0 }, {
      time: 0,
      uptime: 0,
      connections: 0,
      pendingHandshakes: 0,
      handshakes: 0,
      handshakesPerSecond: 0,
      rejected: 0,
      rejects: [],
      closed: 0,
      messagesIn: 0,
      messagesOut: 0,
      bytesIn: 0,
      bytesOut: 0,
      bufferedBytes: 0,
      topics: 0,
      subscriptions: 0,
    });
    assert.ok(Math.abs(stats.time - Date.now()) < scaled(5000));
    await stopServer(wss);
  });

  it('counts connections, handshakes, messages, and the bytes exactly as the clients\' sockets wrote and read them', async () => {
    const { wss, url } = await startServer({ heartbeat: false });
    const serverSides: WebSocket[] = [];
    wss.on('connection', (ws) => {
      serverSides.push(ws);
      ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
    });
    const clients = [await openClient(url), await openClient(url)];
    for (const client of clients) {
      const echoes = new Promise<void>((resolve) => {
        let n = 0;
        client.on('message', () => ++n === 3 && resolve());
      });
      client.send('héllo');
      client.send(Buffer.alloc(300));
      client.send('x'.repeat(70_000));
      await echoes;
    }
    const wire = (): { written: number; read: number } => {
      let written = 0;
      let read = 0;
      for (const client of clients) {
        written += (client.socket as Socket).bytesWritten;
        read += (client.socket as Socket).bytesRead;
      }
      return { written, read };
    };
    let stats = wss.stats();
    assert.equal(stats.connections, 2);
    assert.equal(stats.handshakes, 2);
    assert.ok(stats.handshakesPerSecond > 0);
    assert.equal(stats.messagesIn, 6);
    assert.equal(stats.messagesOut, 6);
    // Every echo arrived: the server read all the clients wrote, and the clients read all it wrote.
    assert.equal(stats.bytesIn, wire().written);
    assert.equal(stats.bytesOut, wire().read);
    assert.ok(stats.bytesIn > 2 * (6 + 300 + 70_000));

    await closeBoth(clients[0]!, serverSides[0]!);
    await closeBoth(clients[1]!, serverSides[1]!);
    await until(() => wss.stats().connections === 0, 'the server to forget its connections');
    stats = wss.stats();
    assert.equal(stats.closed, 2);
    assert.equal(stats.handshakes, 2);
    // The close frames are in too, now kept in the counters of closed connections.
    assert.equal(stats.bytesIn, wire().written);
    assert.equal(stats.bytesOut, wire().read);
    assert.equal(stats.messagesIn, 6); // control frames are not messages
    await stopServer(wss);
  });

  it('counts a fragmented message once, and a broadcast or publish once per connection that takes it; topics and subscriptions', async () => {
    const { wss, url } = await startServer({ heartbeat: false });
    const serverSides: WebSocket[] = [];
    wss.on('connection', (ws) => serverSides.push(ws));
    const clients = [await openClient(url), await openClient(url), await openClient(url)];
    await until(() => serverSides.length === 3, 'three connections');
    serverSides[0]!.subscribe('a');
    serverSides[1]!.subscribe('a');
    serverSides[1]!.subscribe('b');
    let stats = wss.stats();
    assert.equal(stats.topics, 2);
    assert.equal(stats.subscriptions, 3);

    const received = clients.map((client) => {
      const list: string[] = [];
      client.on('message', (data) => list.push(String(data)));
      return list;
    });
    assert.equal(wss.broadcast('to all'), 3);
    assert.equal(wss.publish('a', 'to a'), 2);
    serverSides[2]!.send('one ', { fin: false });
    serverSides[2]!.send('message');
    await until(() => received[2]!.length === 2 && received[0]!.length === 2 && received[1]!.length === 2, 'every message');
    assert.deepEqual(received[2], ['to all', 'one message']);
    stats = wss.stats();
    assert.equal(stats.messagesOut, 3 + 2 + 1);

    serverSides[1]!.unsubscribe('b');
    assert.equal(wss.stats().topics, 1);
    await Promise.all(clients.map((client) => (client.close(), nextEvent(client, 'close'))));
    await until(() => wss.stats().subscriptions === 0, 'the subscriptions to end with their connections');
    assert.equal(wss.stats().topics, 0);
    await stopServer(wss);
  });

  it('sums what waits to be sent over the open connections (bufferedBytes)', async () => {
    const { wss, port } = await startServer({ heartbeat: false });
    const connected = nextEvent<[WebSocket]>(wss, 'connection');
    const peer = await handshakenPeer(port);
    const [serverSide] = await connected;
    peer.socket.pause(); // the peer stops reading: the server's writes pile up
    const chunk = Buffer.alloc(256 * 1024);
    for (let i = 0; i < 64 && serverSide.bufferedAmount < 1024 * 1024; i++) {
      serverSide.send(chunk);
      await delay(10);
    }
    assert.ok(serverSide.bufferedAmount > 0, 'the peer does not read: something waits');
    assert.equal(wss.stats().bufferedBytes, serverSide.bufferedAmount);
    peer.destroy();
    await stopServer(wss);
  });

  it('counts every refusal by status and code', async () => {
    let authenticate: (request: { url?: string }) => unknown = () => true;
    const { wss, port, url } = await startServer({
      path: '/ws',
      allowedOrigins: ['https://good.example'],
      maxConnections: 2,
      heartbeat: false,
      handleProtocols: (offered) => (offered.has('bad-choice') ? 'not-offered' : false),
      authenticate: (request) => authenticate(request),
    });
    const refusals: Array<[number, string]> = [];
    // 404 / path: standalone mode answers paths it does not take.
    refusals.push([await refusedWith(port, upgradeRequest('/other')), RejectCode.Path]);
    // 403 / origin.
    refusals.push([await refusedWith(port, upgradeRequest('/ws', { Origin: 'https://evil.example' })), RejectCode.Origin]);
    // A HandshakeError of validation: its own code.
    refusals.push([await refusedWith(port, upgradeRequest('/ws', { 'Sec-WebSocket-Version': '8' })), 'FD_ERR_HANDSHAKE_VERSION']);
    refusals.push([await refusedWith(port, upgradeRequest('/ws', { 'Sec-WebSocket-Key': 'short' })), 'FD_ERR_HANDSHAKE_KEY']);
    // authenticate: a refusal (FD_ERR_HANDSHAKE_REFUSED, or the rejection's own code), an exception (500).
    authenticate = () => new HandshakeRejection(401, 'who are you');
    refusals.push([await refusedWith(port, upgradeRequest('/ws')), RejectCode.Refused]);
    authenticate = () => {
      throw new HandshakeRejection(429, 'slow down', { 'Retry-After': '1' }, 'FD_ERR_MY_LIMIT');
    };
    refusals.push([await refusedWith(port, upgradeRequest('/ws')), 'FD_ERR_MY_LIMIT']);
    authenticate = () => {
      throw new Error('database down');
    };
    refusals.push([await refusedWith(port, upgradeRequest('/ws')), RejectCode.HookFailed]);
    authenticate = () => true;
    // handleProtocols chose what was not offered: 500.
    refusals.push([await refusedWith(port, upgradeRequest('/ws', { 'Sec-WebSocket-Protocol': 'bad-choice' })), RejectCode.Subprotocol]);
    // Node's HTTP parser: not HTTP at all.
    refusals.push([await refusedWith(port, 'NOT HTTP\r\n\r\n'), RejectCode.HttpParse]);
    // maxConnections: two open, the third refused.
    const open = [await openClient(`${url}/ws`), await openClient(`${url}/ws`)];
    refusals.push([await refusedWith(port, upgradeRequest('/ws')), RejectCode.MaxConnections]);

    assert.deepEqual(
      refusals.map(([status]) => status),
      [404, 403, 426, 400, 401, 429, 500, 500, 400, 503],
    );
    const stats = wss.stats();
    const expected: Record<string, number> = {};
    for (const [status, code] of refusals) expected[`${status} ${code}`] = (expected[`${status} ${code}`] ?? 0) + 1;
    assert.deepEqual(rejectsOf(stats), expected);
    assert.equal(stats.rejected, refusals.length);
    assert.equal(stats.handshakes, 2);
    for (const ws of open) ws.close();
    await stopServer(wss);
  });

  it('counts a client that leaves while authenticate runs as abandoned (status 0), and a slow hook as 408', async () => {
    let release: (() => void) | null = null;
    let hold = true;
    const { wss, port } = await startServer({
      heartbeat: false,
      handshakeTimeout: scaled(300),
      authenticate: () => (hold ? new Promise<void>((resolve) => (release = resolve)) : true),
    });
    const leaving = await RawPeer.connect(port);
    leaving.write(upgradeRequest('/'));
    await until(() => wss.stats().pendingHandshakes === 1, 'the handshake to wait on authenticate');
    leaving.destroy();
    await until(() => wss.stats().rejected === 1, 'the abandoned handshake');
    assert.deepEqual(rejectsOf(wss.stats()), { [`0 ${RejectCode.Abandoned}`]: 1 });
    assert.equal(wss.stats().pendingHandshakes, 0);
    (release as (() => void) | null)?.();

    assert.equal(await refusedWith(port, upgradeRequest('/')), 408);
    assert.equal(rejectsOf(wss.stats())[`408 ${RejectCode.Timeout}`], 1);
    hold = false;
    await stopServer(wss);
  });

  it('counts the 404 of a shared server that has no other upgrade listener, and keeps the counters of each server apart', async () => {
    const http: Server = createServer();
    const a = new WebSocketServer({ server: http, path: '/a', heartbeat: false });
    const b = new WebSocketServer({ noServer: true, heartbeat: false });
    http.listen(0, '127.0.0.1');
    await nextEvent(http, 'listening');
    const port = (http.address() as AddressInfo).port;
    assert.equal(await refusedWith(port, upgradeRequest('/elsewhere')), 404);
    const client = await openClient(`ws://127.0.0.1:${port}/a`);
    assert.deepEqual(rejectsOf(a.stats()), { [`404 ${RejectCode.Path}`]: 1 });
    assert.equal(a.stats().handshakes, 1);
    assert.equal(b.stats().handshakes, 0);
    assert.equal(b.stats().rejected, 0);
    client.close();
    await nextEvent(client, 'close');
    await new Promise<void>((resolve) => a.close(() => resolve()));
    await new Promise<void>((resolve) => b.close(() => resolve()));
    await new Promise<void>((resolve) => http.close(() => resolve()));
  });
});
