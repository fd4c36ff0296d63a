/**
 * Abnormal and hostile peers over raw TCP: each case asserts the exact outcome on the wire (the close
 * frame's code) and in the API (the `close` event), and that nothing crashes or hangs.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Opcode } from '../../src/protocol/constants.js';
import type { WebSocket } from '../../src/node/index.js';
import { frame } from '../helpers/protocol.js';
import { handshakenPeer, nextEvent, parseServerFrames, startServer, stopServer, RawPeer, upgradeRequest } from '../helpers/net.js';
import { scaled } from '../helpers/time.js';

async function serverWithConnection(options = {}) {
  const started = await startServer(options);
  const connections: WebSocket[] = [];
  started.wss.on('connection', (ws) => connections.push(ws));
  return { ...started, connections };
}

function closeFrameCode(received: Buffer): number | null {
  const close = parseServerFrames(received).find((f) => f.opcode === Opcode.Close);
  if (close === undefined) return null;
  return close.payload.length >= 2 ? close.payload.readUInt16BE(0) : 1005;
}

async function expectFailure(bytes: Buffer, code: number, options = {}): Promise<void> {
  const { wss, port, connections } = await serverWithConnection(options);
  const peer = await handshakenPeer(port);
  await new Promise((resolve) => setImmediate(resolve));
  const ws = connections[0]!;
  const closed = nextEvent<[number, Buffer]>(ws, 'close');
  peer.write(bytes);
  await peer.waitFor((r) => closeFrameCode(r) !== null, scaled(5000), 'a close frame');
  assert.equal(closeFrameCode(peer.received), code);
  await peer.waitClosed(); // the server closes TCP without waiting for our answer
  const [closeCode] = await closed;
  assert.equal(closeCode, code);
  assert.equal(ws.closeResult?.wasClean, false);
  await stopServer(wss);
}

describe('hostile peers: protocol violations fail the connection with the right code', () => {
  it('an unmasked frame from a client: 1002', () => expectFailure(frame(Opcode.Text, 'x', { mask: null }), 1002));
  it('a reserved opcode: 1002', () => expectFailure(frame(0x3, 'x'), 1002));
  it('RSV1 without an extension: 1002', () => expectFailure(frame(Opcode.Text, 'x', { rsv: 0x40 }), 1002));
  it('a 64-bit length with the top bit set: 1002', () =>
    expectFailure(Buffer.from([0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]), 1002));
  it('a 2^63-1 length header: 1009, nothing reserved up front', () =>
    expectFailure(Buffer.from([0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4]), 1009));
  it('a message over maxPayload: 1009 from the header alone', () =>
    expectFailure(frame(Opcode.Binary, Buffer.alloc(2000)).subarray(0, 8), 1009, { maxPayload: 1000 }));
  it('invalid UTF-8 split across fragments: 1007', () =>
    expectFailure(
      Buffer.concat([frame(Opcode.Text, Buffer.from([0x61, 0xf0, 0x9f]), { fin: false }), frame(Opcode.Continuation, Buffer.from([0x41]))]),
      1007,
    ));
  it('a 1-byte close payload: 1002', () => expectFailure(frame(Opcode.Close, Buffer.from([3])), 1002));
  it('close code 1005 on the wire: 1002', () => expectFailure(frame(Opcode.Close, Buffer.from([0x03, 0xed])), 1002));
  it('a continuation without a start: 1002', () => expectFailure(frame(Opcode.Continuation, 'x'), 1002));
  it('a fragmented ping: 1002', () => expectFailure(frame(Opcode.Ping, 'x', { fin: false }), 1002));

  it('a header that never completes its declared length reserves nothing and is dropped by the heartbeat', async () => {
    const { wss, port, connections } = await serverWithConnection({ heartbeat: { interval: 50, timeout: 50 } });
    const peer = await handshakenPeer(port);
    await new Promise((resolve) => setImmediate(resolve));
    // Declares 16 MiB, sends 10 bytes, then nothing (and never answers pings).
    peer.write(frame(Opcode.Binary, Buffer.alloc(16 * 1024 * 1024)).subarray(0, 24));
    const [code] = await nextEvent<[number]>(connections[0]!, 'close', scaled(3000));
    assert.equal(code, 1006);
    await peer.waitClosed();
    await stopServer(wss);
  });
});

describe('abnormal peers: loss and late data', () => {
  it('RST in the middle of a frame: close 1006 once, no crash', async () => {
    const { wss, port, connections } = await serverWithConnection();
    const peer = await handshakenPeer(port);
    await new Promise((resolve) => setImmediate(resolve));
    const ws = connections[0]!;
    let closes = 0;
    ws.on('close', () => closes++);
    const closed = nextEvent<[number]>(ws, 'close');
    peer.write(frame(Opcode.Binary, Buffer.alloc(1000)).subarray(0, 100));
    await new Promise((resolve) => setTimeout(resolve, 20));
    peer.socket.resetAndDestroy();
    const [code] = await closed;
    assert.equal(code, 1006);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(closes, 1);
    await stopServer(wss);
  });

  it('data after a close frame is ignored; the close completes cleanly', async () => {
    const { wss, port, connections } = await serverWithConnection();
    const peer = await handshakenPeer(port);
    await new Promise((resolve) => setImmediate(resolve));
    const ws = connections[0]!;
    const messages: string[] = [];
    ws.on('message', (data) => messages.push(String(data)));
    const closed = nextEvent<[number, Buffer]>(ws, 'close');
    peer.write(Buffer.concat([frame(Opcode.Text, 'before'), frame(Opcode.Close, Buffer.from([0x03, 0xe8])), frame(Opcode.Text, 'after'), Buffer.from([0xff, 0xff])]));
    const [code] = await closed;
    assert.equal(code, 1000);
    assert.deepEqual(messages, ['before']);
    assert.equal(closeFrameCode(peer.received), 1000);
    await stopServer(wss);
  });

  it('a handshake that arrives one byte at a time still succeeds', async () => {
    const { wss, port } = await serverWithConnection();
    const peer = await RawPeer.connect(port);
    for (const byte of Buffer.from(upgradeRequest('/'))) {
      peer.write(Buffer.from([byte]));
    }
    const { status } = await peer.response();
    assert.equal(status, 101);
    peer.destroy();
    await stopServer(wss);
  });

  it('a client that vanishes mid-handshake (before the 101) leaves nothing behind', async () => {
    const { wss, port } = await serverWithConnection({ authenticate: () => new Promise((resolve) => setTimeout(resolve, 50)) });
    const peer = await RawPeer.connect(port);
    peer.write(upgradeRequest('/'));
    peer.socket.resetAndDestroy();
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(wss.clients.size, 0);
    await stopServer(wss);
  });

  it('a peer that disappears during the closing handshake: closed after closeTimeout, 1006', async () => {
    const { wss, port, connections } = await serverWithConnection({ closeTimeout: 100 });
    const peer = await handshakenPeer(port);
    await new Promise((resolve) => setImmediate(resolve));
    const ws = connections[0]!;
    const closed = nextEvent<[number]>(ws, 'close');
    peer.socket.pause(); // never answers the close frame
    ws.close(1000);
    const [code] = await closed;
    assert.equal(code, 1006);
    assert.equal(ws.closeResult?.wasClean, false);
    peer.destroy();
    await stopServer(wss);
  });
});
