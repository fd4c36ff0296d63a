/**
 * A received message's bytes in the shapes the WHATWG classes hand to scripts: an `ArrayBuffer`
 * (`WebSocket` with binaryType "arraybuffer", WebSockets Standard §4) or a `Uint8Array`
 * (`WebSocketStream`). Each uses the message's own memory when the Node layer's Buffer covers all of
 * it (the Node layer hands each message over and keeps nothing), and copies otherwise (a small
 * message may be a slice of a pooled or larger allocation that it must not keep alive or expose).
 */
import { types } from 'node:util';

/** The Node layer hands a Buffer ('nodebuffer', its default); be tolerant of its other shapes. */
export function messageBytes(data: unknown): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data as Buffer[]);
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  return Buffer.alloc(0);
}

/** Whether `bytes` spans the whole of its own ArrayBuffer (so handing that buffer out exposes nothing else). */
function ownsItsBuffer(bytes: Buffer): boolean {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && types.isArrayBuffer(bytes.buffer);
}

/** An ArrayBuffer with exactly these bytes (§4: "a new ArrayBuffer ... whose contents are data"). */
export function toArrayBuffer(bytes: Buffer): ArrayBuffer {
  if (ownsItsBuffer(bytes)) return bytes.buffer as ArrayBuffer;
  const copy = new ArrayBuffer(bytes.length);
  new Uint8Array(copy).set(bytes);
  return copy;
}

/** A plain `Uint8Array` (not a Buffer) with exactly these bytes. */
export function toUint8Array(bytes: Buffer): Uint8Array {
  if (ownsItsBuffer(bytes)) return new Uint8Array(bytes.buffer, 0, bytes.byteLength);
  return new Uint8Array(bytes);
}
