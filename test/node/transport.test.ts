/**
 * The transport at the end of a connection: whatever the peer sent before its close frame (or before
 * its FIN) is delivered in order before `close`, however the bytes are cut into reads, whether messages
 * are compressed (and so decoded asynchronously while the close frame and the FIN arrive behind them),
 * and whether the user paused the connection. A property test drives raw peers against both roles.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { constants, deflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { RSV1 } from '../../src/protocol/constants.js';
import { computeAcceptKey } from '../../src/protocol/handshake.js';
import { WebSocket } from '../../src/node/websocket.js';
import { WebSocketServer } from '../../src/node/server.js';
import { frame, splitAt } from '../helpers/protocol.js';
import { RawPeer, scriptedServer, upgradeRequest } from '../helpers/net.js';
import { delay, once, portOf, within } from '../helpers/node.js';

interface PlannedMessage {
  binary: boolean;
  size: number;
  compressed: boolean;
  fragments: number;
}

type Ending = 'close-then-fin' | 'close-only' | 'fin-only';

interface Plan {
  messages: PlannedMessage[];
  pingEvery: number;
  ending: Ending;
  closeCode: number;
  cuts: number[];
  /** Per chunk: 0 written in the same tick as the previous one, 1 after setImmediate, 2 after 1 ms. */
  pacing: number[];
  /** Our side pauses on open and resumes after this many ms (-1: never pauses). */
  pauseFor: number;
}

const planArbitrary: fc.Arbitrary<Plan> = fc.record({
  messages: fc.array(
    fc.record({
      binary: fc.boolean(),
      size: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 5000 })),
      compressed: fc.boolean(),
      fragments: fc.integer({ min: 1, max: 3 }),
    }),
    { minLength: 0, maxLength: 12 },
  ),
  pingEvery: fc.integer({ min: 0, max: 4 }),
  ending: fc.constantFrom<Ending>('close-then-fin', 'close-only', 'fin-only'),
  closeCode: fc.constantFrom(1000, 1001, 4000),
  cuts: fc.array(fc.integer({ min: 1, max: 60_000 }), { maxLength: 12 }),
  pacing: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 13, maxLength: 13 }),
  pauseFor: fc.constantFrom(-1, -1, 0, 5),
});

function payloadOf(message: PlannedMessage, index: number): Buffer {
  const text = `#${index}:` + 'abcdefghij'.repeat(Math.ceil(message.size / 10)).slice(0, message.size);
  return Buffer.from(text);
}

/** permessage-deflate (RFC 7692 §7.2.1): a sync-flushed raw DEFLATE stream without its 00 00 ff ff tail. */
function deflate(payload: Buffer): Buffer {
  const compressed = deflateRawSync(payload, { finishFlush: constants.Z_SYNC_FLUSH });
  return compressed.subarray(0, compressed.length - 4);
}

/** The wire bytes of the plan, masked or not, and the texts the receiving side must deliver. */
function wireOf(plan: Plan, masked: boolean): { bytes: Buffer; expected: string[] } {
  const mask = masked ? Buffer.from([0x11, 0x22, 0x33, 0x44]) : null;
  const frames: Buffer[] = [];
  const expected: string[] = [];
  plan.messages.forEach((message, index) => {
    const payload = payloadOf(message, index);
    expected.push(`${message.binary ? 'b' : 't'}${payload.toString()}`);
    const body = message.compressed ? deflate(payload) : payload;
    const cuts = Array.from({ length: message.fragments - 1 }, (_, i) => Math.floor(((i + 1) * body.length) / message.fragments));
    const pieces = message.fragments === 1 ? [body] : [body.subarray(0, cuts[0]), ...cuts.map((cut, i) => body.subarray(cut, cuts[i + 1] ?? body.length))];
    pieces.forEach((piece, i) => {
      const opcode = i === 0 ? (message.binary ? 0x2 : 0x1) : 0x0;
      const rsv = i === 0 && message.compressed ? RSV1 : 0;
      frames.push(frame(opcode, Buffer.from(piece), { fin: i === pieces.length - 1, rsv, mask }));
      if (plan.pingEvery > 0 && frames.length % plan.pingEvery === 0) frames.push(frame(0x9, 'p', { mask }));
    });
  });
  if (plan.ending !== 'fin-only') {
    const close = Buffer.alloc(2);
    close.writeUInt16BE(plan.closeCode);
    frames.push(frame(0x8, close, { mask }));
  }
  return { bytes: Buffer.concat(frames), expected };
}

/** Write `bytes` cut and paced as planned. */
async function writePaced(socket: Socket, bytes: Buffer, plan: Plan): Promise<void> {
  const chunks = splitAt(bytes, plan.cuts.map((cut) => cut % Math.max(bytes.length, 1)));
  for (let i = 0; i < chunks.length; i++) {
    const pace = plan.pacing[i % plan.pacing.length]!;
    if (pace === 1) await new Promise((resolve) => setImmediate(resolve));
    else if (pace === 2) await delay(1);
    if (socket.destroyed) return;
    socket.write(chunks[i]!);
  }
}

interface Observed {
  texts: string[];
  code: number;
  wasClean: boolean;
}

function observe(socket: WebSocket, plan: Plan): Promise<Observed> {
  const texts: string[] = [];
  socket.on('error', () => {});
  socket.on('message', (data, isBinary) => texts.push(`${isBinary ? 'b' : 't'}${String(data)}`));
  if (plan.pauseFor >= 0) {
    socket.pause();
    setTimeout(() => socket.resume(), plan.pauseFor);
  }
  return new Promise((resolve) => socket.on('close', (code) => resolve({ texts, code, wasClean: socket.closeResult?.wasClean ?? false })));
}

function check(plan: Plan, expected: string[], observed: Observed): void {
  assert.deepEqual(observed.texts, expected, 'every message, in order');
  if (plan.ending === 'fin-only') {
    assert.equal(observed.code, 1006);
    assert.equal(observed.wasClean, false);
  } else {
    assert.equal(observed.code, plan.closeCode);
    assert.equal(observed.wasClean, true, 'a close frame followed by EOF is a clean close');
  }
}

const RUNS = 60;

describe('Transport: nothing received is lost at the end of a connection', () => {
  it('server role: messages, pings, a close frame and the FIN in any chunking are delivered in order before close', async () => {
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: true, heartbeat: false });
    await once(server, 'listening');
    try {
      await fc.assert(
        fc.asyncProperty(planArbitrary, async (plan) => {
          const connection = once<[WebSocket]>(server, 'connection');
          const peer = await RawPeer.connect(portOf(server));
          peer.write(upgradeRequest('/', { 'Sec-WebSocket-Extensions': 'permessage-deflate' }));
          await peer.response();
          const [socket] = await connection;
          const observed = observe(socket, plan);
          const { bytes, expected } = wireOf(plan, true);
          await writePaced(peer.socket, bytes, plan);
          if (plan.ending !== 'close-only') peer.socket.end();
          const result = await within(observed, 'close on the server side');
          peer.destroy();
          check(plan, expected, result);
        }),
        { numRuns: RUNS },
      );
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('client role: messages, pings, a close frame and the FIN in any chunking are delivered in order before close', async () => {
    let script: (socket: Socket) => void = () => {};
    const { server, port } = await scriptedServer((socket) => script(socket));
    try {
      await fc.assert(
        fc.asyncProperty(planArbitrary, async (plan) => {
          script = (socket) => {
            socket.on('error', () => {});
            let head = '';
            socket.on('data', function onHead(chunk: Buffer) {
              head += chunk.toString('latin1');
              if (!head.includes('\r\n\r\n')) return;
              socket.off('data', onHead);
              const key = /sec-websocket-key: *(\S+)/i.exec(head)![1]!;
              const accept = computeAcceptKey(key);
              socket.write(
                `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n` +
                  'Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n',
              );
              const { bytes } = wireOf(plan, false);
              void writePaced(socket, bytes, plan).then(() => {
                if (plan.ending === 'close-only') socket.once('data', () => socket.end()); // our close frame: the server closes TCP first (RFC 6455 §7.1.1)
                else socket.end();
              });
            });
          };
          const client = new WebSocket(`ws://127.0.0.1:${port}/`, { closeTimeout: 20_000 });
          const observed = observe(client, plan);
          const result = await within(observed, 'close on the client side');
          check(plan, wireOf(plan, false).expected, result);
        }),
        { numRuns: RUNS },
      );
    } finally {
      server.close();
    }
  });

  it('a paused connection whose socket is destroyed still delivers what the socket had read, then the close frame', async () => {
    // The client pauses, then starts closing; the server answers with messages and its close frame and
    // keeps the TCP connection open. The client's close timer destroys the socket: what it had read is
    // still the server's, and is delivered (as `ws` does), with the close frame it ends on.
    const { server, port } = await scriptedServer((socket) => {
      socket.on('error', () => {});
      socket.once('data', (chunk: Buffer) => {
        const key = /sec-websocket-key: *(\S+)/i.exec(chunk.toString('latin1'))![1]!;
        const accept = computeAcceptKey(key);
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
        socket.once('data', () => {
          socket.write(Buffer.concat([frame(0x1, 'one', { mask: null }), frame(0x1, 'two', { mask: null }), frame(0x8, Buffer.from([0x03, 0xe8]), { mask: null })]));
        });
      });
    });
    try {
      const client = new WebSocket(`ws://127.0.0.1:${port}/`, { closeTimeout: 300, perMessageDeflate: false });
      await once(client, 'open');
      const texts: string[] = [];
      client.on('message', (data) => texts.push(String(data)));
      client.pause();
      client.close(1000);
      const [code] = await once<[number]>(client, 'close');
      assert.deepEqual(texts, ['one', 'two']);
      assert.equal(code, 1000);
      assert.equal(client.closeResult?.wasClean, true);
    } finally {
      server.close();
    }
  });

  it('the async iterator yields every message that arrived before the close, also when read after the connection is gone', async () => {
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: { threshold: 0 }, heartbeat: false });
    await once(server, 'listening');
    let count = 0;
    server.on('connection', (socket) => {
      for (let i = 0; i < count; i++) socket.send(`m${i}`);
      socket.close(1000);
    });
    try {
      // Fewer messages than the iterator holds before pausing: the connection closes while the loop waits.
      count = 10;
      let client = new WebSocket(`ws://127.0.0.1:${portOf(server)}/`, { perMessageDeflate: { threshold: 0 } });
      await once(client, 'open');
      let seen: string[] = [];
      for await (const { data } of client) {
        seen.push(String(data));
        if (seen.length === 1) await once(client, 'close');
      }
      assert.deepEqual(seen, Array.from({ length: count }, (_, i) => `m${i}`));
      // More than it holds: a slow loop pauses the connection, and still sees every message, then the end.
      count = 200;
      client = new WebSocket(`ws://127.0.0.1:${portOf(server)}/`, { perMessageDeflate: { threshold: 0 } });
      await once(client, 'open');
      seen = [];
      for await (const { data } of client) {
        seen.push(String(data));
        if (seen.length % 20 === 0) await delay(5);
      }
      assert.deepEqual(seen, Array.from({ length: count }, (_, i) => `m${i}`));
      assert.equal(client.closeResult?.wasClean, true);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
