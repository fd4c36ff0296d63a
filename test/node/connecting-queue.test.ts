/**
 * The connecting queue (RFC 6455 §4.1 client requirement 2): per endpoint key, one holder at a time,
 * the others in arrival order; every release (of the holder or of a waiter) is idempotent; a waiter
 * released before its turn never gets it; keys do not block each other; no key outlives its last
 * ticket. Then the Node-layer client with `queueConnecting: true`: every way a handshake can end
 * (open, refused TCP, a 403, a reset, a bad 101, a timeout, close() and terminate() while waiting or
 * connecting, a followed redirect, an `unexpected-response` listener, a failed lookup) gives the turn
 * to the next connection and leaves no entry behind.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createHash } from 'node:crypto';
import { ConnectingQueue, connectingQueue, type ConnectingTicket } from '../../src/node/connecting-queue.js';
import { WebSocket, type ClientOptions } from '../../src/node/index.js';
import { scaled } from '../helpers/time.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Let queued microtasks (the deferred turns) run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A fresh queue and three tickets taken in the order a, b, c (on `keys`, one key by default), each
 * recording its turn in `turns`.
 */
function threeTickets(keys: readonly [string, string, string] = ['k', 'k', 'k']): { queue: ConnectingQueue; turns: string[]; a: ConnectingTicket; b: ConnectingTicket; c: ConnectingTicket } {
  const queue = new ConnectingQueue();
  const turns: string[] = [];
  const a = queue.acquire(keys[0], () => turns.push('a'));
  const b = queue.acquire(keys[1], () => turns.push('b'));
  const c = queue.acquire(keys[2], () => turns.push('c'));
  return { queue, turns, a, b, c };
}

describe('ConnectingQueue', () => {
  it('gives the turn to one ticket per key at a time, in arrival order, never synchronously', async () => {
    const { queue, turns, a, b, c } = threeTickets();
    assert.deepEqual(turns, [], 'the turn is granted in a microtask, not inside acquire()');
    await settle();
    assert.deepEqual(turns, ['a']);
    assert.equal(a.holding, true);
    assert.equal(b.holding, false);
    assert.equal(queue.pending('k'), 3);
    a.release();
    await settle();
    assert.deepEqual(turns, ['a', 'b']);
    b.release();
    await settle();
    assert.deepEqual(turns, ['a', 'b', 'c']);
    c.release();
    assert.equal(queue.size, 0);
    assert.equal(queue.pending('k'), 0);
  });

  it('release() is idempotent: releasing the holder twice does not skip a waiter', async () => {
    const { queue, turns, a, b, c } = threeTickets();
    await settle();
    a.release();
    a.release();
    await settle();
    assert.deepEqual(turns, ['a', 'b'], 'the second release of a must not release b');
    assert.equal(b.holding, true);
    assert.equal(c.holding, false);
    b.release();
    c.release();
    c.release();
    assert.equal(queue.size, 0);
  });

  it('a waiter released before its turn leaves the queue and never gets the turn', async () => {
    const { queue, turns, a, b, c } = threeTickets();
    await settle();
    b.release(); // closed while waiting
    assert.equal(queue.pending('k'), 2);
    a.release();
    await settle();
    assert.deepEqual(turns, ['a', 'c']);
    c.release();
    assert.equal(queue.size, 0);
  });

  it('a ticket granted the turn but released before its callback ran passes the turn on', async () => {
    const queue = new ConnectingQueue();
    const turns: string[] = [];
    const a = queue.acquire('k', () => turns.push('a'));
    a.release(); // before the microtask that would call onTurn
    const b = queue.acquire('k', () => turns.push('b'));
    const c = queue.acquire('k', () => turns.push('c'));
    await settle();
    assert.deepEqual(turns, ['b']);
    b.release();
    await settle();
    assert.deepEqual(turns, ['b', 'c']);
    c.release();
    assert.equal(queue.size, 0);
  });

  it('different keys do not block each other', async () => {
    const { queue, turns, a, b, c } = threeTickets(['ip:127.0.0.1:1', 'ip:127.0.0.1:2', 'unix:/tmp/s']);
    await settle();
    assert.deepEqual(turns.sort(), ['a', 'b', 'c']);
    assert.equal(queue.size, 3);
    for (const ticket of [a, b, c]) ticket.release();
    assert.equal(queue.size, 0);
  });

  it('no entry is left once 100 tickets over 5 keys settle in any order', async () => {
    const queue = new ConnectingQueue();
    const holders = new Map<string, number>();
    let maxHolders = 0;
    const tickets = Array.from({ length: 100 }, (_, i) => {
      const key = `k${i % 5}`;
      const ticket = queue.acquire(key, () => {
        holders.set(key, (holders.get(key) ?? 0) + 1);
        maxHolders = Math.max(maxHolders, holders.get(key)!);
        // The holder finishes a little later (as a handshake would), then releases.
        setImmediate(() => {
          holders.set(key, holders.get(key)! - 1);
          ticket.release();
        });
      });
      return ticket;
    });
    // Some waiters give up (closed while waiting).
    for (let i = 50; i < 100; i += 3) tickets[i]!.release();
    const deadline = Date.now() + scaled(5000);
    while (queue.size > 0 && Date.now() < deadline) await settle();
    assert.equal(queue.size, 0);
    assert.equal(maxHolders, 1, 'never two holders of one key');
  });

  it('rejects a bad key or callback with a TypeError', () => {
    const queue = new ConnectingQueue();
    assert.throws(() => queue.acquire('', () => {}), TypeError);
    assert.throws(() => queue.acquire('k', undefined as unknown as () => void), TypeError);
    assert.equal(queue.size, 0);
  });
});

// --- the client's every path releases the turn -----------------------------------------------------

type Behaviour = (socket: Socket, request: string) => void;

/** A raw TCP server: each connection is answered by `behaviour` once its request head arrived. */
async function rawServer(behaviour: Behaviour): Promise<{ server: Server; port: number; arrivals: number[] }> {
  const arrivals: number[] = [];
  const server = createServer((socket) => {
    arrivals.push(Date.now());
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let head = '';
    socket.on('data', (chunk: Buffer) => {
      if (head.includes('\r\n\r\n')) return;
      head += chunk.toString('latin1');
      if (head.includes('\r\n\r\n')) behaviour(socket, head);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port, arrivals };
}

function accept(socket: Socket, request: string): void {
  const key = /sec-websocket-key:\s*(\S+)/i.exec(request)![1]!;
  const accepted = createHash('sha1').update(key + GUID).digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accepted}\r\n\r\n`);
}

/** Every raw server's open sockets, destroyed when it closes. */
const sockets = new Set<Socket>();

function closeServer(server: Server): Promise<void> {
  for (const socket of sockets) socket.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Open a client with the queue on; resolves with how it ended ('open' or the error message). */
function outcome(ws: WebSocket): Promise<string> {
  return new Promise((resolve) => {
    ws.on('open', () => {
      resolve('open');
      ws.terminate();
    });
    ws.on('error', (error) => resolve(`error: ${error.message}`));
    ws.on('close', () => resolve('closed'));
  });
}

async function waitFor(test: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + scaled(5000);
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const QUEUED: ClientOptions = { queueConnecting: true, perMessageDeflate: false };

/**
 * The first connection ends as `first` makes it; a second one, queued behind it, must then reach the
 * server (which accepts it), and no entry may be left in the process-wide queue.
 */
const failurePaths: Array<{ name: string; first: Behaviour | null; options?: ClientOptions; act?: (ws: WebSocket) => void; expected: RegExp; secondEndsFirst?: boolean }> = [
  { name: 'the handshake completes (open)', first: accept, expected: /^open$/ },
  { name: 'the server answers 403', first: (socket) => socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n'), expected: /Unexpected server response: 403/ },
  { name: 'the server resets the connection', first: (socket) => socket.resetAndDestroy(), expected: /ECONNRESET|socket hang up/ },
  { name: 'the server answers 101 with a bad accept key', first: (socket) => socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAA\r\n\r\n'), expected: /Sec-WebSocket-Accept/i },
  { name: 'the handshake times out', first: () => {}, options: { handshakeTimeout: 200 }, expected: /timed out/ },
  { name: 'close() while connecting', first: () => {}, act: (ws) => setTimeout(() => ws.close(), 50), expected: /closed before the connection was established/ },
  { name: 'terminate() while connecting', first: () => {}, act: (ws) => setTimeout(() => ws.terminate(), 50), expected: /closed before the connection was established/ },
  {
    name: 'an unexpected-response listener takes the response',
    first: (socket) => socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n'),
    // The listener keeps the request for a long while: the turn must pass at the response, not at the end.
    act: (ws) => ws.on('unexpected-response', () => setTimeout(() => ws.terminate(), scaled(1000))),
    expected: /closed before the connection was established/,
    secondEndsFirst: true,
  },
];

describe('client with queueConnecting: every way a handshake ends releases the turn', () => {
  for (const path of failurePaths) {
    it(`${path.name}: the next connection goes, nothing is left`, { timeout: scaled(20_000) }, async () => {
      let count = 0;
      const { server, port, arrivals } = await rawServer((socket, request) => {
        count++;
        if (count === 1) path.first?.(socket, request);
        else accept(socket, request);
      });
      try {
        const first = new WebSocket(`ws://127.0.0.1:${port}`, { ...QUEUED, ...path.options });
        path.act?.(first);
        const second = new WebSocket(`ws://127.0.0.1:${port}`, QUEUED);
        const order: string[] = [];
        const [firstEnd, secondEnd] = await Promise.all([
          outcome(first).finally(() => order.push('first')),
          outcome(second).finally(() => order.push('second')),
        ]);
        if (path.secondEndsFirst === true) assert.deepEqual(order, ['second', 'first']);
        assert.match(firstEnd, path.expected);
        assert.equal(secondEnd, 'open');
        assert.equal(arrivals.length, 2);
        await waitFor(() => connectingQueue.size === 0, 'the queue to empty');
      } finally {
        await closeServer(server);
      }
    });
  }

  it('refused TCP connections release the turn (three clients, nobody listening)', { timeout: scaled(20_000) }, async () => {
    const { server, port } = await rawServer(() => {});
    await closeServer(server); // the port is now (very likely) closed
    const clients = [0, 1, 2].map(() => new WebSocket(`ws://127.0.0.1:${port}`, QUEUED));
    const ends = await Promise.all(clients.map(outcome));
    for (const end of ends) assert.match(end, /ECONNREFUSED/);
    assert.equal(connectingQueue.size, 0);
  });

  it('a waiter closed or terminated before its turn never connects and leaves the queue', { timeout: scaled(20_000) }, async () => {
    const held: Socket[] = [];
    const { server, port, arrivals } = await rawServer((socket) => held.push(socket));
    try {
      const first = new WebSocket(`ws://127.0.0.1:${port}`, QUEUED);
      const closedWaiter = new WebSocket(`ws://127.0.0.1:${port}`, QUEUED);
      const terminatedWaiter = new WebSocket(`ws://127.0.0.1:${port}`, QUEUED);
      const ends = [outcome(first), outcome(closedWaiter), outcome(terminatedWaiter)];
      await waitFor(() => arrivals.length === 1 && held.length === 1, 'the first handshake');
      closedWaiter.close();
      terminatedWaiter.terminate();
      assert.match(await ends[1]!, /closed before the connection was established/);
      assert.match(await ends[2]!, /closed before the connection was established/);
      first.terminate();
      assert.match(await ends[0]!, /closed before the connection was established/);
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(arrivals.length, 1, 'the closed waiters never connected');
      assert.equal(connectingQueue.size, 0);
    } finally {
      await closeServer(server);
    }
  });

  it('time spent waiting counts against handshakeTimeout: a waiter times out in the queue, never connecting', { timeout: scaled(20_000) }, async () => {
    const held: Socket[] = [];
    const { server, port, arrivals } = await rawServer((socket) => held.push(socket));
    try {
      const first = new WebSocket(`ws://127.0.0.1:${port}`, QUEUED);
      const firstEnd = outcome(first);
      const started = Date.now();
      const waiter = new WebSocket(`ws://127.0.0.1:${port}`, { ...QUEUED, handshakeTimeout: 300 });
      assert.match(await outcome(waiter), /timed out after 300 ms/);
      assert.ok(Date.now() - started >= 290, 'not before its timeout');
      assert.equal(arrivals.length, 1, 'the waiter never connected');
      assert.equal(connectingQueue.pending(`ip:127.0.0.1:${port}`), 1, 'only the first is left');
      first.terminate();
      await firstEnd;
      assert.equal(connectingQueue.size, 0);
    } finally {
      await closeServer(server);
    }
  });

  it('a followed redirect gives up the turn and queues again for its target', { timeout: scaled(20_000) }, async () => {
    const target = await rawServer(accept);
    let count = 0;
    const origin = await rawServer((socket, request) => {
      count++;
      if (count === 1) socket.end(`HTTP/1.1 302 Found\r\nLocation: ws://127.0.0.1:${target.port}/next\r\nContent-Length: 0\r\n\r\n`);
      else accept(socket, request);
    });
    try {
      const redirected = new WebSocket(`ws://127.0.0.1:${origin.port}`, { ...QUEUED, followRedirects: true });
      const second = new WebSocket(`ws://127.0.0.1:${origin.port}`, QUEUED);
      const [a, b] = await Promise.all([outcome(redirected), outcome(second)]);
      assert.deepEqual([a, b], ['open', 'open']);
      assert.equal(redirected.url, `ws://127.0.0.1:${target.port}/next`);
      assert.equal(origin.arrivals.length, 2);
      assert.equal(target.arrivals.length, 1);
      await waitFor(() => connectingQueue.size === 0, 'the queue to empty');
    } finally {
      await closeServer(origin.server);
      await closeServer(target.server);
    }
  });

  it('a failed lookup fails the connection (its error) and takes no turn', { timeout: scaled(20_000) }, async () => {
    const lookup = ((_host: string, _options: unknown, callback: (error: Error) => void) => {
      process.nextTick(() => callback(Object.assign(new Error('getaddrinfo ENOTFOUND nowhere.invalid'), { code: 'ENOTFOUND' })));
    }) as unknown as ClientOptions['lookup'];
    const ws = new WebSocket('ws://nowhere.invalid:9', { ...QUEUED, lookup });
    assert.match(await outcome(ws), /ENOTFOUND/);
    assert.equal(connectingQueue.size, 0);
  });

  it('a bad header still throws from the constructor, and queueConnecting must be a boolean', () => {
    assert.throws(() => new WebSocket('ws://127.0.0.1:9', { ...QUEUED, headers: { 'bad name': 'x' } }), { code: 'ERR_INVALID_HTTP_TOKEN' });
    assert.throws(() => new WebSocket('ws://127.0.0.1:9', { ...QUEUED, headers: { good: 'a\nb' } }), { code: 'ERR_INVALID_CHAR' });
    assert.throws(() => new WebSocket('ws://127.0.0.1:9', { queueConnecting: 'yes' as unknown as boolean }), TypeError);
    assert.equal(connectingQueue.size, 0);
  });
});
