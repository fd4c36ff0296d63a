/**
 * Frame serialization (RFC 6455 §5.2). Headers are built into small buffers; a server's payload is
 * passed on uncopied, so a frame is a list of chunks ready for `writev`. A client's frames are masked
 * (§5.3) with a fresh key from a pooled CSPRNG, into one new buffer: the caller's data is never touched.
 */
import { randomFillSync } from 'node:crypto';
import { isValidCloseCode } from './close-codes.js';
import { EMPTY_BUFFER, MAX_CLOSE_REASON_BYTES, MAX_CONTROL_PAYLOAD, Opcode } from './constants.js';
import { xorMask } from './mask.js';

/** Masking keys come from this pool of random bytes, refilled in one call when used up. */
const MASK_POOL_SIZE = 8 * 1024;

/**
 * Hands out 4-byte masking keys. RFC 6455 §5.3: the key must be unpredictable, from a strong source
 * of entropy; reading the CSPRNG 8 KiB at a time costs one call per 2,048 frames.
 */
export class MaskKeyPool {
  private readonly pool = Buffer.allocUnsafe(MASK_POOL_SIZE);
  private offset = MASK_POOL_SIZE;

  /** A view of 4 fresh random bytes; valid until the next 2,047 calls. */
  next(): Buffer {
    if (this.offset === MASK_POOL_SIZE) {
      randomFillSync(this.pool);
      this.offset = 0;
    }
    const key = this.pool.subarray(this.offset, this.offset + 4);
    this.offset += 4;
    return key;
  }
}

/** Where serialized bytes go: usually the I/O layer's write queue. */
export interface ChunkSink {
  /** Bytes to write to the transport, in order. */
  write(chunk: Buffer): void;
}

/** Payloads up to this size are copied in behind their header: one small buffer beats two iovecs. */
const COPY_THRESHOLD = 512;

/** Size of a frame header for a payload of `length` bytes. */
export function frameHeaderSize(length: number, masked: boolean): number {
  return (length < 126 ? 2 : length < 0x1_0000 ? 4 : 10) + (masked ? 4 : 0);
}

/** Write a frame header at `offset`; returns the offset after it. */
export function writeFrameHeader(
  target: Buffer,
  offset: number,
  opcode: number,
  fin: boolean,
  rsv: number,
  length: number,
  mask: Uint8Array | null,
): number {
  target[offset] = (fin ? 0x80 : 0) | rsv | opcode;
  const maskBit = mask === null ? 0 : 0x80;
  if (length < 126) {
    target[offset + 1] = maskBit | length;
    offset += 2;
  } else if (length < 0x1_0000) {
    target[offset + 1] = maskBit | 126;
    target[offset + 2] = length >>> 8;
    target[offset + 3] = length & 0xff;
    offset += 4;
  } else {
    target[offset + 1] = maskBit | 127;
    target.writeUInt32BE(Math.floor(length / 0x1_0000_0000), offset + 2);
    target.writeUInt32BE(length >>> 0, offset + 6);
    offset += 10;
  }
  if (mask !== null) {
    target[offset] = mask[0]!;
    target[offset + 1] = mask[1]!;
    target[offset + 2] = mask[2]!;
    target[offset + 3] = mask[3]!;
    offset += 4;
  }
  return offset;
}

/**
 * Serialize one frame into `sink`. With a `mask`, header and masked payload go out as one new buffer;
 * without, small payloads are copied behind the header and large ones follow it uncopied.
 */
export function serializeFrame(
  sink: ChunkSink,
  opcode: number,
  payload: Uint8Array,
  fin: boolean,
  rsv: number,
  mask: Uint8Array | null,
): void {
  const length = payload.length;
  const headerSize = frameHeaderSize(length, mask !== null);
  if (mask !== null || length <= COPY_THRESHOLD) {
    const frame = Buffer.allocUnsafe(headerSize + length);
    const offset = writeFrameHeader(frame, 0, opcode, fin, rsv, length, mask);
    frame.set(payload, offset);
    if (mask !== null) xorMask(frame, offset, offset + length, mask, 0);
    sink.write(frame);
    return;
  }
  const header = Buffer.allocUnsafe(headerSize);
  writeFrameHeader(header, 0, opcode, fin, rsv, length, null);
  sink.write(header);
  sink.write(toBuffer(payload));
}

/**
 * Serialize a text frame straight from a string: the UTF-8 bytes are written once, behind the header,
 * with no intermediate buffer.
 */
export function serializeTextFrame(
  sink: ChunkSink,
  text: string,
  fin: boolean,
  rsv: number,
  mask: Uint8Array | null,
  opcode: number = Opcode.Text,
): void {
  const length = Buffer.byteLength(text);
  const headerSize = frameHeaderSize(length, mask !== null);
  const frame = Buffer.allocUnsafe(headerSize + length);
  const offset = writeFrameHeader(frame, 0, opcode, fin, rsv, length, mask);
  frame.write(text, offset, 'utf8');
  if (mask !== null) xorMask(frame, offset, offset + length, mask, 0);
  sink.write(frame);
}

/**
 * Serialize a whole message, split into frames of at most `fragmentSize` payload bytes (RFC 6455 §5.4).
 * Only the first frame carries the opcode and `rsv`; the others are continuations. `nextMask` supplies
 * a fresh key per frame (clients) or is null (servers).
 */
export function serializeMessage(
  sink: ChunkSink,
  opcode: number,
  payload: Uint8Array,
  fragmentSize: number,
  rsv: number,
  nextMask: (() => Uint8Array) | null,
): void {
  const length = payload.length;
  if (!(fragmentSize >= 1) || length <= fragmentSize) {
    serializeFrame(sink, opcode, payload, true, rsv, nextMask === null ? null : nextMask());
    return;
  }
  for (let start = 0; start < length; start += fragmentSize) {
    const end = Math.min(start + fragmentSize, length);
    serializeFrame(
      sink,
      start === 0 ? opcode : Opcode.Continuation,
      payload.subarray(start, end),
      end === length,
      start === 0 ? rsv : 0,
      nextMask === null ? null : nextMask(),
    );
  }
}

/**
 * The payload of a close frame (RFC 6455 §5.5.1): nothing, or a status code and a UTF-8 reason of at
 * most 123 bytes. Codes that may not be sent (1005, 1006, 1015, 1004, 0–999, 1016–2999, 5000+) and
 * over-long reasons throw `RangeError`; a reason without a code throws `TypeError`.
 */
export function encodeClosePayload(code?: number, reason?: string | Uint8Array): Buffer {
  if (code === undefined) {
    if (reason !== undefined && reason.length > 0) throw new TypeError('A close reason needs a close code');
    return EMPTY_BUFFER;
  }
  if (!Number.isInteger(code) || !isValidCloseCode(code)) {
    throw new RangeError(`Close code ${String(code)} may not be sent (use 1000, 1001–1003, 1007–1014 or 3000–4999)`);
  }
  const reasonBytes = reason === undefined ? EMPTY_BUFFER : typeof reason === 'string' ? Buffer.from(reason, 'utf8') : reason;
  if (reasonBytes.length > MAX_CLOSE_REASON_BYTES) {
    throw new RangeError(`Close reason is ${reasonBytes.length} bytes long; the limit is ${MAX_CLOSE_REASON_BYTES}`);
  }
  const payload = Buffer.allocUnsafe(2 + reasonBytes.length);
  payload.writeUInt16BE(code, 0);
  payload.set(reasonBytes, 2);
  return payload;
}

/** Check a ping/pong payload's size (RFC 6455 §5.5: at most 125 bytes). */
export function checkControlPayload(payload: Uint8Array, what: string): void {
  if (payload.length > MAX_CONTROL_PAYLOAD) {
    throw new RangeError(`${what} payload is ${payload.length} bytes long; the limit is ${MAX_CONTROL_PAYLOAD}`);
  }
}

function toBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length);
}
