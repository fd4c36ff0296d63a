/**
 * The per-client handshake limits of `WebSocketServer` (`limits.perAddress`, `limits.perKey`) with raw
 * clients: 503 / 429 with Retry-After, the `limit` event, slots freed when connections end, addresses
 * taken from the socket (never from a header), and nothing at all when `limits` is not set.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import diagnosticsChannel from 'node:diagnostics_channel';
import type { RateLimitMessage } from '../../src/node/diagnostics.js';
import { RawPeer, handshakenPeer, startServer, stopServer, upgradeRequest } from '../helpers/net.js';
import { once } from '../helpers/node.js';
import { waitFor } from '../helpers/protocol.js';
import type { LimitEvent } from '../../src/node/limits-options.js';
import { kMessageRate, type WebSocket } from '../../src/node/websocket.js';

async function attempt(port: number, headers: Record<string, string | null> = {}): Promise<{ status: number; retryAfter: string | undefined; peer: RawPeer }> {
  const peer = await RawPeer.connect(port);
  peer.write(upgradeRequest('/', headers));
  const response = await peer.response();
  return { status: response.status, retryAfter: response.headers.get('retry-after'), peer };
}

test('without the limits option, nothing limits a client and connections carry no rate state', async () => {
  const { wss, port } = await startServer();
  const events: LimitEvent[] = [];
  wss.on('limit', (event) => events.push(event));
  const sockets: WebSocket[] = [];
  wss.on('connection', (ws) => sockets.push(ws));
  try {
    const peers = await Promise.all(Array.from({ length: 40 }, () => handshakenPeer(port)));
    await waitFor(() => sockets.length === 40, undefined, 'the connections');
    assert.ok(sockets.every((ws) => ws[kMessageRate] === null));
    assert.equal(events.length, 0);
    for (const peer of peers) peer.destroy();
  } finally {
    await stopServer(wss);
  }
});

test('perAddress.maxConnections: one more is refused with 503 and Retry-After; a closed connection frees its slot', async () => {
  const { wss, port } = await startServer({ limits: { perAddress: { maxConnections: 2, handshakesPerSecond: Infinity }, retryAfter: 7 } });
  const events: LimitEvent[] = [];
  wss.on('limit', (event) => events.push(event));
  try {
    const first = await handshakenPeer(port);
    await handshakenPeer(port);
    const refused = await attempt(port);
    assert.equal(refused.status, 503);
    assert.equal(refused.retryAfter, '7');
    await refused.peer.waitClosed();
    assert.equal(events.length, 1);
    const event = events[0]!;
    assert.equal(event.code, 'FD_ERR_CLIENT_CONNECTIONS');
    assert.equal(event.action, 'refuse');
    assert.equal(event.status, 503);
    assert.equal(event.retryAfter, 7);
    assert.equal(event.address, '127.0.0.1');
    assert.equal(event.request.url, '/');
    // One leaves: its slot is free once the server has seen its socket close.
    const serverSide = [...wss.clients][0]!;
    const gone = once(serverSide, 'close');
    first.destroy();
    await gone;
    const again = await attempt(port);
    assert.equal(again.status, 101);
  } finally {
    await stopServer(wss);
  }
});

test('perAddress handshakes: the burst passes, the next is refused with 429 and Retry-After (refused attempts count too)', async () => {
  const { wss, port } = await startServer({ limits: { perAddress: { handshakesPerSecond: 0.01, handshakeBurst: 3 } } });
  const events: LimitEvent[] = [];
  wss.on('limit', (event) => events.push(event));
  try {
    for (let i = 0; i < 3; i++) assert.equal((await attempt(port)).status, 101);
    const refused = await attempt(port);
    assert.equal(refused.status, 429);
    const seconds = Number(refused.retryAfter);
    assert.ok(seconds >= 1 && seconds <= 100, `Retry-After ${refused.retryAfter}: one token at 0.01/s takes at most 100 s`);
    assert.equal((await attempt(port)).status, 429);
    assert.deepEqual(events.map((e) => [e.code, e.status]), [['FD_ERR_CLIENT_HANDSHAKE_RATE', 429], ['FD_ERR_CLIENT_HANDSHAKE_RATE', 429]]);
  } finally {
    await stopServer(wss);
  }
});

test('the address comes from the socket: forwarding headers from the peer change nothing (no spoofing)', async () => {
  const { wss, port } = await startServer({ limits: { perAddress: { handshakesPerSecond: 0.01, handshakeBurst: 2 } } });
  const events: LimitEvent[] = [];
  wss.on('limit', (event) => events.push(event));
  try {
    const spoofs: Array<Record<string, string>> = [
      { 'X-Forwarded-For': '198.51.100.1' },
      { Forwarded: 'for=198.51.100.2', 'X-Real-IP': '198.51.100.3' },
      { 'X-Forwarded-For': '2001:db8::1, 198.51.100.4' },
    ];
    const statuses: number[] = [];
    for (const headers of spoofs) statuses.push((await attempt(port, headers)).status);
    assert.deepEqual(statuses, [101, 101, 429]);
    assert.equal(events[0]!.address, '127.0.0.1');
  } finally {
    await stopServer(wss);
  }
});

test('a handshake refused later (by authenticate) gives its slot back', async () => {
  const { wss, port } = await startServer({
    limits: { perAddress: { maxConnections: 1, handshakesPerSecond: Infinity } },
    authenticate: (request: IncomingMessage) => {
      if (request.headers['x-token'] !== 'ok') throw Object.assign(new Error('no'), { status: 401 });
    },
  });
  try {
    for (let i = 0; i < 3; i++) {
      const refused = await attempt(port);
      assert.equal(refused.status, 401);
      await refused.peer.waitClosed();
    }
    assert.equal((await attempt(port, { 'X-Token': 'ok' })).status, 101);
  } finally {
    await stopServer(wss);
  }
});

test('perKey: the key function runs after authenticate, limits per key, and null exempts a request', async () => {
  const seen: string[] = [];
  const { wss, port } = await startServer({
    authenticate: (request: IncomingMessage) => {
      const user = request.headers['x-user'];
      if (user === undefined) throw Object.assign(new Error('who?'), { status: 401 });
      (request as IncomingMessage & { user?: string }).user = String(user);
    },
    limits: {
      perKey: {
        maxConnections: 1,
        handshakesPerSecond: Infinity,
        key: (request) => {
          const user = (request as IncomingMessage & { user?: string }).user!;
          seen.push(user);
          return user === 'admin' ? null : user;
        },
      },
    },
  });
  const events: LimitEvent[] = [];
  wss.on('limit', (event) => events.push(event));
  try {
    assert.equal((await attempt(port)).status, 401, 'refused by authenticate');
    assert.deepEqual(seen, [], 'the key function did not run for a refused handshake');
    assert.equal((await attempt(port, { 'X-User': 'alice' })).status, 101);
    const refused = await attempt(port, { 'X-User': 'alice' });
    assert.equal(refused.status, 503);
    assert.equal(refused.retryAfter, '5');
    assert.equal((await attempt(port, { 'X-User': 'bob' })).status, 101);
    assert.equal((await attempt(port, { 'X-User': 'admin' })).status, 101);
    assert.equal((await attempt(port, { 'X-User': 'admin' })).status, 101);
    assert.equal(events.length, 1);
    assert.equal(events[0]!.key, 'alice');
    assert.equal(events[0]!.address, '127.0.0.1');
  } finally {
    await stopServer(wss);
  }
});

test('perAddress and perKey together: each counts its own connections', async () => {
  const { wss, port } = await startServer({
    limits: {
      perAddress: { maxConnections: 3, handshakesPerSecond: Infinity },
      perKey: { maxConnections: 2, handshakesPerSecond: Infinity, key: (request) => String(request.headers['x-user']) },
    },
  });
  try {
    assert.equal((await attempt(port, { 'X-User': 'a' })).status, 101);
    assert.equal((await attempt(port, { 'X-User': 'a' })).status, 101);
    const byKey = await attempt(port, { 'X-User': 'a' });
    assert.equal(byKey.status, 503, 'key a has its 2');
    await byKey.peer.waitClosed(); // its address slot goes back with its socket
    assert.equal((await attempt(port, { 'X-User': 'b' })).status, 101);
    const byAddress = await attempt(port, { 'X-User': 'b' });
    assert.equal(byAddress.status, 503, 'the address has its 3');
    assert.match(byAddress.peer.received.toString('latin1'), /Too many connections from this client/);
  } finally {
    await stopServer(wss);
  }
});

test('a perKey.key function that throws: the handshake is refused with 500 and the error is rethrown to the caller', async () => {
  const { createServer } = await import('node:http');
  const { WebSocketServer } = await import('../../src/node/server.js');
  const { listen } = await import('../helpers/node.js');
  const wss = new WebSocketServer({ noServer: true, limits: { perKey: { key: () => { throw new Error('no key'); } } } });
  const thrown: unknown[] = [];
  const server = createServer();
  server.on('upgrade', (request, socket, head) => {
    try {
      wss.handleUpgrade(request, socket, head, () => {});
    } catch (error) {
      thrown.push(error);
    }
  });
  const port = await listen(server);
  try {
    const refused = await attempt(port);
    assert.equal(refused.status, 500);
    assert.deepEqual(thrown.map((e) => (e as Error).message), ['no key']);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await stopServer(wss);
  }
});

test('the operator sees each limit: fullduplex:rate-limit messages, and refusals in stats() by status and code', async () => {
  const { wss, port } = await startServer({ limits: { perAddress: { handshakesPerSecond: 0.01, handshakeBurst: 1 } } });
  const published: RateLimitMessage[] = [];
  const listener = (message: unknown): void => void published.push(message as RateLimitMessage);
  diagnosticsChannel.subscribe('fullduplex:rate-limit', listener);
  try {
    assert.equal((await attempt(port)).status, 101);
    assert.equal((await attempt(port)).status, 429);
    assert.deepEqual(published, [{ socket: null, key: '127.0.0.1', action: 'refuse', limit: 'FD_ERR_CLIENT_HANDSHAKE_RATE' }]);
    assert.deepEqual(wss.stats().rejects, [{ status: 429, code: 'FD_ERR_CLIENT_HANDSHAKE_RATE', count: 1 }]);
  } finally {
    diagnosticsChannel.unsubscribe('fullduplex:rate-limit', listener);
    await stopServer(wss);
  }
});
