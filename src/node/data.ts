/** Conversions between what users send or receive and the bytes the protocol core works on. */

/** Anything `send` accepts (as `ws` does): text, bytes in any container, a Blob, or a number. */
export type SendData = string | Buffer | ArrayBuffer | SharedArrayBuffer | ArrayBufferView | Blob | number | boolean | readonly Uint8Array[];

/** How received binary data is handed to `message` listeners. */
export type BinaryType = 'nodebuffer' | 'arraybuffer' | 'fragments' | 'blob';
export const BINARY_TYPES: readonly BinaryType[] = ['nodebuffer', 'arraybuffer', 'fragments', 'blob'];

/** What `message` listeners receive (text messages always arrive as a Buffer, as in `ws`). */
export type MessageData = Buffer | ArrayBuffer | Buffer[] | Blob;

/**
 * The payload of a non-Blob send, and whether it is binary when the caller does not say: strings
 * and numbers are text; bytes are binary. The caller's memory is viewed, not copied.
 */
export function toPayload(data: Exclude<SendData, Blob>): { payload: string | Buffer; binary: boolean } {
  if (typeof data === 'string') return { payload: data, binary: false };
  if (typeof data === 'number' || typeof data === 'boolean') return { payload: String(data), binary: false };
  if (Buffer.isBuffer(data)) return { payload: data, binary: true };
  if (ArrayBuffer.isView(data)) return { payload: Buffer.from(data.buffer, data.byteOffset, data.byteLength), binary: true };
  if (data instanceof ArrayBuffer || isSharedArrayBuffer(data)) return { payload: Buffer.from(data), binary: true };
  // A list of chunks (what binaryType 'fragments' delivers), sent as one message.
  if (Array.isArray(data) && data.every((chunk) => chunk instanceof Uint8Array)) return { payload: Buffer.concat(data), binary: true };
  throw new TypeError(`Cannot send ${describe(data)}: expected a string, Buffer, ArrayBuffer, TypedArray, DataView or Blob`);
}

/** Bytes for a control frame or close reason: strings as UTF-8, numbers as their decimal text. */
export function toControlBytes(data: unknown): Buffer {
  if (data === undefined || data === null) return Buffer.alloc(0);
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (typeof data === 'number' || typeof data === 'boolean') return Buffer.from(String(data), 'utf8');
  if (Buffer.isBuffer(data)) return data;
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer || isSharedArrayBuffer(data)) return Buffer.from(data);
  throw new TypeError(`Expected a string, Buffer, ArrayBuffer or TypedArray, got ${describe(data)}`);
}

export function isBlob(data: unknown): data is Blob {
  return typeof Blob !== 'undefined' && data instanceof Blob;
}

function isSharedArrayBuffer(data: unknown): data is SharedArrayBuffer {
  return typeof SharedArrayBuffer !== 'undefined' && data instanceof SharedArrayBuffer;
}

function describe(data: unknown): string {
  if (data === null) return 'null';
  if (typeof data === 'object') return `an object of type ${data.constructor?.name ?? 'Object'}`;
  return `a ${typeof data}`;
}

/** Convert a received binary message to the requested type. */
export function toMessageData(data: Buffer | Buffer[], binaryType: BinaryType): MessageData {
  switch (binaryType) {
    case 'nodebuffer':
      return Array.isArray(data) ? Buffer.concat(data) : data;
    case 'fragments':
      return Array.isArray(data) ? data : [data];
    case 'arraybuffer':
      return toArrayBuffer(Array.isArray(data) ? Buffer.concat(data) : data);
    case 'blob':
      return new Blob(Array.isArray(data) ? data : [data]);
  }
}

/** An ArrayBuffer holding exactly these bytes (the backing store itself when the view covers it). */
export function toArrayBuffer(data: Buffer): ArrayBuffer {
  const backing = data.buffer;
  if (data.byteOffset === 0 && data.byteLength === backing.byteLength && backing instanceof ArrayBuffer) return backing;
  return backing.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
}
