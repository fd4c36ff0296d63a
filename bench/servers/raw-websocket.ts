/**
 * The raw ceiling of the handshake scenarios (handshakes, wss-handshakes, storm): the least TCP (or TLS)
 * work a WebSocket server does for one connection, with no HTTP parser and no WebSocket library. On a
 * `net.Socket` or `tls.TLSSocket` from a `net.Server`/`tls.Server` it:
 *
 *  1. reads the upgrade request until its blank line (RFC 7230 §3; nothing in it is checked),
 *  2. writes a fixed 101 response of the same size as a real one (RFC 6455 §4.2.2; the
 *     Sec-WebSocket-Accept is the RFC's example value, not computed: the load generators do not check it),
 *  3. then reads client frames (RFC 6455 §5.2; whole frames of up to 64 KiB, which is all the
 *     generators send): a data frame is unmasked and sent back as one unmasked frame (the echo), a ping
 *     gets its pong, and a close frame is answered with a close frame carrying the same status code,
 *     after which the server ends the TCP connection first (RFC 6455 §7.1.1), as fullduplex and `ws` do.
 *
 * That is the same exchange on the wire as the WebSocket servers, byte for byte in size, so the
 * difference in CPU is what HTTP parsing, the libraries' objects and their close handling cost.
 */
import type { Socket } from 'node:net';

const RESPONSE = Buffer.from(
  'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n',
  'latin1',
);
/** An upgrade request longer than this is dropped (the libraries' limits are of this order too). */
const MAX_REQUEST = 16 * 1024;
const MAX_FRAME = 64 * 1024;

export function serveRawWebSocket(socket: Socket): void {
  socket.setNoDelay(true);
  socket.on('error', () => {});
  let pending: Buffer = Buffer.alloc(0);
  let upgraded = false;
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    if (!upgraded) {
      const end = pending.indexOf('\r\n\r\n');
      if (end === -1) {
        if (pending.length > MAX_REQUEST) socket.destroy();
        return;
      }
      upgraded = true;
      socket.write(RESPONSE);
      pending = pending.subarray(end + 4);
    }
    pending = handleFrames(socket, pending);
    if (pending.length > MAX_FRAME + 14) socket.destroy();
  });
}

/** Handles every whole frame in `data`; returns what is left of an incomplete one. */
function handleFrames(socket: Socket, data: Buffer): Buffer {
  let offset = 0;
  while (data.length - offset >= 2) {
    const first = data[offset]!;
    const second = data[offset + 1]!;
    let length = second & 0x7f;
    let header = 2;
    if (length === 126) {
      if (data.length - offset < 4) break;
      length = data.readUInt16BE(offset + 2);
      header = 4;
    } else if (length === 127) {
      // Larger than the generators ever send: not this server's job.
      socket.destroy();
      return Buffer.alloc(0);
    }
    const masked = (second & 0x80) !== 0;
    const maskAt = offset + header;
    const payloadAt = maskAt + (masked ? 4 : 0);
    if (data.length < payloadAt + length) break;
    const payload = Buffer.from(data.subarray(payloadAt, payloadAt + length));
    if (masked) for (let i = 0; i < length; i++) payload[i]! ^= data[maskAt + (i & 3)]!;
    offset = payloadAt + length;
    const opcode = first & 0x0f;
    if (opcode === 0x8) {
      // The close frame back with the client's status code, then our FIN first.
      socket.end(serverFrame(0x88, payload.subarray(0, 2)));
      return Buffer.alloc(0);
    }
    if (opcode === 0x9) socket.write(serverFrame(0x8a, payload));
    else if (opcode !== 0xa) socket.write(serverFrame(first & 0x8f, payload));
  }
  return offset === 0 ? data : data.subarray(offset);
}

/** An unmasked server frame; `first` is its first header byte (FIN, RSV and opcode, as the client's). */
function serverFrame(first: number, payload: Buffer): Buffer {
  const header = payload.length < 126 ? 2 : 4;
  const frame = Buffer.allocUnsafe(header + payload.length);
  frame[0] = first;
  if (header === 2) frame[1] = payload.length;
  else {
    frame[1] = 126;
    frame.writeUInt16BE(payload.length, 2);
  }
  payload.copy(frame, header);
  return frame;
}
