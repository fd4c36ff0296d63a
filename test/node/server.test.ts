import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, get as httpGet, type IncomingMessage } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer, HandshakeRejection } from '../../src/node/index.js';
import { constants as zlibConstants, inflateRawSync } from 'node:zlib';
import { Opcode } from '../../src/protocol/constants.js';
import { RawPeer, handshakenPeer, nextEvent, parseServerFrames, startServer, stopServer, upgradeRequest } from '../helpers/net.js';
import { scaled } from '../helpers/time.js';

async function refusal(port: number, request: string): Promise<{ status: number; headers: Map<string, string>; body: string }> {
  const peer = await RawPeer.connect(port);
  peer.write(request);
  const response = await peer.response();
  await peer.waitClosed();
  return { ...response, body: response.body.toString() };
}

async function openClient(url: string, protocols?: string[], options = {}): Promise<WebSocket> {
  const ws = new WebSocket(url, protocols ?? [], options);
  await nextEvent(ws, 'open');
  return ws;
}

async function closeClient(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return;
  const closed = nextEvent(ws, 'close');
  ws.close();
  await closed;
}

describe('WebSocketServer: standalone mode', () => {
  it('answers a plain HTTP request with 426 and Upgrade: websocket', async () => {
    const { wss, port } = await startServer();
    const response = await new Promise<IncomingMessage>((resolve) => httpGet({ port, host: '127.0.0.1', path: '/' }, resolve));
    assert.equal(response.statusCode, 426);
    assert.equal(response.headers['upgrade'], 'websocket');
    response.resume();
    await stopServer(wss);
  });

  it('refuses malformed handshakes with the exact status', async () => {
    const { wss, port } = await startServer();
    assert.equal((await refusal(port, upgradeRequest('/', { 'Sec-WebSocket-Key': null }))).status, 400);
    assert.equal((await refusal(port, upgradeRequest('/', { 'Sec-WebSocket-Key': 'c2hvcnQ=' }))).status, 400);
    const version = await refusal(port, upgradeRequest('/', { 'Sec-WebSocket-Version': '8' }));
    assert.equal(version.status, 426);
    assert.equal(version.headers.get('sec-websocket-version'), '13');
    const method = await refusal(port, upgradeRequest('/', {}, 'POST / HTTP/1.1'));
    assert.equal(method.status, 405);
    assert.equal((await refusal(port, upgradeRequest('/', { 'Sec-WebSocket-Protocol': 'a b' }))).status, 400);
    await stopServer(wss);
  });

  it('filters on path (404 elsewhere)', async () => {
    const { wss, port, url } = await startServer({ path: '/chat' });
    assert.equal((await refusal(port, upgradeRequest('/other'))).status, 404);
    const ws = await openClient(`${url}/chat?room=1`);
    await closeClient(ws);
    await stopServer(wss);
  });

  it('picks the first offered subprotocol by default, or what handleProtocols says', async () => {
    const plain = await startServer();
    const a = await openClient(plain.url, ['one', 'two']);
    assert.equal(a.protocol, 'one');
    await closeClient(a);
    await stopServer(plain.wss);

    const seen: string[][] = [];
    const chooser = await startServer({
      handleProtocols: (protocols) => {
        seen.push([...protocols]);
        return protocols.has('two') ? 'two' : false;
      },
    });
    const b = await openClient(chooser.url, ['one', 'two']);
    assert.equal(b.protocol, 'two');
    const c = await openClient(chooser.url, ['three']);
    assert.equal(c.protocol, '');
    assert.deepEqual(seen, [['one', 'two'], ['three']]);
    await closeClient(b);
    await closeClient(c);
    await stopServer(chooser.wss);
  });

  it('lets `headers` listeners add response headers', async () => {
    const { wss, url } = await startServer();
    wss.on('headers', (headers) => headers.push('Set-Cookie: session=abc'));
    const ws = new WebSocket(url);
    const upgraded = nextEvent<[IncomingMessage]>(ws, 'upgrade');
    const opened = nextEvent(ws, 'open');
    const [response] = await upgraded;
    assert.equal(response.headers['set-cookie']?.[0], 'session=abc');
    await opened;
    await closeClient(ws);
    await stopServer(wss);
  });

  it('tracks clients, and not when clientTracking is off', async () => {
    const tracked = await startServer();
    const ws = await openClient(tracked.url);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(tracked.wss.clients.size, 1);
    await closeClient(ws);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(tracked.wss.clients.size, 0);
    await stopServer(tracked.wss);

    const untracked = await startServer({ clientTracking: false });
    const ws2 = await openClient(untracked.url);
    assert.equal(untracked.wss.clients.size, 0);
    await closeClient(ws2);
    await stopServer(untracked.wss);
  });
});

describe('WebSocketServer: admission', () => {
  it('allowedOrigins: 403 for another origin; allowed and absent origins pass', async () => {
    const { wss, port, url } = await startServer({ allowedOrigins: ['https://app.example.com'] });
    const refused = await refusal(port, upgradeRequest('/', { Origin: 'https://evil.example.net' }));
    assert.equal(refused.status, 403);
    const ok = await openClient(url, [], { origin: 'https://APP.example.com' });
    const noOrigin = await openClient(url);
    await closeClient(ok);
    await closeClient(noOrigin);
    await stopServer(wss);
  });

  it('authenticate: resolves to accept, HandshakeRejection for any status and headers, 500 for other errors', async () => {
    const { wss, port, url } = await startServer({
      authenticate: async (request) => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        const token = request.headers['authorization'];
        if (token === 'Bearer good') return;
        if (token === 'Bearer broken') throw new Error('database down');
        throw new HandshakeRejection(401, 'Bad token', { 'WWW-Authenticate': 'Bearer' });
      },
    });
    const ok = await openClient(url, [], { headers: { Authorization: 'Bearer good' } });
    await closeClient(ok);
    const denied = await refusal(port, upgradeRequest('/', { Authorization: 'Bearer bad' }));
    assert.equal(denied.status, 401);
    assert.equal(denied.headers.get('www-authenticate'), 'Bearer');
    assert.equal(denied.body, 'Bad token');
    assert.equal((await refusal(port, upgradeRequest('/', { Authorization: 'Bearer broken' }))).status, 500);
    await stopServer(wss);
  });

  it('authenticate that takes longer than handshakeTimeout: 408', async () => {
    const { wss, port } = await startServer({ handshakeTimeout: 100, authenticate: () => new Promise(() => {}) });
    assert.equal((await refusal(port, upgradeRequest('/'))).status, 408);
    await stopServer(wss);
  });

  it('verifyClient as in ws: sync false -> 401, async with a code', async () => {
    const sync = await startServer({ verifyClient: (info) => info.origin === 'https://ok' });
    assert.equal((await refusal(sync.port, upgradeRequest('/', { Origin: 'https://no' }))).status, 401);
    await closeClient(await openClient(sync.url, [], { origin: 'https://ok' }));
    await stopServer(sync.wss);
    const async = await startServer({ verifyClient: (_info, callback) => setTimeout(() => callback(false, 403, 'Go away'), 5) });
    assert.equal((await refusal(async.port, upgradeRequest('/'))).status, 403);
    await stopServer(async.wss);
  });

  it('maxConnections: 503 beyond the limit, room again after a close', async () => {
    const { wss, port, url } = await startServer({ maxConnections: 2 });
    const a = await openClient(url);
    const b = await openClient(url);
    const over = await refusal(port, upgradeRequest('/'));
    assert.equal(over.status, 503);
    await closeClient(a);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const c = await openClient(url);
    await closeClient(b);
    await closeClient(c);
    await stopServer(wss);
  });

  it('drops a client that never finishes its request (slowloris) at handshakeTimeout', async () => {
    const { wss, port } = await startServer({ handshakeTimeout: 150 });
    const peer = await RawPeer.connect(port);
    peer.write('GET / HTTP/1.1\r\nHost: x\r\n');
    const trickle = setInterval(() => peer.write('X'), 20);
    await peer.waitClosed(scaled(3000));
    clearInterval(trickle);
    await stopServer(wss);
  });
});

describe('WebSocketServer: sharing a server, noServer', () => {
  it('shares an http server with normal requests, and two endpoints on different paths', async () => {
    const http = createServer((_req, res) => res.end('plain http'));
    const chat = new WebSocketServer({ server: http, path: '/chat' });
    const feed = new WebSocketServer({ server: http, path: '/feed' });
    chat.on('connection', (ws) => ws.send('chat'));
    feed.on('connection', (ws) => ws.send('feed'));
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    const port = (http.address() as AddressInfo).port;
    const body = await new Promise<string>((resolve) =>
      httpGet({ port, host: '127.0.0.1' }, (res) => {
        let text = '';
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve(text));
      }),
    );
    assert.equal(body, 'plain http');
    for (const path of ['chat', 'feed']) {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/${path}`);
      const [data] = await nextEvent<[Buffer]>(ws, 'message');
      assert.equal(data.toString(), path);
      await closeClient(ws);
    }
    await new Promise<void>((resolve) => chat.close(() => resolve()));
    await new Promise<void>((resolve) => feed.close(() => resolve()));
    http.close();
  });

  it('noServer + handleUpgrade + shouldHandle', async () => {
    const wss = new WebSocketServer({ noServer: true, path: '/ws' });
    const http = createServer();
    http.on('upgrade', (request, socket, head) => {
      if (!wss.shouldHandle(request)) {
        socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
        return;
      }
      wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
    });
    wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    const port = (http.address() as AddressInfo).port;
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    await nextEvent(ws, 'open');
    ws.send('echo me');
    const [data, isBinary] = await nextEvent<[Buffer, boolean]>(ws, 'message');
    assert.equal(data.toString(), 'echo me');
    assert.equal(isBinary, false);
    assert.throws(() => wss.address(), /noServer/);
    await closeClient(ws);
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    http.close();
  });

  it('requires exactly one of port, server, noServer', () => {
    assert.throws(() => new WebSocketServer({}), TypeError);
    assert.throws(() => new WebSocketServer({ port: 0, noServer: true }), TypeError);
  });
});

describe('WebSocketServer: graceful close', () => {
  it('sends 1001 to every client, waits for their close frames, then emits close', async () => {
    const { wss, url } = await startServer();
    const clients = await Promise.all([openClient(url), openClient(url), openClient(url)]);
    const closes = clients.map((ws) => nextEvent<[number, Buffer]>(ws, 'close'));
    const serverClosed = nextEvent(wss, 'close');
    wss.close();
    for (const [code, reason] of await Promise.all(closes)) {
      assert.equal(code, 1001);
      assert.equal(reason.toString(), 'Server shutting down');
    }
    for (const ws of clients) assert.equal(ws.closeResult?.wasClean, true);
    await serverClosed;
  });

  it('drops clients that do not answer within shutdownTimeout', async () => {
    const { wss, port } = await startServer({ shutdownTimeout: 100 });
    const peer = await RawPeer.connect(port);
    peer.write(upgradeRequest('/'));
    await peer.response();
    const started = Date.now();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    assert.ok(Date.now() - started >= 90);
    await peer.waitClosed();
  });

  it('refuses new handshakes while shutting down', async () => {
    const { wss, port } = await startServer({ shutdownTimeout: 200 });
    const peer = await RawPeer.connect(port);
    peer.write(upgradeRequest('/'));
    await peer.response();
    const closing = new Promise<void>((resolve) => wss.close(() => resolve()));
    // The listening socket is closed, so new TCP connections are refused outright.
    const late = httpRequest({ port, host: '127.0.0.1' });
    const [error] = await nextEvent<[NodeJS.ErrnoException]>(late as never, 'error');
    late.end();
    assert.equal(error.code, 'ECONNREFUSED');
    peer.destroy();
    await closing;
  });
});

describe('WebSocketServer: broadcast', () => {
  const framesOf = async (peer: RawPeer, count: number) => {
    await peer.waitFor((r) => parseServerFrames(r).length >= count, scaled(5000), `${count} frames`);
    return parseServerFrames(peer.received);
  };

  it('frames once and writes the same bytes to every open connection, text and binary', async () => {
    const { wss, port } = await startServer({ heartbeat: false });
    const peers = await Promise.all([handshakenPeer(port), handshakenPeer(port), handshakenPeer(port)]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(wss.broadcast('hello all'), 3);
    assert.equal(wss.broadcast(Buffer.from([1, 2, 3])), 3);
    assert.equal(wss.broadcast('as binary', { binary: true }), 3);
    assert.equal(wss.broadcast(Buffer.alloc(100_000, 7)), 3); // large: header and payload written uncopied
    for (const peer of peers) {
      const frames = await framesOf(peer, 4);
      assert.deepEqual(
        frames.map((f) => [f.opcode, f.payload.length, f.payload.subarray(0, 9).toString('latin1')]),
        [
          [Opcode.Text, 9, 'hello all'],
          [Opcode.Binary, 3, '\x01\x02\x03'],
          [Opcode.Binary, 9, 'as binary'],
          [Opcode.Binary, 100_000, '\x07'.repeat(9)],
        ],
      );
      peer.destroy();
    }
    await stopServer(wss);
  });

  it('compresses for connections that negotiated permessage-deflate, and keeps each connection in order', async () => {
    const { wss, port } = await startServer({ heartbeat: false, perMessageDeflate: { threshold: 100 } });
    const sockets: WebSocket[] = [];
    wss.on('connection', (ws) => sockets.push(ws));
    const plain = await handshakenPeer(port);
    const compressed = await handshakenPeer(port, '/', { 'Sec-WebSocket-Extensions': 'permessage-deflate' });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const big = 'x'.repeat(5000);
    sockets[1]!.send(big); // compressing asynchronously when the broadcasts below arrive
    assert.equal(wss.broadcast('small'), 2); // under the threshold: the shared frame, queued behind it
    assert.equal(wss.broadcast(big), 2);
    const plainFrames = await framesOf(plain, 2);
    assert.deepEqual(plainFrames.map((f) => [f.rsv, f.payload.length]), [[0, 5], [0, 5000]]);
    const deflated = await framesOf(compressed, 3);
    assert.deepEqual(deflated.map((f) => f.rsv), [4, 0, 4]);
    assert.equal(inflateRawSync(Buffer.concat([deflated[0]!.payload, Buffer.from([0, 0, 0xff, 0xff])]), { finishFlush: zlibConstants.Z_SYNC_FLUSH }).toString(), big);
    assert.equal(deflated[1]!.payload.toString(), 'small');
    plain.destroy();
    compressed.destroy();
    await stopServer(wss);
  });

  it('a connection over maxBufferedAmount gets the slow-consumer policy; the others are not held up', async () => {
    const { wss, port } = await startServer({ heartbeat: false, maxBufferedAmount: 256 * 1024, closeTimeout: 200 });
    const sockets: WebSocket[] = [];
    wss.on('connection', (ws) => sockets.push(ws));
    const slow = await handshakenPeer(port);
    const fast = await handshakenPeer(port);
    await new Promise((resolve) => setTimeout(resolve, 20));
    slow.socket.pause();
    const closed = nextEvent<[number]>(sockets[0]!, 'close');
    const chunk = Buffer.alloc(64 * 1024, 1);
    let accepted = 0;
    for (let i = 0; i < 200; i++) {
      accepted += wss.broadcast(chunk);
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal((await closed)[0], 1008);
    assert.ok(accepted < 400 && accepted > 200, `${accepted} deliveries accepted`);
    await fast.waitFor((r) => parseServerFrames(r).filter((f) => f.opcode === Opcode.Binary).length === 200, scaled(10_000), '200 messages');
    assert.ok(sockets[0]!.bufferedAmount <= 256 * 1024 + 64 * 1024 + 1024);
    slow.destroy();
    fast.destroy();
    await stopServer(wss);
  });

  it('skips connections that are not open or are sending a fragmented message of their own', async () => {
    const { wss, port } = await startServer({ heartbeat: false });
    const sockets: WebSocket[] = [];
    wss.on('connection', (ws) => sockets.push(ws));
    const a = await handshakenPeer(port);
    const b = await handshakenPeer(port);
    await new Promise((resolve) => setTimeout(resolve, 20));
    sockets[0]!.send('part', { fin: false });
    assert.equal(wss.broadcast('news'), 1);
    sockets[0]!.send(' end', { fin: true });
    sockets[1]!.close();
    assert.equal(wss.broadcast('later'), 1); // a finished its message; b is closing
    const frames = await framesOf(a, 3);
    assert.deepEqual(frames.map((f) => [f.opcode, f.fin, f.payload.toString()]), [
      [Opcode.Text, false, 'part'],
      [Opcode.Continuation, true, ' end'],
      [Opcode.Text, true, 'later'],
    ]);
    assert.equal((await framesOf(b, 1))[0]!.payload.toString(), 'news');
    a.destroy();
    b.destroy();
    await stopServer(wss);
  });
});
