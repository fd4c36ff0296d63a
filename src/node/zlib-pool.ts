/**
 * A pool of idle zlib streams for connections without context takeover. Such a connection needs a
 * compressor or decompressor only while it works on one message, and the stream is reset after it:
 * any connection can use it next. With the pool, an idle connection holds no zlib memory, and busy
 * ones do not pay for creating a stream per message. (The limiter bounds how many are in use at once.)
 */
import { constants, createDeflateRaw, createInflateRaw, type DeflateRaw, type InflateRaw, type ZlibOptions } from 'node:zlib';

export interface DeflateSettings {
  readonly windowBits: number;
  readonly level: number;
  readonly memLevel: number;
}


/** Streams flush every write (Z_SYNC_FLUSH), so a message is one write and one trip to the thread pool. */
export function inflateOptions(windowBits: number): ZlibOptions {
  return { windowBits, flush: constants.Z_SYNC_FLUSH, chunkSize: 32 * 1024 };
}

export function deflateOptions(settings: DeflateSettings): ZlibOptions {
  return { ...settings, flush: constants.Z_SYNC_FLUSH };
}

/** Whether zlib reached the end of the DEFLATE stream (a BFINAL block): set as soon as it happens. */
export function streamEnded(stream: InflateRaw): boolean {
  return stream.readableEnded || (stream as unknown as { _readableState?: { ended?: boolean } })._readableState?.ended === true;
}

/** Idle streams kept per kind of stream, beyond which released ones are closed. */
const MAX_IDLE = 16;

const inflaters = new Map<number, InflateRaw[]>();
const deflaters = new Map<string, DeflateRaw[]>();

export function acquireInflater(windowBits: number): InflateRaw {
  return inflaters.get(windowBits)?.pop() ?? createInflateRaw(inflateOptions(windowBits));
}

/** Give back a stream that finished a message normally (it is reset for the next user). */
export function releaseInflater(windowBits: number, stream: InflateRaw): void {
  let idle = inflaters.get(windowBits);
  if (idle === undefined) inflaters.set(windowBits, (idle = []));
  // A stream that reached a final block cannot be reset into a usable one: never share it.
  if (idle.length >= MAX_IDLE || stream.destroyed || streamEnded(stream)) {
    stream.close();
    return;
  }
  stream.reset();
  idle.push(stream);
}

/** Streams with the same key compress alike. */
export const deflateKey = (settings: DeflateSettings): string => `${settings.windowBits}/${settings.level}/${settings.memLevel}`;

export function acquireDeflater(settings: DeflateSettings): DeflateRaw {
  return deflaters.get(deflateKey(settings))?.pop() ?? createDeflateRaw(deflateOptions(settings));
}

export function releaseDeflater(settings: DeflateSettings, stream: DeflateRaw): void {
  const key = deflateKey(settings);
  let idle = deflaters.get(key);
  if (idle === undefined) deflaters.set(key, (idle = []));
  if (idle.length >= MAX_IDLE) {
    stream.close();
    return;
  }
  stream.reset();
  idle.push(stream);
}

/** Idle streams held by the pool (for tests and memory accounting). */
export function pooledStreams(): number {
  let count = 0;
  for (const idle of inflaters.values()) count += idle.length;
  for (const idle of deflaters.values()) count += idle.length;
  return count;
}
