/**
 * A small, deliberately lenient echo server for checking the checker: correct by default, with knobs
 * that break one rule each (accept unmasked frames, skip UTF-8 validation, answer a close frame with
 * the wrong code). The conformance suite must mark the cases about that rule FAILED.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { acceptResponseLines, formatResponseLines, validateRequest } from '../../src/protocol/handshake-server.js';
import { isValidCloseCode } from '../../src/protocol/close-codes.js';
import { isValidUtf8 } from '../../src/protocol/utf8.js';

export interface Breakage {
  /** Process frames without a mask as if they were fine (RFC 6455 §5.1 says: fail with 1002). */
  readonly acceptUnmasked?: boolean;
  /** Echo text without checking that it is UTF-8 (RFC 6455 §8.1 says: fail with 1007). */
  readonly skipUtf8?: boolean;
  /** Answer every close frame with this code instead of echoing the peer's. */
  readonly closeReplyCode?: number;
  /** Never answer a close frame (and keep TCP open): the peer's closing handshake has to time out. */
  readonly ignoreClose?: boolean;
  /** Correct but slow: send every echo and pong this many ms late (a loaded machine, a slow link). */
  readonly replyDelayMs?: number;
  /** Echo every message with its last octet changed: a wrong result, not a slow one. */
  readonly corruptEcho?: boolean;
  /** Read everything and answer nothing, not even a close frame (a hung peer). */
  readonly silent?: boolean;
}

function frame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  const header = length < 126 ? Buffer.from([0x80 | opcode, length]) : length < 65536 ? Buffer.from([0x80 | opcode, 126, length >> 8, length & 0xff]) : Buffer.alloc(10);
  if (length >= 65536) {
    header[0] = 0x80 | opcode;
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  return Buffer.concat([header, payload]);
}

function serve(socket: Duplex, head: Buffer, breakage: Breakage): void {
  let buffer = head;
  let messageOpcode = -1;
  let pieces: Buffer[] = [];
  let done = false;
  const fail = (code: number): void => {
    if (done) return;
    done = true;
    socket.end(frame(8, Buffer.from([code >> 8, code & 0xff])));
  };
  const reply = (data: Buffer): void => {
    if (breakage.replyDelayMs === undefined) socket.write(data);
    else setTimeout(() => socket.writable && socket.write(data), breakage.replyDelayMs).unref();
  };
  const onFrame = (fin: boolean, opcode: number, payload: Buffer): void => {
    if (opcode === 9) return reply(frame(10, payload));
    if (opcode === 10) return;
    if (opcode === 8 && breakage.ignoreClose === true) {
      done = true;
      return;
    }
    if (opcode === 8) {
      if (payload.length === 1) return fail(1002);
      const code = payload.length >= 2 ? payload.readUInt16BE(0) : null;
      if (code !== null && !isValidCloseCode(code)) return fail(1002);
      if (!isValidUtf8(payload.subarray(2))) return fail(1007);
      done = true;
      const replyCode = breakage.closeReplyCode ?? code;
      socket.end(frame(8, replyCode === null ? Buffer.alloc(0) : Buffer.from([replyCode >> 8, replyCode & 0xff])));
      return;
    }
    if (opcode === 0 ? messageOpcode === -1 : messageOpcode !== -1) return fail(1002);
    if (opcode !== 0) messageOpcode = opcode;
    pieces.push(payload);
    if (!fin) return;
    const message = Buffer.concat(pieces);
    const kind = messageOpcode;
    pieces = [];
    messageOpcode = -1;
    if (kind === 1 && !breakage.skipUtf8 && !isValidUtf8(message)) return fail(1007);
    if (breakage.corruptEcho === true && message.length > 0) message[message.length - 1] = message[message.length - 1]! ^ 0x01;
    reply(frame(kind, message));
  };
  const parse = (): void => {
    while (!done && buffer.length >= 2) {
      const b0 = buffer[0]!;
      const b1 = buffer[1]!;
      const fin = (b0 & 0x80) !== 0;
      const opcode = b0 & 0x0f;
      const masked = (b1 & 0x80) !== 0;
      let length = b1 & 0x7f;
      let offset = 2;
      if ((b0 & 0x70) !== 0 || (opcode > 2 && opcode < 8) || opcode > 10) return fail(1002);
      if (!masked && !breakage.acceptUnmasked) return fail(1002);
      if (opcode >= 8 && (!fin || length > 125)) return fail(1002);
      if (length === 126) {
        if (buffer.length < 4) return;
        length = buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buffer.length < 10) return;
        length = Number(buffer.readBigUInt64BE(2));
        offset = 10;
      }
      const total = offset + (masked ? 4 : 0) + length;
      if (buffer.length < total) return;
      const payload = Buffer.from(buffer.subarray(offset + (masked ? 4 : 0), total));
      if (masked) {
        const mask = buffer.subarray(offset, offset + 4);
        for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i & 3]!;
      }
      buffer = buffer.subarray(total);
      onFrame(fin, opcode, payload);
    }
  };
  socket.on('data', (chunk: Buffer) => {
    if (breakage.silent === true) return;
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
    parse();
  });
  socket.on('error', () => {});
  parse();
}

/** Start the echo server with `breakage`; resolves with its URL and a close function. */
export async function startBrokenServer(breakage: Breakage): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Duplex>();
  const server: Server = createServer();
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const { key } = validateRequest(request);
    socket.write(formatResponseLines(acceptResponseLines({ key })));
    serve(socket, head, breakage);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
