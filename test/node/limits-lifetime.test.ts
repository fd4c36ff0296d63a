/**
 * `limits.maxLifetime`: every connection is closed with 1012 (or 1013) after its lifetime ± jitter,
 * from one shared timer; a connection that ends earlier leaves nothing scheduled.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Opcode } from '../../src/protocol/constants.js';
import { handshakenPeer, parseServerFrames, startServer, stopServer, type RawPeer } from '../helpers/net.js';
import { once } from '../helpers/node.js';
import { waitFor } from '../helpers/protocol.js';
import { scaled } from '../helpers/time.js';
import { lifetimeOf, type ClientLimiter } from '../../src/node/limits.js';
import type { LimitEvent } from '../../src/node/limits-options.js';
import type { WebSocket } from '../../src/node/websocket.js';

test('lifetimeOf spreads lifetimes uniformly over maxLifetime ± jitter', () => {
  assert.equal(lifetimeOf(1000, 0.1, () => 0), 900);
  assert.equal(lifetimeOf(1000, 0.1, () => 0.5), 1000);
  assert.ok(Math.abs(lifetimeOf(1000, 0.1, () => 0.999999) - 1100) < 0.01);
  assert.equal(lifetimeOf(1000, 0, () => 0.3), 1000);
  for (let i = 0; i < 1000; i++) {
    const lifetime = lifetimeOf(60_000, 0.2);
    assert.ok(lifetime >= 48_000 && lifetime < 72_000);
  }
});

function closeFrame(peer: RawPeer): { code: number; reason: string } | null {
  const close = parseServerFrames(peer.received).find((f) => f.opcode === Opcode.Close);
  return close === undefined ? null : { code: close.payload.readUInt16BE(0), reason: close.payload.subarray(2).toString() };
}

test('maxLifetime: each connection gets a close frame 1012 within its lifetime ± jitter, and the server a limit event', async () => {
  const MAX = 400;
  const JITTER = 0.25;
  const { wss, port } = await startServer({ limits: { maxLifetime: MAX, lifetimeJitter: JITTER } });
  const events: LimitEvent[] = [];
  wss.on('limit', (event) => events.push(event));
  const openedAt = new Map<WebSocket, number>();
  wss.on('connection', (ws) => openedAt.set(ws, performance.now()));
  const closedAfter: number[] = [];
  wss.on('connection', (ws) => ws.on('close', () => closedAfter.push(performance.now() - openedAt.get(ws)!)));
  try {
    const peers = await Promise.all(Array.from({ length: 8 }, () => handshakenPeer(port)));
    await Promise.all(peers.map((peer) => peer.waitFor(() => closeFrame(peer) !== null, scaled(MAX * 2 + 5000), 'the lifetime close frame')));
    for (const peer of peers) assert.deepEqual(closeFrame(peer), { code: 1012, reason: 'Connection lifetime reached' });
    for (const peer of peers) peer.destroy();
    await waitFor(() => closedAfter.length === 8, undefined, 'the server-side closes');
    // Never before the shortest lifetime (1 ms for timer rounding); late only by the machine's load.
    for (const after of closedAfter) assert.ok(after >= MAX * (1 - JITTER) - 1, `closed after ${Math.round(after)} ms`);
    assert.equal(events.length, 8);
    assert.ok(events.every((e) => e.code === 'FD_ERR_MAX_LIFETIME' && e.action === 'close' && e.closeCode === 1012 && e.address === '127.0.0.1'));
  } finally {
    await stopServer(wss);
  }
});

test('lifetimeCloseCode 1013: the lifetime ends with Try Again Later', async () => {
  const { wss, port } = await startServer({ limits: { maxLifetime: 50, lifetimeCloseCode: 1013, lifetimeJitter: 0 } });
  try {
    const peer = await handshakenPeer(port);
    await peer.waitFor(() => closeFrame(peer) !== null, undefined, 'the close frame');
    assert.equal(closeFrame(peer)!.code, 1013);
    peer.destroy();
  } finally {
    await stopServer(wss);
  }
});

test('a connection that ends before its lifetime leaves nothing scheduled; none is closed before it', async () => {
  const { wss, port } = await startServer({ limits: { maxLifetime: 3_600_000 } });
  const limiter = (wss as unknown as { limits: ClientLimiter }).limits;
  try {
    const connection = once<[WebSocket]>(wss, 'connection');
    const peer = await handshakenPeer(port);
    const [ws] = await connection;
    assert.equal(limiter.scheduled, 1);
    const closed = once(ws, 'close');
    peer.destroy();
    await closed;
    assert.equal(limiter.scheduled, 0);
  } finally {
    await stopServer(wss);
  }
});
