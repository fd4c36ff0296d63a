/**
 * Faults and floods over real TCP: ping floods (the documented pong policy), writes that hit a reset
 * peer, listeners that throw, and the bytes that reach the wire for odd argument types.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Opcode } from '../../src/protocol/constants.js';
import type { WebSocket } from '../../src/node/index.js';
import { frame } from '../helpers/protocol.js';
import { handshakenPeer, nextEvent, parseServerFrames, startServer, stopServer } from '../helpers/net.js';
import { connectedPair, delay, messages } from '../helpers/node.js';
import { scaled } from '../helpers/time.js';

async function serverWithConnection(options = {}) {
  const started = await startServer(options);
  const connections: WebSocket[] = [];
  started.wss.on('connection', (ws) => connections.push(ws));
  const peer = await handshakenPeer(started.port);
  await new Promise((resolve) => setImmediate(resolve));
  return { ...started, peer, ws: connections[0]!, connections };
}

const pongs = (received: Buffer): Buffer[] => parseServerFrames(received).filter((f) => f.opcode === Opcode.Pong).map((f) => f.payload);

/** Active timers of this process (setTimeout/setInterval handles). */
const activeTimers = (): number => process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;

describe('ping floods: every ping answered while the peer reads, only the latest while it does not', () => {
  it('10,000 pings in one second from a reading peer: 10,000 pongs in order, connection open', async () => {
    const { wss, peer, ws } = await serverWithConnection();
    let pings = 0;
    ws.on('ping', () => pings++);
    for (let batch = 0; batch < 10; batch++) {
      peer.write(Buffer.concat(Array.from({ length: 1000 }, (_, i) => frame(Opcode.Ping, `${batch * 1000 + i}`))));
      await delay(100);
    }
    await peer.waitFor((r) => pongs(r).length === 10_000, scaled(10_000), '10,000 pongs');
    assert.deepEqual(
      pongs(peer.received).map((p) => Number(p.toString())),
      Array.from({ length: 10_000 }, (_, i) => i),
    );
    assert.equal(pings, 10_000);
    assert.equal(ws.readyState, ws.OPEN);
    peer.destroy();
    await stopServer(wss);
  });

  it('a flood from a peer that does not read costs one held pong, sent once it reads again', async () => {
    const { wss, peer, ws } = await serverWithConnection();
    peer.socket.pause();
    // Fill the path to the peer so the server's socket reports backpressure.
    const big = Buffer.alloc(8 * 1024 * 1024, 1);
    ws.send(big);
    await delay(200);
    const before = ws.bufferedAmount;
    assert.ok(before > 0, 'the socket is backed up');
    for (let batch = 0; batch < 10; batch++) {
      peer.write(Buffer.concat(Array.from({ length: 1000 }, (_, i) => frame(Opcode.Ping, `${batch * 1000 + i}`))));
      await delay(20);
    }
    await delay(100);
    // 10,000 pongs would be 60,000+ bytes more; at most one is held.
    assert.ok(ws.bufferedAmount <= before, `buffered ${before} -> ${ws.bufferedAmount}`);
    peer.socket.resume();
    await peer.waitFor((r) => pongs(r).some((p) => p.toString() === '9999'), scaled(10_000), 'the pong for the last ping');
    const answered = pongs(peer.received);
    assert.ok(answered.length < 100, `${answered.length} pongs`);
    assert.equal(answered.at(-1)!.toString(), '9999');
    assert.equal(ws.readyState, ws.OPEN);
    peer.destroy();
    await stopServer(wss);
  });
});

describe('write errors and resets', () => {
  it('ECONNRESET while the server is writing: close 1006 once, no error thrown, no timer left', async () => {
    const timersBefore = activeTimers();
    const { wss, peer, ws } = await serverWithConnection({ heartbeat: false });
    let closes = 0;
    ws.on('close', () => closes++);
    const closed = nextEvent<[number]>(ws, 'close');
    peer.socket.pause();
    const chunk = Buffer.alloc(64 * 1024, 7);
    const pump = setInterval(() => {
      if (ws.readyState === ws.OPEN) for (let i = 0; i < 8; i++) ws.send(chunk, () => {});
    }, 5);
    await delay(100);
    peer.socket.resetAndDestroy();
    const [code] = await closed;
    clearInterval(pump);
    assert.equal(code, 1006);
    // Sends after the loss fail through their callbacks, never by throwing.
    const error = await new Promise<Error | null | undefined>((resolve) => ws.send('late', resolve));
    assert.ok(error instanceof Error);
    await delay(50);
    assert.equal(closes, 1);
    await stopServer(wss);
    await delay(20);
    assert.ok(activeTimers() <= timersBefore, `${activeTimers()} timers active, ${timersBefore} before`);
  });

  it('EPIPE on a client write after the server vanished: close 1006 once, no uncaught error', async () => {
    const uncaught: unknown[] = [];
    const record = (error: unknown): void => void uncaught.push(error);
    process.on('uncaughtException', record);
    const { server, client, serverSocket } = await connectedPair();
    let closes = 0;
    client.on('close', () => closes++);
    const closed = nextEvent<[number]>(client, 'close');
    serverSocket.terminate();
    for (let i = 0; i < 50 && client.readyState === client.OPEN; i++) {
      client.send(Buffer.alloc(16 * 1024));
      await delay(2);
    }
    const [code] = await closed;
    assert.equal(code, 1006);
    await delay(50);
    process.off('uncaughtException', record);
    assert.equal(closes, 1);
    assert.deepEqual(uncaught, []);
    await stopServer(server);
  });
});

describe('listeners that throw', () => {
  it("a message listener's exception goes to that connection's error event; it and other connections carry on", async () => {
    const { wss, url } = await startServer();
    const errors: Error[] = [];
    wss.on('connection', (ws) => {
      ws.on('error', (error) => errors.push(error));
      ws.on('message', (data) => {
        if (String(data) === 'boom') throw new Error('user bug');
        ws.send(data);
      });
    });
    const { WebSocket } = await import('../../src/node/index.js');
    const a = new WebSocket(url);
    const b = new WebSocket(url);
    await Promise.all([nextEvent(a, 'open'), nextEvent(b, 'open')]);
    const fromA = messages(a, 1);
    const fromB = messages(b, 1);
    a.send('boom');
    a.send('still here');
    b.send('unaffected');
    assert.equal(String((await fromA)[0]!.data), 'still here');
    assert.equal(String((await fromB)[0]!.data), 'unaffected');
    assert.deepEqual(errors.map((e) => e.message), ['user bug']);
    a.close();
    b.close();
    await stopServer(wss);
  });
});

describe('no uninitialised memory reaches the wire', () => {
  it('ping(1e6), pong(TypedArray), close reasons as TypedArrays: exactly the bytes given', async () => {
    // Make every unsafe allocation start out poisoned, so bytes left unwritten would show.
    const original = Buffer.allocUnsafe;
    Buffer.allocUnsafe = ((size: number) => Buffer.alloc(size, 0xee)) as typeof Buffer.allocUnsafe;
    try {
      const { wss, peer, ws } = await serverWithConnection();
      ws.ping(1e6);
      ws.pong(new Uint16Array([0x0102, 0x0304]));
      ws.send(new Float64Array([1.5]));
      ws.close(4000, new Uint8Array([0x6f, 0x6b]) as Buffer);
      await peer.waitFor((r) => parseServerFrames(r).some((f) => f.opcode === Opcode.Close), scaled(5000), 'a close frame');
      const frames = parseServerFrames(peer.received);
      assert.deepEqual(
        frames.map((f) => [f.opcode, f.payload.toString('hex')]),
        [
          [Opcode.Ping, Buffer.from('1000000').toString('hex')],
          [Opcode.Pong, Buffer.from(new Uint16Array([0x0102, 0x0304]).buffer).toString('hex')],
          [Opcode.Binary, Buffer.from(new Float64Array([1.5]).buffer).toString('hex')],
          [Opcode.Close, '0fa06f6b'],
        ],
      );
      assert.ok(!peer.received.includes(0xee), 'no poisoned byte on the wire');
      peer.destroy();
      await stopServer(wss);
    } finally {
      Buffer.allocUnsafe = original;
    }
  });

  it('ping(1e6) is its decimal text, not a megabyte of memory; over 125 bytes is a RangeError', async () => {
    const { wss, peer, ws } = await serverWithConnection();
    assert.throws(() => ws.ping(Buffer.alloc(126)), RangeError);
    assert.throws(() => ws.close(1000, 'x'.repeat(124)), RangeError);
    ws.ping(1e6);
    await peer.waitFor((r) => parseServerFrames(r).length === 1);
    assert.equal(parseServerFrames(peer.received)[0]!.payload.toString(), '1000000');
    peer.destroy();
    await stopServer(wss);
  });
});
