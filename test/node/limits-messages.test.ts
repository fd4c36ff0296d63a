/**
 * The message rate of each connection (`limits.messages`) with raw clients: the policies 'drop',
 * 'close' (1008) and 'pause' (the socket is no longer read: the client's writes back up in the kernel
 * buffers, then in its own), the `rateLimit` events, and the user's pause/resume alongside.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Opcode } from '../../src/protocol/constants.js';
import { handshakenPeer, parseServerFrames, startServer, stopServer, type RawPeer } from '../helpers/net.js';
import { frame, waitFor } from '../helpers/protocol.js';
import { delay, once } from '../helpers/node.js';
import type { LimitEvent, MessageLimits, RateLimitEvent } from '../../src/node/limits-options.js';
import type { WebSocket } from '../../src/node/websocket.js';

interface Setup {
  peer: RawPeer;
  ws: WebSocket;
  received: Buffer[];
  rate: RateLimitEvent[];
  limits: LimitEvent[];
  openedAt: number;
  stop(): Promise<void>;
}

async function setup(messages: MessageLimits): Promise<Setup> {
  const { wss, port } = await startServer({ limits: { messages } });
  const connection = once<[WebSocket]>(wss, 'connection');
  const peer = await handshakenPeer(port);
  const [ws] = await connection;
  const openedAt = performance.now();
  const received: Buffer[] = [];
  const rate: RateLimitEvent[] = [];
  const limits: LimitEvent[] = [];
  ws.on('message', (data) => received.push(data as Buffer));
  ws.on('rateLimit', (event) => rate.push(event));
  wss.on('limit', (event) => limits.push(event));
  return {
    peer,
    ws,
    received,
    rate,
    limits,
    openedAt,
    async stop() {
      peer.destroy();
      await stopServer(wss);
    },
  };
}

const text = (payload: string): Buffer => frame(Opcode.Text, payload);

test("policy 'drop': messages over the burst are discarded, each named by a rateLimit event; the connection stays", async () => {
  const s = await setup({ messagesPerSecond: 0.001, messageBurst: 3, policy: 'drop' });
  try {
    s.peer.write(Buffer.concat(['m0', 'm1', 'm2', 'm3', 'm4'].map(text)));
    await waitFor(() => s.rate.length === 2, undefined, 'two rateLimit events');
    assert.deepEqual(s.received.map(String), ['m0', 'm1', 'm2']);
    assert.deepEqual(
      s.rate.map((e) => [e.code, e.action, e.limit, e.size, e.isBinary, String(e.data)]),
      [
        ['FD_ERR_MESSAGE_RATE', 'drop', 'messages', 2, false, 'm3'],
        ['FD_ERR_MESSAGE_RATE', 'drop', 'messages', 2, false, 'm4'],
      ],
    );
    assert.equal(s.limits.length, 2);
    assert.equal(s.limits[0]!.socket, s.ws);
    assert.equal(s.limits[0]!.address, '127.0.0.1');
    assert.equal(s.limits[0]!.rate, s.rate[0]);
    s.peer.write(frame(Opcode.Ping, 'alive?'));
    await s.peer.waitFor((r) => parseServerFrames(r).some((f) => f.opcode === Opcode.Pong), undefined, 'a pong');
    assert.equal(s.ws.readyState, s.ws.OPEN);
  } finally {
    await s.stop();
  }
});

test("policy 'drop' on bytes: a message the byte bucket cannot hold is dropped, a smaller one after it passes", async () => {
  const s = await setup({ messagesPerSecond: Infinity, bytesPerSecond: 0.001, byteBurst: 100, policy: 'drop' });
  try {
    s.peer.write(Buffer.concat([frame(Opcode.Binary, Buffer.alloc(60, 1)), frame(Opcode.Binary, Buffer.alloc(60, 2)), frame(Opcode.Binary, Buffer.alloc(30, 3))]));
    await waitFor(() => s.received.length === 2 && s.rate.length === 1, undefined, 'two messages and a drop');
    assert.deepEqual(s.received.map((b) => [b.length, b[0]]), [[60, 1], [30, 3]]);
    assert.deepEqual([s.rate[0]!.limit, s.rate[0]!.size, s.rate[0]!.isBinary, s.rate[0]!.data![0]], ['bytes', 60, true, 2]);
  } finally {
    await s.stop();
  }
});

test("policy 'close': the first message over the rate fails the connection with 1008; nothing after it is delivered", async () => {
  const s = await setup({ messagesPerSecond: 0.001, messageBurst: 2, policy: 'close' });
  try {
    const closed = once<[number, Buffer]>(s.ws, 'close');
    s.peer.write(Buffer.concat(['a', 'b', 'c', 'd'].map(text)));
    const [code, reason] = await closed;
    assert.equal(code, 1008);
    assert.equal(String(reason), 'Message rate exceeded');
    await s.peer.waitFor((r) => parseServerFrames(r).some((f) => f.opcode === Opcode.Close), undefined, 'a close frame');
    const close = parseServerFrames(s.peer.received).find((f) => f.opcode === Opcode.Close)!;
    assert.equal(close.payload.readUInt16BE(0), 1008);
    assert.deepEqual(s.received.map(String), ['a', 'b']);
    assert.deepEqual(s.rate.map((e) => [e.action, e.limit]), [['close', 'messages']]);
    assert.deepEqual(s.limits.map((e) => [e.code, e.action, e.closeCode]), [['FD_ERR_MESSAGE_RATE', 'close', 1008]]);
  } finally {
    await s.stop();
  }
});

test("policy 'pause' (the default): the server stops reading, the client's writes back up; what was read stays within the rate", async () => {
  const RATE = 64 * 1024;
  const s = await setup({ messagesPerSecond: Infinity, bytesPerSecond: RATE, byteBurst: RATE });
  try {
    let delivered = 0;
    s.ws.on('message', (data) => (delivered += (data as Buffer).length));
    const payload = Buffer.alloc(16 * 1024, 7);
    const message = frame(Opcode.Binary, payload);
    const COUNT = 2048; // 32 MiB: more than the loopback's kernel buffers hold
    for (let i = 0; i < COUNT; i++) s.peer.socket.write(message);
    await waitFor(() => s.rate.length > 0, undefined, 'the pause');
    assert.deepEqual([s.rate[0]!.action, s.rate[0]!.limit, s.rate[0]!.code], ['pause', 'bytes', 'FD_ERR_MESSAGE_RATE']);
    assert.ok(s.rate[0]!.pauseMs! > 0);
    await delay(300); // a window for the server to read on if it did not stop (the bound below grows with it)
    const elapsed = performance.now() - s.openedAt;
    const serverRead = (s.ws.socket as import('node:net').Socket).bytesRead;
    const clientBacklog = s.peer.socket.writableLength;
    // What the buckets allow in the time that passed, plus one read chunk parsed after the pause began.
    const allowed = RATE + (RATE * elapsed) / 1000 + 64 * 1024 + message.length;
    assert.ok(delivered <= allowed, `delivered ${delivered} bytes in ${Math.round(elapsed)} ms; the rate allows ${Math.round(allowed)}`);
    assert.ok(delivered < COUNT * payload.length / 8);
    // The socket is not read: what it took from the kernel is what was parsed, plus its own small buffer.
    assert.ok(serverRead <= allowed + 256 * 1024 + 200, `the server read ${serverRead} bytes from its socket`);
    // The kernel buffers are full: the rest waits in the client's own write buffer.
    assert.ok(clientBacklog > 0, 'the client has unsent bytes');
    // (`bytesWritten` counts what is still in the client's buffer too.)
    assert.ok(s.peer.socket.bytesWritten - clientBacklog - serverRead > 0, 'bytes wait in the kernel buffers');
    assert.equal(s.ws.readyState, s.ws.OPEN, 'pausing does not punish the client');
  } finally {
    await s.stop();
  }
});

test("policy 'pause': every message arrives, in order, at the configured rate", async () => {
  const s = await setup({ messagesPerSecond: 100, messageBurst: 10 });
  try {
    const started = performance.now();
    // 16 KiB messages: a socket read (64 KiB) holds at most 4, so the pause takes effect between reads.
    const messages = Array.from({ length: 60 }, (_, i) => frame(Opcode.Binary, Buffer.alloc(16 * 1024, i)));
    for (const message of messages) s.peer.socket.write(message);
    await waitFor(() => s.received.length === 60, undefined, 'all 60 messages');
    const took = performance.now() - started;
    assert.deepEqual(s.received.map((b) => b[0]), Array.from({ length: 60 }, (_, i) => i));
    // 10 at once, then 100/s, and at most one read (4 messages) beyond the rate: at least 460 ms
    // (a slow machine only takes longer).
    assert.ok(took >= 400, `60 messages took ${Math.round(took)} ms`);
    assert.ok(s.rate.length >= 1 && s.rate.every((e) => e.action === 'pause' && e.limit === 'messages'));
    assert.ok(s.limits.every((e) => e.code === 'FD_ERR_MESSAGE_RATE' && e.action === 'pause'));
    assert.equal(s.ws.readyState, s.ws.OPEN);
  } finally {
    await s.stop();
  }
});

test("the user's resume() does not end a rate pause, and the end of a rate pause does not undo the user's pause()", async () => {
  const s = await setup({ messagesPerSecond: 0.001, messageBurst: 1 });
  try {
    s.peer.write(Buffer.concat([text('a'), text('b')]));
    await waitFor(() => s.rate.length === 1, undefined, 'the pause');
    const socket = s.ws.socket as import('node:net').Socket;
    assert.ok(socket.isPaused());
    s.ws.pause();
    s.ws.resume();
    assert.ok(socket.isPaused(), 'still held by the rate limit');
  } finally {
    await s.stop();
  }
  const t = await setup({ messagesPerSecond: 50, messageBurst: 1 }); // a pause of about 20 ms
  try {
    t.ws.once('rateLimit', () => t.ws.pause());
    t.peer.write(Buffer.concat([text('a'), text('b')]));
    await waitFor(() => t.rate.length === 1, undefined, 'the pause');
    await delay(200); // well past the end of the rate pause
    const socket = t.ws.socket as import('node:net').Socket;
    assert.ok(socket.isPaused(), "the user's pause holds");
    t.ws.resume();
    assert.equal(socket.isPaused(), false);
  } finally {
    await t.stop();
  }
});
