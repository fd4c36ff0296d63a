/** Conversions between what users send or receive and the bytes the protocol core works on. */

/**
 * Anything `send` accepts (as `ws` does): text, bytes in any container, a Blob, or a number. (Like
 * `ws`, `send()` also takes no data, `undefined` or `null`: an empty binary message.)
 */
export type SendData = string | Buffer | ArrayBuffer | SharedArrayBuffer | ArrayBufferView | Blob | number | readonly Uint8Array[];

/** How received binary data is handed to `message` listeners. */
export type BinaryType = 'nodebuffer' | 'arraybuffer' | 'fragments' | 'blob';
export const BINARY_TYPES: readonly BinaryType[] = ['nodebuffer', 'arraybuffer', 'fragments', 'blob'];

/** What `message` listeners receive (text messages always arrive as a Buffer, as in `ws`). */
export type MessageData = Buffer | ArrayBuffer | Buffer[] | Blob;

/**
 * The payload of a non-Blob send, and whether it is binary when the caller does not say: strings
 * and numbers are text; bytes are binary. The caller's memory is viewed, not copied.
 * As in `ws` (`data || EMPTY_BUFFER`, binary unless a string): no data, `undefined`, `null` and
 * `false` are an empty binary message; `true` is refused like any other value that is not data.
 */
export function toPayload(data: Exclude<SendData, Blob> | null | undefined): { payload: string | Buffer; binary: boolean } {
  if (typeof data === 'string') return { payload: data, binary: false };
  if (typeof data === 'number') return { payload: String(data), binary: false };
  if (Buffer.isBuffer(data)) return { payload: data, binary: true };
  if (ArrayBuffer.isView(data)) return { payload: Buffer.from(data.buffer, data.byteOffset, data.byteLength), binary: true };
  if (data instanceof ArrayBuffer || isSharedArrayBuffer(data)) return { payload: Buffer.from(data), binary: true };
  // A list of chunks (what binaryType 'fragments' delivers), sent as one message.
  if (Array.isArray(data) && data.length > 0 && data.every((chunk) => chunk instanceof Uint8Array)) return { payload: Buffer.concat(data), binary: true };
  if (data === undefined || data === null || (data as unknown) === false) return NO_DATA;
  // As `ws`: anything else `Buffer.from()` takes (an array of byte values, an object whose valueOf()
  // is a string or bytes), else a TypeError.
  return { payload: bufferFrom(data, 'send'), binary: true };
}

/** `Buffer.from(value)` for the values `ws` accepts that way, with our TypeError for the others. */
function bufferFrom(value: unknown, what: string): Buffer {
  if (typeof value === 'object' && value !== null) {
    try {
      return Buffer.from(value as Parameters<typeof Buffer.from>[0]);
    } catch {
      // falls through to the TypeError below
    }
  }
  throw new TypeError(`Cannot ${what} ${describe(value)}: expected a string, Buffer, ArrayBuffer, TypedArray, DataView or Blob`);
}

/** Bytes for a control frame or close reason: strings as UTF-8, numbers as their decimal text. */
export function toControlBytes(data: unknown): Buffer {
  if (typeof data === 'number') return Buffer.from(String(data), 'utf8');
  // As `ws` (data || EMPTY_BUFFER): no data, null, false and '' are an empty payload.
  if (!data) return Buffer.alloc(0);
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (Buffer.isBuffer(data)) return data;
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer || isSharedArrayBuffer(data)) return Buffer.from(data);
  return bufferFrom(data, 'send');
}

const NO_DATA = Object.freeze({ payload: Buffer.alloc(0), binary: true });

/**
 * Whether `send` treats `data` as a Blob: as `ws` decides it (ws/lib/validation.js `isBlob`), by its
 * shape and `Symbol.toStringTag` ('Blob' or 'File'), so Blobs from other realms and look-alikes count.
 */
export function isBlob(data: unknown): data is Blob {
  if (typeof data !== 'object' || data === null) return false;
  const blob = data as { arrayBuffer?: unknown; type?: unknown; stream?: unknown; [Symbol.toStringTag]?: unknown };
  if (typeof blob.arrayBuffer !== 'function' || typeof blob.type !== 'string' || typeof blob.stream !== 'function') return false;
  const tag = blob[Symbol.toStringTag];
  return tag === 'Blob' || tag === 'File';
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
