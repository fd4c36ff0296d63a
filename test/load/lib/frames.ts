/**
 * The wire format on the client side of the load tests, written here rather than taken from src/ so
 * that the checks do not rest on the code under test: masked client frames, and an incremental
 * reader of the server's frames (fed chunks of any size).
 */
import { randomFillSync } from 'node:crypto';
import { constants, inflateRawSync } from 'node:zlib';

export const Opcode = { Continuation: 0x0, Text: 0x1, Binary: 0x2, Close: 0x8, Ping: 0x9, Pong: 0xa } as const;

const KEY_POOL = Buffer.allocUnsafe(4096);
let keyOffset = KEY_POOL.length;

/** One whole message (or control frame) as a masked client frame. */
export function maskedFrame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  const lengthBytes = length < 126 ? 0 : length < 0x1_0000 ? 2 : 8;
  const start = 2 + lengthBytes + 4;
  const frame = Buffer.allocUnsafe(start + length);
  frame[0] = 0x80 | opcode;
  if (lengthBytes === 0) {
    frame[1] = 0x80 | length;
  } else if (lengthBytes === 2) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeUInt32BE(Math.floor(length / 0x1_0000_0000), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  if (keyOffset === KEY_POOL.length) {
    randomFillSync(KEY_POOL);
    keyOffset = 0;
  }
  KEY_POOL.copy(frame, start - 4, keyOffset, keyOffset + 4);
  keyOffset += 4;
  const m0 = frame[start - 4]!;
  const m1 = frame[start - 3]!;
  const m2 = frame[start - 2]!;
  const m3 = frame[start - 1]!;
  let i = 0;
  for (; i + 4 <= length; i += 4) {
    frame[start + i] = payload[i]! ^ m0;
    frame[start + i + 1] = payload[i + 1]! ^ m1;
    frame[start + i + 2] = payload[i + 2]! ^ m2;
    frame[start + i + 3] = payload[i + 3]! ^ m3;
  }
  for (; i < length; i++) frame[start + i] = payload[i]! ^ frame[start - 4 + (i & 3)]!;
  return frame;
}

/** A masked close frame with `code` and an optional reason. */
export function closeFrame(code: number, reason = ''): Buffer {
  const reasonBytes = Buffer.from(reason, 'utf8');
  const payload = Buffer.allocUnsafe(2 + reasonBytes.length);
  payload.writeUInt16BE(code, 0);
  reasonBytes.copy(payload, 2);
  return maskedFrame(Opcode.Close, payload);
}

export interface FrameSink {
  /** A complete data message (fragments joined). `payload` is valid only during the call. */
  onMessage(payload: Buffer, isBinary: boolean): void;
  /** A control frame: close, ping or pong. */
  onControl(opcode: number, payload: Buffer): void;
  /** The server broke the framing rules; nothing more is read. */
  onFrameError(message: string): void;
}

/** The 4 octets removed from the end of each compressed message (RFC 7692 §7.2.1). */
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/**
 * Reads a server's frames (unmasked, RFC 6455 §5.1) out of chunks of any size. With `inflate`
 * (permessage-deflate negotiated with server_no_context_takeover), messages with RSV1 set are
 * decompressed, each on its own (RFC 7692).
 */
export class FrameReader {
  private rest: Buffer | null = null;
  private fragments: Buffer[] | null = null;
  private fragmentBinary = false;
  private fragmentCompressed = false;
  private broken = false;
  private readonly inflate: boolean;
  /** Messages that arrived compressed. */
  compressedMessages = 0;

  constructor(options: { inflate?: boolean } = {}) {
    this.inflate = options.inflate === true;
  }

  push(chunk: Buffer, sink: FrameSink): void {
    if (this.broken) return;
    const data = this.rest === null ? chunk : Buffer.concat([this.rest, chunk]);
    this.rest = null;
    let offset = 0;
    while (data.length - offset >= 2) {
      const b0 = data[offset]!;
      const b1 = data[offset + 1]!;
      if ((b1 & 0x80) !== 0) return this.fail(sink, 'masked frame from the server');
      const rsv1 = (b0 & 0x40) !== 0;
      if ((b0 & 0x30) !== 0 || (rsv1 && !this.inflate)) return this.fail(sink, 'reserved bits set');
      let length = b1 & 0x7f;
      let header = 2;
      if (length === 126) {
        if (data.length - offset < 4) break;
        length = data.readUInt16BE(offset + 2);
        header = 4;
      } else if (length === 127) {
        if (data.length - offset < 10) break;
        length = data.readUInt32BE(offset + 2) * 0x1_0000_0000 + data.readUInt32BE(offset + 6);
        header = 10;
      }
      if (data.length - offset < header + length) break;
      const payload = data.subarray(offset + header, offset + header + length);
      offset += header + length;
      const fin = (b0 & 0x80) !== 0;
      const opcode = b0 & 0x0f;
      if (rsv1 && (opcode === Opcode.Continuation || opcode >= 0x8)) return this.fail(sink, 'RSV1 on a control or continuation frame');
      if (opcode >= 0x8) {
        if (!fin || length > 125) return this.fail(sink, 'fragmented or oversized control frame');
        sink.onControl(opcode, payload);
        if (this.broken) return;
      } else if (opcode === Opcode.Continuation) {
        if (this.fragments === null) return this.fail(sink, 'continuation frame without a message');
        this.fragments.push(Buffer.from(payload));
        if (fin) {
          const whole = Buffer.concat(this.fragments);
          this.fragments = null;
          this.deliver(sink, whole, this.fragmentBinary, this.fragmentCompressed);
        }
      } else if (opcode === Opcode.Text || opcode === Opcode.Binary) {
        if (this.fragments !== null) return this.fail(sink, 'new message inside a fragmented one');
        if (fin) {
          this.deliver(sink, payload, opcode === Opcode.Binary, rsv1);
        } else {
          this.fragments = [Buffer.from(payload)];
          this.fragmentBinary = opcode === Opcode.Binary;
          this.fragmentCompressed = rsv1;
        }
      } else {
        return this.fail(sink, `reserved opcode ${opcode}`);
      }
    }
    if (offset < data.length) this.rest = data.subarray(offset);
  }

  private deliver(sink: FrameSink, payload: Buffer, isBinary: boolean, compressed: boolean): void {
    if (!compressed) {
      sink.onMessage(payload, isBinary);
      return;
    }
    this.compressedMessages++;
    let inflated: Buffer;
    try {
      inflated = inflateRawSync(Buffer.concat([payload, TAIL]), { finishFlush: constants.Z_SYNC_FLUSH });
    } catch (error) {
      this.fail(sink, `a compressed message does not inflate: ${(error as Error).message}`);
      return;
    }
    sink.onMessage(inflated, isBinary);
  }

  /** Stop reading (after the close frame, or on error). */
  stop(): void {
    this.broken = true;
    this.rest = null;
  }

  private fail(sink: FrameSink, message: string): void {
    this.stop();
    sink.onFrameError(message);
  }
}
