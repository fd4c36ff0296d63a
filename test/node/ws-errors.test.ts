/**
 * Protocol errors as `ws` reports them (src/node/ws-errors.ts): the mapping from our `FD_ERR_*` codes,
 * and a differential test where a raw TCP peer sends the same broken bytes to a `ws` endpoint and to a
 * fullduplex one, comparing the error class, `err.code`, and the close code the raw peer gets back.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import { ProtocolError, type ProtocolErrorCode } from '../../src/protocol/errors.js';
import { toWsError, type WsErrorCode } from '../../src/node/ws-errors.js';
import { connect, onBoth, serve, type Library } from '../helpers/libraries.js';
import { readFrames } from '../helpers/frames.js';
import { handshakenPeer, scriptedServer } from '../helpers/net.js';
import { once, within } from '../helpers/node.js';

describe('toWsError: our protocol errors as ws reports them', () => {
  const table: Array<[ProtocolErrorCode, number, WsErrorCode, 'RangeError' | 'Error', { reservedBits?: number }?]> = [
    ['FD_ERR_INVALID_OPCODE', 1002, 'WS_ERR_INVALID_OPCODE', 'RangeError'],
    ['FD_ERR_UNEXPECTED_RSV', 1002, 'WS_ERR_UNEXPECTED_RSV_1', 'RangeError', { reservedBits: 0x40 }],
    ['FD_ERR_UNEXPECTED_RSV', 1002, 'WS_ERR_UNEXPECTED_RSV_1', 'RangeError'],
    ['FD_ERR_UNEXPECTED_RSV', 1002, 'WS_ERR_UNEXPECTED_RSV_2_3', 'RangeError', { reservedBits: 0x20 }],
    ['FD_ERR_UNEXPECTED_RSV', 1002, 'WS_ERR_UNEXPECTED_RSV_2_3', 'RangeError', { reservedBits: 0x50 }],
    ['FD_ERR_EXPECTED_MASK', 1002, 'WS_ERR_EXPECTED_MASK', 'RangeError'],
    ['FD_ERR_UNEXPECTED_MASK', 1002, 'WS_ERR_UNEXPECTED_MASK', 'RangeError'],
    ['FD_ERR_CONTROL_FRAGMENTED', 1002, 'WS_ERR_EXPECTED_FIN', 'RangeError'],
    ['FD_ERR_CONTROL_TOO_LONG', 1002, 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', 'RangeError'],
    ['FD_ERR_INVALID_LENGTH', 1002, 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH', 'RangeError'],
    ['FD_ERR_UNSUPPORTED_LENGTH', 1009, 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH', 'RangeError'],
    ['FD_ERR_UNEXPECTED_CONTINUATION', 1002, 'WS_ERR_INVALID_OPCODE', 'RangeError'],
    ['FD_ERR_EXPECTED_CONTINUATION', 1002, 'WS_ERR_INVALID_OPCODE', 'RangeError'],
    ['FD_ERR_MESSAGE_TOO_BIG', 1009, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', 'RangeError'],
    ['FD_ERR_TOO_MANY_FRAGMENTS', 1009, 'WS_ERR_TOO_MANY_BUFFERED_PARTS', 'RangeError'],
    ['FD_ERR_INVALID_UTF8', 1007, 'WS_ERR_INVALID_UTF8', 'Error'],
    ['FD_ERR_INVALID_CLOSE_PAYLOAD', 1002, 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', 'RangeError'],
    ['FD_ERR_INVALID_CLOSE_CODE', 1002, 'WS_ERR_INVALID_CLOSE_CODE', 'RangeError'],
  ];
  for (const [fdCode, closeCode, wsCode, className, options] of table) {
    it(`${fdCode}${options?.reservedBits === undefined ? '' : ` (bits 0x${options.reservedBits.toString(16)})`} becomes a ${className} with code ${wsCode}`, () => {
      const original = new ProtocolError(fdCode, closeCode, 'our wording', options);
      const error = toWsError(original);
      assert.equal(error.constructor, className === 'RangeError' ? RangeError : Error);
      assert.equal(error.name, className);
      assert.equal(error.code, wsCode);
      assert.equal(error.fdCode, fdCode);
      assert.equal(error.closeCode, closeCode);
      assert.equal(error.message, 'our wording');
      assert.equal(error.cause, original);
      assert.match(error.stack ?? '', new RegExp(`^${className}: our wording\\n    at `));
    });
  }

  it("invalid compressed data becomes an Error with zlib's code, as ws passes zlib's error on", () => {
    const zlibError = Object.assign(new Error('invalid stored block lengths'), { code: 'Z_DATA_ERROR', errno: -3 });
    const error = toWsError(new ProtocolError('FD_ERR_EXTENSION', 1007, 'Invalid compressed data', { cause: zlibError }));
    assert.equal(error.constructor, Error);
    assert.equal(error.code, 'Z_DATA_ERROR');
    assert.equal(error.fdCode, 'FD_ERR_EXTENSION');
    assert.equal(error.cause.cause, zlibError);
  });

  it('a violation ws has no code for keeps our code', () => {
    const error = toWsError(new ProtocolError('FD_ERR_FRAME_AFTER_CLOSE', 1002, 'late frame'));
    assert.equal(error.code, 'FD_ERR_FRAME_AFTER_CLOSE');
  });
});

// --- differential: raw peers send broken bytes to ws and to fullduplex ---------------------------------

const MASK_KEY = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

/** A frame: first byte `b0`, the payload (masked when `masked`), and an optional 64-bit length field. */
function frame(b0: number, payload: Buffer | string, masked: boolean, length64?: Buffer): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const maskBit = masked ? 0x80 : 0;
  let header: Buffer;
  if (length64 !== undefined) header = Buffer.concat([Buffer.from([b0, maskBit | 127]), length64]);
  else if (data.length < 126) header = Buffer.from([b0, maskBit | data.length]);
  else header = Buffer.from([b0, maskBit | 126, data.length >> 8, data.length & 0xff]);
  if (!masked) return Buffer.concat([header, data]);
  const body = Buffer.from(data.map((byte, i) => byte ^ MASK_KEY[i & 3]!));
  return Buffer.concat([header, MASK_KEY, body]);
}

/** The close code in the first close frame among `bytes` (masked or not), or null if there is none. */
function closeCodeIn(bytes: Buffer): number | null {
  const close = readFrames(bytes).frames.find((frame) => frame.opcode === 0x8);
  if (close === undefined) return null;
  return close.payload.length >= 2 ? close.payload.readUInt16BE(0) : 1005;
}

/** Collects what a raw TCP socket receives until it sees a close frame or closes. */
function collect(socket: Socket): () => Promise<number | null> {
  let received = Buffer.alloc(0);
  let closed = false;
  socket.on('data', (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
  });
  socket.on('close', () => {
    closed = true;
  });
  return () =>
    within(
      (async () => {
        while (closeCodeIn(received) === null && !closed) await new Promise((resolve) => setTimeout(resolve, 5));
        return closeCodeIn(received);
      })(),
      'a close frame or the end of the connection',
    );
}

interface Outcome {
  errorClass: string;
  code: string;
  /** The close code in the close frame the raw peer received (null: none). */
  closeCode: number | null;
}

const MAX_PAYLOAD = 100;

/** The raw peer plays the client: handshake, then the broken bytes; the library's server reacts. */
async function serverReaction(library: Library, bytes: Buffer): Promise<Outcome> {
  const listening = await serve(library, { maxPayload: MAX_PAYLOAD });
  try {
    const connection = listening.nextConnection();
    const peer = await handshakenPeer(listening.port);
    const socket = await connection;
    const errored = once<[Error & { code?: string }]>(socket, 'error');
    const closeCode = collect(peer.socket);
    peer.received = Buffer.alloc(0);
    peer.write(bytes);
    const [[error], code] = await Promise.all([errored, closeCode()]);
    peer.destroy();
    return { errorClass: error.constructor.name, code: String(error.code), closeCode: code };
  } finally {
    await listening.stop();
  }
}

/** The raw peer plays the server: it accepts the handshake, then sends the broken bytes to the library's client. */
async function clientReaction(library: Library, bytes: Buffer): Promise<Outcome> {
  let closeCode: (() => Promise<number | null>) | undefined;
  const sockets: Socket[] = [];
  let handshaken: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    handshaken = resolve;
  });
  const { server, port } = await scriptedServer((socket) => {
    sockets.push(socket);
    let head = '';
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      const key = /sec-websocket-key:\s*(\S+)/i.exec(head)![1]!;
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      closeCode = collect(socket);
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
      handshaken();
    };
    socket.on('data', onData);
    socket.on('error', () => {});
  });
  try {
    const client = connect(library, `ws://127.0.0.1:${port}`);
    const errored = once<[Error & { code?: string }]>(client, 'error');
    await once(client, 'open');
    await ready;
    sockets[0]!.write(bytes);
    const [[error], code] = await Promise.all([errored, closeCode!()]);
    client.terminate();
    return { errorClass: error.constructor.name, code: String(error.code), closeCode: code };
  } finally {
    for (const socket of sockets) socket.destroy();
    server.close();
  }
}

interface Violation {
  name: string;
  /** Who receives the broken bytes. */
  role: 'server' | 'client';
  bytes: Buffer;
  /** What `ws` reports (checked too, so that a change in `ws` shows up here). */
  ws: Outcome;
  /** Where fullduplex differs on purpose (see docs/migrating-from-ws.md). */
  fullduplex?: Partial<Outcome>;
}

function violations(): Violation[] {
  const list: Violation[] = [];
  const range = (code: WsErrorCode, closeCode: number): Outcome => ({ errorClass: 'RangeError', code, closeCode });
  const error = (code: WsErrorCode, closeCode: number): Outcome => ({ errorClass: 'Error', code, closeCode });
  // Frames a client sends are masked, a server's are not: the same violation in both roles.
  for (const role of ['server', 'client'] as const) {
    const masked = role === 'server';
    const add = (name: string, bytes: Buffer, ws: Outcome, fullduplex?: Partial<Outcome>): void => {
      list.push({ name: `${name} (to a ${role})`, role, bytes, ws, ...(fullduplex && { fullduplex }) });
    };
    add('close frame with an invalid close code (1005)', frame(0x88, Buffer.from([0x03, 0xed]), masked), range('WS_ERR_INVALID_CLOSE_CODE', 1002));
    add('close frame with close code 999', frame(0x88, Buffer.from([0x03, 0xe7]), masked), range('WS_ERR_INVALID_CLOSE_CODE', 1002));
    add('text message with invalid UTF-8', frame(0x81, Buffer.from([0x61, 0xff]), masked), error('WS_ERR_INVALID_UTF8', 1007));
    add('close reason with invalid UTF-8', frame(0x88, Buffer.from([0x03, 0xe8, 0xff]), masked), error('WS_ERR_INVALID_UTF8', 1007));
    add('RSV1 without an extension', frame(0xc1, 'a', masked), range('WS_ERR_UNEXPECTED_RSV_1', 1002));
    add('RSV2', frame(0xa1, 'a', masked), range('WS_ERR_UNEXPECTED_RSV_2_3', 1002));
    add('RSV3', frame(0x91, 'a', masked), range('WS_ERR_UNEXPECTED_RSV_2_3', 1002));
    add('RSV1 and RSV2', frame(0xe1, 'a', masked), range('WS_ERR_UNEXPECTED_RSV_2_3', 1002));
    add('reserved data opcode 0x3', frame(0x83, 'a', masked), range('WS_ERR_INVALID_OPCODE', 1002));
    add('reserved control opcode 0xB', frame(0x8b, '', masked), range('WS_ERR_INVALID_OPCODE', 1002));
    add('ping longer than 125 bytes', frame(0x89, Buffer.alloc(126), masked), range('WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', 1002));
    add('fragmented ping (FIN clear)', frame(0x09, '', masked), range('WS_ERR_EXPECTED_FIN', 1002));
    add('close frame with a 1-byte payload', frame(0x88, Buffer.from([0x03]), masked), range('WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', 1002));
    add('continuation frame with no message to continue', frame(0x80, 'a', masked), range('WS_ERR_INVALID_OPCODE', 1002));
    add('new text frame inside a fragmented message', Buffer.concat([frame(0x01, 'a', masked), frame(0x81, 'b', masked)]), range('WS_ERR_INVALID_OPCODE', 1002));
    add('64-bit length of 2^53', frame(0x82, '', masked, Buffer.from([0, 0x20, 0, 0, 0, 0, 0, 0])), range('WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH', 1009));
    // RFC 6455 §5.2: the most significant bit must be 0, a framing error (1002); `ws` reports it as a
    // length it does not support (1009). Same class and code; the close code differs on purpose.
    add('64-bit length with the most significant bit set', frame(0x82, '', masked, Buffer.from([0x80, 0, 0, 0, 0, 0, 0, 0])), range('WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH', 1009), {
      closeCode: 1002,
    });
  }
  const server = (name: string, bytes: Buffer, ws: Outcome): void => {
    list.push({ name: `${name} (to a server)`, role: 'server', bytes, ws });
  };
  server('unmasked frame from a client', frame(0x81, 'hi', false), range('WS_ERR_EXPECTED_MASK', 1002));
  server(`message over maxPayload (${MAX_PAYLOAD})`, frame(0x82, Buffer.alloc(MAX_PAYLOAD + 1), true), range('WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', 1009));
  server(
    `fragmented message over maxPayload (${MAX_PAYLOAD})`,
    Buffer.concat([frame(0x02, Buffer.alloc(60), true), frame(0x80, Buffer.alloc(60), true)]),
    range('WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', 1009),
  );
  list.push({ name: 'masked frame from a server (to a client)', role: 'client', bytes: frame(0x81, 'hi', true), ws: range('WS_ERR_UNEXPECTED_MASK', 1002) });
  return list;
}

describe('protocol violations: the error and close code, differential against ws', () => {
  for (const violation of violations()) {
    it(violation.name, async () => {
      const results = await onBoth((library) => (violation.role === 'server' ? serverReaction(library, violation.bytes) : clientReaction(library, violation.bytes)));
      assert.deepEqual(results.ws, violation.ws, 'ws (the oracle) reports what the table says');
      assert.deepEqual(results.fullduplex, { ...results.ws, ...violation.fullduplex });
    });
  }
});
