/**
 * The `reconnect` option of the `ws`-shaped client (src/node/reconnect.ts, docs/client.md
 * "## Reconnecting"), against real servers on 127.0.0.1 that are stopped, restarted, close with
 * chosen codes, refuse handshakes, or lose the network (a relay that stops forwarding).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type ClientRequest, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { WebSocket } from '../../src/node/websocket.js';
import { WebSocketServer } from '../../src/node/server.js';
import type { ReconnectingEvent, DropReason } from '../../src/node/reconnect.js';
import { delay, listen, once, startServer, stopServer, within, DEFAULT_TIMEOUT } from '../helpers/node.js';
import { TcpRelay } from '../helpers/relay.js';
import { scaled } from '../helpers/time.js';
import { scriptedServer } from '../helpers/net.js';
import { frame } from '../helpers/protocol.js';
import { computeAcceptKey } from '../../src/protocol/handshake.js';
import { Opcode } from '../../src/protocol/constants.js';

/** Short delays so that tests do not wait for the defaults (the policy's own tests cover the numbers). */
const FAST = { initialDelay: 20, maxDelay: 100 } as const;

/** A fullduplex server on a fixed port (to restart it where the client expects it). */
async function serverOn(port: number): Promise<WebSocketServer> {
  const server = new WebSocketServer({ port, host: '127.0.0.1' });
  await once(server, 'listening');
  return server;
}

/** Record a client's reconnect events in order. */
function record(ws: WebSocket): { events: string[]; reconnecting: ReconnectingEvent[]; dropped: Array<[unknown, DropReason]> } {
  const log = { events: [] as string[], reconnecting: [] as ReconnectingEvent[], dropped: [] as Array<[unknown, DropReason]> };
  ws.on('open', () => log.events.push('open'));
  ws.on('reconnecting', (event) => {
    log.events.push(`reconnecting ${event.code}`);
    log.reconnecting.push(event);
  });
  ws.on('reconnected', (attempt) => log.events.push(`reconnected ${attempt}`));
  ws.on('close', (code) => log.events.push(`close ${code}`));
  ws.on('dropped', (data, reason) => log.dropped.push([data, reason]));
  ws.on('error', () => {});
  return log;
}

/** Wait until `predicate` holds (polled), within the default time limit. */
async function until(predicate: () => boolean, what: string): Promise<void> {
  await within(
    (async () => {
      while (!predicate()) await delay(5);
    })(),
    what,
  );
}

test('a client with reconnect comes back to a restarted server: the same object, listeners kept, open again, close never emitted meanwhile', async () => {
  const { server, port, url } = await startServer();
  const ws = new WebSocket(url, { reconnect: FAST });
  const log = record(ws);
  await once(ws, 'open');
  const reconnecting = once<[ReconnectingEvent]>(ws, 'reconnecting');
  await stopServer(server); // terminates the server side: the client sees 1006
  const [event] = await reconnecting;
  assert.equal(event.code, 1006);
  assert.equal(event.attempt, 1);
  assert.equal(ws.readyState, WebSocket.CONNECTING);
  // While the server is down, refused attempts count as failed attempts (ECONNREFUSED in the event).
  await until(() => log.reconnecting.length >= 3, 'three reconnecting events');
  assert.equal((log.reconnecting[1]!.error as NodeJS.ErrnoException | undefined)?.code, 'ECONNREFUSED');
  assert.ok(log.reconnecting[2]!.attempt > log.reconnecting[1]!.attempt, 'attempts count up');
  const restarted = await serverOn(port);
  const [attempt] = await once<[number]>(ws, 'reconnected');
  assert.ok(attempt >= 3);
  assert.equal(ws.readyState, WebSocket.OPEN);
  assert.equal(ws.reconnection?.reconnects, 1);
  assert.equal(log.events.filter((e) => e === 'open').length, 2);
  assert.ok(!log.events.some((e) => e.startsWith('close')));
  ws.close();
  await once(ws, 'close');
  assert.equal(ws.reconnection?.endedBy, 'application');
  await stopServer(restarted);
});

for (const code of [1001, 1011, 1012, 1013]) {
  test(`a server's close ${code} is followed by a reconnect`, async () => {
    const { server, url } = await startServer();
    server.once('connection', (socket) => socket.close(code, 'bye'));
    const ws = new WebSocket(url, { reconnect: { initialDelay: 30, maxDelay: 100 } });
    const log = record(ws);
    const [event] = await once<[ReconnectingEvent]>(ws, 'reconnecting');
    assert.equal(event.code, code);
    assert.equal(event.reason, 'bye');
    // RFC 6455 / IANA 1013 Try Again Later: never sooner than initialDelay (the policy's rule, seen here end to end).
    if (code === 1013) assert.ok(event.delay >= 30, `delay ${event.delay}`);
    await once(ws, 'reconnected');
    assert.deepEqual(log.events, ['open', `reconnecting ${code}`, 'open', 'reconnected 1']);
    ws.close();
    await once(ws, 'close');
    await stopServer(server);
  });
}

for (const code of [1008, 4001]) {
  test(`a server's close ${code} is final: close once, endedBy final-close, no reconnect`, async () => {
    const { server, url } = await startServer();
    let connections = 0;
    server.on('connection', (socket) => {
      connections++;
      socket.close(code, 'go away');
    });
    const ws = new WebSocket(url, { reconnect: FAST });
    const log = record(ws);
    const [closeCode, reason] = await once<[number, Buffer]>(ws, 'close');
    assert.equal(closeCode, code);
    assert.equal(reason.toString(), 'go away');
    assert.equal(ws.reconnection?.endedBy, 'final-close');
    assert.equal(ws.readyState, WebSocket.CLOSED);
    await delay(150); // no attempt follows (a "nothing happens" wait)
    assert.equal(connections, 1);
    assert.deepEqual(log.events, ['open', `close ${code}`]);
    await stopServer(server);
  });
}

/** An HTTP server that refuses the first `refusals` upgrades with `status` (and headers), then accepts. */
async function refusingServer(status: number, headers: Record<string, string>, refusals: number): Promise<{ http: HttpServer; url: string; wss: WebSocketServer; upgrades: () => number }> {
  const http = createServer();
  const wss = new WebSocketServer({ noServer: true });
  let upgrades = 0;
  http.on('upgrade', (request, socket, head) => {
    upgrades++;
    if (upgrades <= refusals) {
      const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('');
      socket.end(`HTTP/1.1 ${status} Refused\r\n${lines}Content-Length: 0\r\nConnection: close\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
  });
  const port = await listen(http);
  return { http, url: `ws://127.0.0.1:${port}`, wss, upgrades: () => upgrades };
}

async function closeHttp(http: HttpServer, wss: WebSocketServer): Promise<void> {
  for (const client of wss.clients) client.terminate();
  wss.close();
  http.closeAllConnections();
  await new Promise<void>((resolve) => http.close(() => resolve()));
}

test('a 503 with Retry-After is a failed attempt: the next one waits at least Retry-After (up to maxDelay), then connects', async () => {
  const { http, url, wss, upgrades } = await refusingServer(503, { 'Retry-After': '1' }, 1);
  const ws = new WebSocket(url, { reconnect: { initialDelay: 10, maxDelay: 5_000 } });
  const log = record(ws);
  const [event] = await once<[ReconnectingEvent]>(ws, 'reconnecting');
  assert.equal(event.status, 503);
  assert.equal(event.code, 1006);
  assert.ok(event.delay >= 1_000, `delay ${event.delay} honours Retry-After: 1`);
  assert.equal(event.error?.name, 'HandshakeError');
  await once(ws, 'open');
  assert.equal(upgrades(), 2);
  assert.deepEqual(log.events, ['reconnecting 1006', 'open']); // the first open of this object: no 'reconnected'
  ws.close();
  await once(ws, 'close');
  await closeHttp(http, wss);
});

test('a refusal that would only repeat (403) ends it: error, then close 1006, endedBy refused', async () => {
  const { http, url, wss, upgrades } = await refusingServer(403, {}, Infinity);
  const ws = new WebSocket(url, { reconnect: FAST });
  const errors: Error[] = [];
  ws.on('error', (error) => errors.push(error));
  const [code] = await once<[number]>(ws, 'close');
  assert.equal(code, 1006);
  assert.equal(ws.reconnection?.endedBy, 'refused');
  assert.equal(errors.length, 1);
  assert.match(errors[0]!.message, /403/);
  assert.equal(upgrades(), 1);
  await closeHttp(http, wss);
});

test('unexpected-response listeners still get refusals while reconnecting, and the status still counts', async () => {
  const { http, url, wss } = await refusingServer(429, { 'Retry-After': '0' }, 1);
  // A listener owns the response (as in `ws`): the attempt ends once it has read it (or at the handshake timeout).
  const ws = new WebSocket(url, { reconnect: FAST, handshakeTimeout: 200 });
  record(ws);
  let seen = 0;
  ws.on('unexpected-response', (_request, response) => {
    seen = response.statusCode ?? 0;
    response.resume();
  });
  const [event] = await once<[ReconnectingEvent]>(ws, 'reconnecting');
  assert.equal(seen, 429);
  assert.equal(event.status, 429);
  await once(ws, 'open');
  ws.close();
  await once(ws, 'close');
  await closeHttp(http, wss);
});

/** Ways an `unexpected-response` listener can be done with the response it owns. */
const LISTENERS: ReadonlyArray<[name: string, listener: (request: ClientRequest, response: IncomingMessage) => void]> = [
  ['reads the response to its end', (_request, response) => response.resume()],
  ['destroys the request', (request) => request.destroy()],
];

for (const [name, listener] of LISTENERS) {
  test(`an unexpected-response listener that ${name}: a 503 with Retry-After: 1 is retried after about Retry-After, not at the handshake timeout`, async () => {
    const { http, url, wss, upgrades } = await refusingServer(503, { 'Retry-After': '1' }, 1);
    // A handshake timeout far beyond the test's own time limit: the test cannot pass by waiting for it.
    const ws = new WebSocket(url, { reconnect: { initialDelay: 10, maxDelay: 5_000 }, handshakeTimeout: 600_000 });
    const log = record(ws);
    const errors: Error[] = [];
    ws.on('error', (error) => errors.push(error));
    const statuses: number[] = [];
    ws.on('unexpected-response', (request, response) => {
      statuses.push(response.statusCode ?? 0);
      listener(request, response);
    });
    const [event] = await once<[ReconnectingEvent]>(ws, 'reconnecting');
    assert.deepEqual(statuses, [503]);
    assert.equal(event.code, 1006);
    assert.equal(event.status, 503, 'the status counts for the backoff');
    assert.ok(event.delay >= 1_000, `delay ${event.delay} honours Retry-After: 1`);
    assert.equal(event.error, undefined, 'the listener owned the response: no HandshakeError (as in ws)');
    await once(ws, 'open');
    assert.equal(upgrades(), 2);
    assert.deepEqual(log.events, ['reconnecting 1006', 'open']);
    ws.close();
    await once(ws, 'close');
    assert.deepEqual(errors, []);
    await closeHttp(http, wss);
  });
}

test('an unexpected-response listener that reads a final refusal (403): close 1006 at once, endedBy refused, no error (the listener saw it)', async () => {
  const { http, url, wss, upgrades } = await refusingServer(403, {}, Infinity);
  const ws = new WebSocket(url, { reconnect: FAST, handshakeTimeout: 600_000 });
  const log = record(ws);
  const errors: Error[] = [];
  ws.on('error', (error) => errors.push(error));
  ws.on('unexpected-response', (_request, response) => response.resume());
  const [code] = await once<[number]>(ws, 'close');
  assert.equal(code, 1006);
  assert.equal(ws.reconnection?.endedBy, 'refused');
  assert.deepEqual(errors, []);
  assert.deepEqual(log.events, ['close 1006']);
  assert.equal(upgrades(), 1);
  await closeHttp(http, wss);
});

test('maxRetries: after that many failed attempts in a row, close with endedBy max-retries', async () => {
  const { server, url } = await startServer();
  await stopServer(server); // nothing listens: every attempt is refused
  const ws = new WebSocket(url, { reconnect: { ...FAST, maxRetries: 2 } });
  const log = record(ws);
  const [code] = await once<[number]>(ws, 'close');
  assert.equal(code, 1006);
  assert.equal(ws.reconnection?.endedBy, 'max-retries');
  assert.deepEqual(log.events, ['reconnecting 1006', 'reconnecting 1006', 'close 1006']);
});

test('close() by the application: no reconnect; close() while waiting for the next attempt ends it at once', async () => {
  const { server, port, url } = await startServer();
  const ws = new WebSocket(url, { reconnect: { initialDelay: 60_000, maxDelay: 60_000, jitter: 0 } });
  const log = record(ws);
  await once(ws, 'open');
  const reconnecting = once(ws, 'reconnecting');
  await stopServer(server);
  await reconnecting; // now waiting 60 s for the next attempt
  const restarted = await serverOn(port);
  let connections = 0;
  restarted.on('connection', () => connections++);
  ws.close();
  assert.equal(ws.readyState, WebSocket.CLOSED);
  assert.deepEqual(log.events, ['open', 'reconnecting 1006']); // close follows on the next tick, as in `ws`
  await once(ws, 'close');
  assert.deepEqual(log.events, ['open', 'reconnecting 1006', 'close 1006']);
  assert.equal(ws.reconnection?.endedBy, 'application');
  ws.close(); // twice: nothing more
  await delay(100);
  assert.equal(connections, 0);
  assert.equal(log.events.length, 3);

  // An open client closed by the application: the closing handshake, then close 1000, and no attempt.
  const other = new WebSocket(`ws://127.0.0.1:${port}`, { reconnect: FAST });
  const otherLog = record(other);
  await once(other, 'open');
  other.close(1000, 'done');
  await once(other, 'close');
  await delay(100);
  assert.deepEqual(otherLog.events, ['open', 'close 1000']);
  assert.equal(other.reconnection?.endedBy, 'application');
  await stopServer(restarted);
});

test('terminate() by the application: no reconnect either (close 1006, endedBy application)', async () => {
  const { server, url } = await startServer();
  let connections = 0;
  server.on('connection', () => connections++);
  const ws = new WebSocket(url, { reconnect: FAST });
  const log = record(ws);
  await once(ws, 'open');
  ws.terminate();
  await once(ws, 'close');
  await delay(100);
  assert.deepEqual(log.events, ['open', 'close 1006']);
  assert.equal(ws.reconnection?.endedBy, 'application');
  assert.equal(connections, 1);
  await stopServer(server);
});

test('resetAfter: attempts grow while connections drop at once, and start again at 1 after one stayed open that long', async () => {
  const { server, url } = await startServer();
  let connections = 0;
  server.on('connection', (socket) => {
    connections++;
    if (connections <= 3) socket.close(1012);
    else if (connections === 4) setTimeout(() => socket.close(1012), 1_200);
  });
  const ws = new WebSocket(url, { reconnect: { ...FAST, resetAfter: 1_000 } });
  const log = record(ws);
  await until(() => log.reconnecting.length === 4, 'four reconnecting events');
  assert.deepEqual(
    log.reconnecting.map((event) => event.attempt),
    [1, 2, 3, 1],
  );
  await until(() => connections === 5, 'the fifth connection');
  ws.close();
  await once(ws, 'close');
  await stopServer(server);
});

test('close() in an open listener of a reconnection: the queue is not sent, each message is reported', async () => {
  const { server, port, url } = await startServer();
  const ws = new WebSocket(url, { reconnect: FAST });
  const log = record(ws);
  await once(ws, 'open');
  const reconnecting = once(ws, 'reconnecting');
  await stopServer(server);
  await reconnecting;
  const errors: Array<Error | null | undefined> = [];
  ws.send('queued', (error) => errors.push(error));
  ws.once('open', () => ws.close());
  const restarted = await serverOn(port);
  await once(ws, 'close');
  await until(() => errors.length === 1, 'the callback');
  assert.ok(errors[0] instanceof Error);
  assert.deepEqual(log.dropped, [['queued', 'closed']]);
  await stopServer(restarted);
});

test('a Blob still being read when the connection drops is reported (callback error), not sent later, and leaves bufferedAmount', async () => {
  const { server, url } = await startServer();
  const ws = new WebSocket(url, { reconnect: FAST });
  record(ws);
  await once(ws, 'open');
  let release: (bytes: ArrayBuffer) => void = () => {};
  const slowBlob = new Blob(['slow']);
  Object.defineProperty(slowBlob, 'arrayBuffer', { value: () => new Promise<ArrayBuffer>((resolve) => (release = resolve)) });
  const errors: Array<Error | null | undefined> = [];
  ws.send(slowBlob, (error) => errors.push(error));
  ws.send('behind the blob', (error) => errors.push(error));
  assert.ok(ws.bufferedAmount > 0);
  const [serverSide] = [...server.clients];
  const reconnecting = once(ws, 'reconnecting');
  serverSide!.terminate();
  await reconnecting;
  await until(() => errors.length === 2, 'both callbacks');
  assert.ok(errors.every((error) => error instanceof Error));
  assert.equal(ws.bufferedAmount, 0);
  const [next] = await once<[WebSocket]>(server, 'connection');
  const received: string[] = [];
  next.on('message', (data) => received.push(String(data)));
  await once(ws, 'reconnected');
  release(new TextEncoder().encode('slow').buffer as ArrayBuffer);
  ws.send('fresh');
  await until(() => received.length === 1, 'the fresh message');
  await delay(50);
  assert.deepEqual(received, ['fresh']);
  ws.close();
  await once(ws, 'close');
  await stopServer(server);
});

test('sends while disconnected are queued and sent in order after the open listeners (who send first), bufferedAmount counts them', async () => {
  const { server, port, url } = await startServer();
  const ws = new WebSocket(url, { reconnect: FAST });
  record(ws);
  ws.on('open', () => ws.send('hello')); // e.g. a login, on every connection
  // Before the first open: queued too.
  ws.send('early');
  assert.equal(ws.bufferedAmount, 5);
  const [first] = await once<[WebSocket]>(server, 'connection');
  const firstMessages: string[] = [];
  first.on('message', (data) => firstMessages.push(String(data)));
  await until(() => firstMessages.length === 2, 'two messages');
  assert.deepEqual(firstMessages, ['hello', 'early']);
  const reconnecting = once(ws, 'reconnecting');
  await stopServer(server);
  await reconnecting;
  const callbacks: Array<Error | null | undefined> = [];
  ws.send('one', (error) => callbacks.push(error));
  ws.send(Buffer.from('two'));
  ws.send('three');
  assert.equal(ws.reconnection?.queuedMessages, 3);
  assert.equal(ws.bufferedAmount, 11);
  const restarted = await serverOn(port);
  const [second] = await once<[WebSocket]>(restarted, 'connection');
  const received: string[] = [];
  second.on('message', (data, isBinary) => received.push(`${String(data)}${isBinary ? ' (binary)' : ''}`));
  await until(() => received.length === 4, 'four messages');
  assert.deepEqual(received, ['hello', 'one', 'two (binary)', 'three']);
  await until(() => callbacks.length === 1, 'the callback');
  assert.equal(callbacks[0], null);
  assert.equal(ws.reconnection?.queuedMessages, 0);
  ws.close();
  await once(ws, 'close');
  await stopServer(restarted);
});

test('the queue bound: a send over maxMessages or maxBytes is refused (callback error, dropped event), the rest is kept', async () => {
  const { server, url } = await startServer();
  await stopServer(server);
  const ws = new WebSocket(url, { reconnect: { ...FAST, queue: { maxMessages: 2, maxBytes: 10 } } });
  const log = record(ws);
  const errors: Array<Error | null | undefined> = [];
  ws.send('12345', (e) => errors.push(e));
  ws.send('123456', (e) => errors.push(e)); // 11 bytes in all: over maxBytes
  ws.send('1234', (e) => errors.push(e));
  ws.send('x', (e) => errors.push(e)); // a third message: over maxMessages
  assert.equal(ws.reconnection?.queuedMessages, 2);
  assert.equal(ws.reconnection?.queuedBytes, 9);
  assert.equal(ws.reconnection?.droppedMessages, 2);
  assert.equal(ws.reconnection?.droppedBytes, 7);
  assert.deepEqual(log.dropped, [
    ['123456', 'queue-full'],
    ['x', 'queue-full'],
  ]);
  await until(() => errors.length === 2, 'two callbacks');
  assert.match(errors[0]!.message, /queue is full/);
  // It ends with messages still queued: each gets its error and a dropped event (reason closed).
  ws.close();
  await until(() => errors.length === 4, 'four callbacks');
  assert.deepEqual(log.dropped.slice(2), [
    ['12345', 'closed'],
    ['1234', 'closed'],
  ]);
  assert.equal(ws.bufferedAmount, 0);
});

test('queue: false refuses sends while disconnected (callback error, dropped not-queued), and send does not throw', async () => {
  const { server, url } = await startServer();
  await stopServer(server);
  const ws = new WebSocket(url, { reconnect: { ...FAST, queue: false } });
  const log = record(ws);
  const error = await new Promise<Error | null | undefined>((resolve) => ws.send('lost', resolve));
  assert.match(String(error?.message), /reconnect\.queue is false/);
  assert.deepEqual(log.dropped, [['lost', 'not-queued']]);
  assert.equal(ws.bufferedAmount, 0);
  ws.ping(undefined, undefined, () => {}); // no throw either
  ws.close();
  await once(ws, 'close');
});

test('for await continues across reconnects and ends when the client closes for good', async () => {
  const { server, port, url } = await startServer();
  server.on('connection', (socket) => socket.send('a1'));
  const ws = new WebSocket(url, { reconnect: FAST });
  record(ws);
  const seen: string[] = [];
  const loop = (async () => {
    for await (const { data } of ws) {
      seen.push(String(data));
      if (seen.length === 1) await stopServer(server);
      if (seen.length === 2) ws.close();
    }
  })();
  await until(() => seen.length === 1, 'the first message');
  await once(ws, 'reconnecting');
  const restarted = await serverOn(port);
  restarted.on('connection', (socket) => socket.send('b1'));
  await within(loop, 'the loop to end');
  assert.deepEqual(seen, ['a1', 'b1']);
  await stopServer(restarted);
});

test("iterate: 'connection' ends the loop when the connection drops; the next open can start another", async () => {
  const { server, port, url } = await startServer();
  server.on('connection', (socket) => socket.send('first'));
  const ws = new WebSocket(url, { reconnect: { ...FAST, iterate: 'connection' } });
  record(ws);
  const seen: string[] = [];
  const loop = (async () => {
    for await (const { data } of ws) {
      seen.push(String(data));
      await stopServer(server);
    }
  })();
  await within(loop, 'the loop to end with the connection');
  assert.deepEqual(seen, ['first']);
  const restarted = await serverOn(port);
  restarted.on('connection', (socket) => socket.send('second'));
  const opened = once(ws, 'open');
  const next = ws[Symbol.asyncIterator]().next(); // a new loop, started before the next connection opens
  await opened;
  const { value } = await within(next, 'the message of the next connection');
  assert.equal(String(value?.data), 'second');
  ws.close();
  await once(ws, 'close');
  await stopServer(restarted);
});

test('a dead link (a relay that stops forwarding) is found by the heartbeat, and the client reconnects; data stuck in the dead connection is reported', async () => {
  const { server, url: _url, port } = await startServer();
  const relay = await TcpRelay.start(port);
  const ws = new WebSocket(`ws://127.0.0.1:${relay.port}`, {
    reconnect: FAST,
    // Scaled (not under test here): the sends below must fill the buffers before the heartbeat fires.
    heartbeat: { interval: scaled(150), timeout: scaled(150) },
    perMessageDeflate: false,
    maxBufferedAmount: 1024 * 1024 * 1024, // the slow-consumer limit is not under test here
  });
  const log = record(ws);
  await once(ws, 'open');
  relay.cut();
  // Messages cannot leave any more: send them one per turn of the event loop (one socket write each)
  // until the kernel's buffers on both sides of the relay are full and two of them wait in the client;
  // the last one's callback must say it was not sent when the heartbeat ends the link. (A write that
  // Node has already handed to libuv is reported as done when the socket is destroyed — Node's
  // stream_base_commons onWriteComplete — so only a message queued behind it can be checked this way;
  // `unsentBytes` counts both.)
  const chunk = Buffer.alloc(1024 * 1024);
  let sent: Promise<Error | null | undefined> | undefined;
  for (let i = 0; i < 256 && ws.readyState === WebSocket.OPEN && ws.bufferedAmount < 3 * chunk.length; i++) {
    sent = new Promise<Error | null | undefined>((resolve) => ws.send(chunk, resolve));
    await new Promise(setImmediate);
  }
  assert.ok(ws.bufferedAmount >= 3 * chunk.length, `the client holds ${ws.bufferedAmount} bytes before the heartbeat fires`);
  const [event] = await once<[ReconnectingEvent]>(ws, 'reconnecting', scaled(10_000));
  assert.equal(event.code, 1006);
  const error = await within(sent!, 'the callback of the stuck message');
  assert.ok(event.unsentBytes > 0, `unsentBytes ${event.unsentBytes}`);
  assert.ok(error instanceof Error, 'the stuck message is reported, not forgotten');
  relay.restore();
  await once(ws, 'reconnected', DEFAULT_TIMEOUT);
  assert.deepEqual(log.events.slice(0, 2), ['open', 'reconnecting 1006']);
  ws.close();
  await once(ws, 'close');
  await relay.close();
  await stopServer(server);
});

test('bad reconnect options throw from the constructor', () => {
  assert.throws(() => new WebSocket('ws://127.0.0.1:1', { reconnect: { initialDelay: -1 } }), RangeError);
  assert.throws(() => new WebSocket('ws://127.0.0.1:1', { reconnect: { queue: { maxMessages: 1.5 } } }), RangeError);
  assert.throws(() => new WebSocket('ws://127.0.0.1:1', { reconnect: { iterate: 'sometimes' as 'across' } }), TypeError);
  assert.throws(() => new WebSocket('ws://127.0.0.1:1', { reconnect: 'yes' as unknown as boolean }), TypeError);
});

test('without reconnect, nothing changes: send while CONNECTING throws and close is emitted after a drop', async () => {
  const { server, url } = await startServer();
  const ws = new WebSocket(url);
  assert.throws(() => ws.send('x'), /CONNECTING/);
  assert.equal(ws.reconnection, null);
  await once(ws, 'open');
  const closed = once<[number]>(ws, 'close');
  await stopServer(server);
  const [code] = await closed;
  assert.equal(code, 1006);
});

/** The messages each connection of `server` received, one array per connection, in order. */
function received(server: WebSocketServer): string[][] {
  const connections: string[][] = [];
  server.on('connection', (socket) => {
    const messages: string[] = [];
    connections.push(messages);
    socket.on('message', (data) => messages.push(String(data)));
  });
  return connections;
}

/** Send and wait until the data has been written (a fragment really went out on this connection). */
function sendWritten(ws: WebSocket, data: string, options: { fin?: boolean }): Promise<void> {
  return new Promise((resolve, reject) => ws.send(data, options, (error) => (error ? reject(error) : resolve())));
}

for (const when of ['while disconnected', 'after the reconnect'] as const) {
  test(`fragments: the rest of a message whose first fragment went on a connection that died is refused up to its fin (${when}); the next message goes`, async () => {
    const { server, url } = await startServer();
    const messages = received(server);
    const ws = new WebSocket(url, { reconnect: FAST });
    const log = record(ws);
    await once(ws, 'open');
    await sendWritten(ws, 'a', { fin: false });
    const reconnecting = once(ws, 'reconnecting');
    for (const client of server.clients) client.terminate();
    await reconnecting;
    if (when === 'after the reconnect') await once(ws, 'reconnected');
    const errors: Array<Error | null | undefined> = [];
    ws.send('b', { fin: false }, (error) => errors.push(error));
    ws.send('c', (error) => errors.push(error)); // ends the message that was cut: refused too
    ws.send('d');
    if (when === 'while disconnected') await once(ws, 'reconnected');
    await until(() => messages[1]?.length === 1 && errors.length === 2, "the second connection's message");
    assert.deepEqual(messages, [[], ['d']]);
    assert.deepEqual(log.dropped, [
      ['b', 'partial-message'],
      ['c', 'partial-message'],
    ]);
    assert.match(String(errors[0]?.message), /continues a message that cannot be completed \(its first fragments were sent on a connection that ended\)/);
    assert.equal(ws.reconnection?.droppedMessages, 2);
    ws.close();
    await once(ws, 'close');
    await stopServer(server);
  });
}

test('fragments: a message begun while disconnected is held in the queue until its last fragment, then sent whole (a connection lost meanwhile loses none of it)', async () => {
  const { server, port, url } = await startServer();
  const ws = new WebSocket(url, { reconnect: FAST });
  const log = record(ws);
  await once(ws, 'open');
  const down = once(ws, 'reconnecting');
  await stopServer(server);
  await down;
  ws.send('x', { fin: false });
  ws.send('y', { fin: false });
  assert.equal(ws.reconnection?.queuedMessages, 2);
  const restarted = await serverOn(port);
  const messages = received(restarted);
  await once(ws, 'reconnected');
  assert.equal(ws.reconnection?.queuedMessages, 2, 'held: its last fragment has not come');
  assert.equal(ws.bufferedAmount, 2);
  // That connection is lost before the message is complete: nothing of it went out on it.
  const lost = once(ws, 'reconnecting');
  for (const client of restarted.clients) client.terminate();
  await lost;
  await once(ws, 'reconnected');
  assert.equal(ws.reconnection?.queuedMessages, 2);
  ws.send('z'); // while open: completes the message, which goes now, whole
  assert.equal(ws.reconnection?.queuedMessages, 0);
  await until(() => messages[1]?.length === 1, 'the whole message');
  assert.deepEqual(messages, [[], ['xyz']]);
  assert.deepEqual(log.dropped, []);
  ws.close();
  await once(ws, 'close');
  await stopServer(restarted);
});

test('fragments: a message begun while disconnected that hits the queue bound is dropped whole, its rest refused up to its fin', async () => {
  const { server, port, url } = await startServer();
  const ws = new WebSocket(url, { reconnect: { ...FAST, queue: { maxMessages: 2 } } });
  const log = record(ws);
  await once(ws, 'open');
  const down = once(ws, 'reconnecting');
  await stopServer(server);
  await down;
  ws.send('x', { fin: false });
  ws.send('y', { fin: false });
  ws.send('w', { fin: false }); // over maxMessages: x, y and w go
  ws.send('z'); // the end of that message: refused
  ws.send('next');
  assert.equal(ws.reconnection?.queuedMessages, 1);
  assert.deepEqual(log.dropped, [
    ['x', 'queue-full'],
    ['y', 'queue-full'],
    ['w', 'queue-full'],
    ['z', 'partial-message'],
  ]);
  const restarted = await serverOn(port);
  const messages = received(restarted);
  await once(ws, 'reconnected');
  await until(() => messages[0]?.length === 1, 'the next message');
  assert.deepEqual(messages, [['next']]);
  ws.close();
  await once(ws, 'close');
  await stopServer(restarted);
});

test('reconnected comes right after open, before a message that arrived in the same read as the 101 response', async () => {
  // A scripted server writes the 101 response and a text frame in one write (and, the first time, a
  // 1012 close frame too): the client reads them together, as it may when a server greets at once.
  let connections = 0;
  const { server, port } = await scriptedServer((socket) => {
    const number = ++connections;
    let request = '';
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      if (request.includes('\r\n\r\n')) {
        // The client's close frame (the only frame it sends): answered with an empty one, then FIN.
        socket.end(frame(Opcode.Close, Buffer.alloc(0), { mask: null }));
        return;
      }
      request += chunk.toString('latin1');
      if (!request.includes('\r\n\r\n')) return;
      const key = /sec-websocket-key: *(\S+)/i.exec(request)![1]!;
      const response = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${computeAcceptKey(key)}\r\n\r\n`;
      const closeBody = Buffer.alloc(2);
      closeBody.writeUInt16BE(1012);
      const frames = [frame(Opcode.Text, `greeting ${number}`, { mask: null }), ...(number === 1 ? [frame(Opcode.Close, closeBody, { mask: null })] : [])];
      socket.write(Buffer.concat([Buffer.from(response, 'latin1'), ...frames]));
      if (number === 1) socket.end();
    });
  });
  const ws = new WebSocket(`ws://127.0.0.1:${port}`, { reconnect: FAST });
  const log = record(ws);
  ws.on('message', (data) => log.events.push(`message ${String(data)}`));
  await within(once(ws, 'reconnected'), 'reconnected');
  await until(() => log.events.includes('message greeting 2'), 'the second greeting');
  ws.close();
  await once(ws, 'close');
  server.close();
  assert.deepEqual(log.events, ['open', 'message greeting 1', 'reconnecting 1012', 'open', 'reconnected 1', 'message greeting 2', 'close 1005']);
});
