/**
 * permessage-deflate (RFC 7692) on Node's zlib: the per-connection codec that plugs into the
 * protocol core's extension hook (`MessageDecoder` / `MessageEncoder`).
 *
 *  - Compression and decompression are asynchronous (libuv's thread pool) and bounded by a limiter
 *    shared by all connections; each connection has at most one job per direction, so order holds.
 *  - Decompression stops as soon as the message would exceed the size limit: a 1 MiB frame that would
 *    inflate to 1 GiB costs about the limit in memory, then the connection fails with 1009.
 *  - zlib streams are created on the first compressed message (idle connections hold none). With no
 *    context takeover, a connection holds one only while it works on a message: it comes from a pool
 *    shared by all connections and goes back to it, reset, after every message.
 */
import { constants, createDeflateRaw, createInflateRaw, type DeflateRaw, type InflateRaw } from 'node:zlib';
import {
  acquireDeflater,
  acquireInflater,
  deflateKey,
  deflateOptions,
  inflateOptions,
  releaseDeflater as poolDeflater,
  releaseInflater as poolInflater,
  streamEnded,
  type DeflateSettings,
} from './zlib-pool.js';
import { CloseCode } from '../protocol/close-codes.js';
import { RSV1 } from '../protocol/constants.js';
import { frameHeaderSize, writeFrameHeader } from '../protocol/frame-serializer.js';
import type { SharedFrame } from '../protocol/shared-frame.js';
import { ProtocolError } from '../protocol/errors.js';
import type { DecodeCallback, EncodeCallback, MessageDecoder, MessageEncoder } from '../protocol/extension.js';
import type { Role } from '../protocol/frame-parser.js';
import { compressorWindowBits, type DeflateParams, type PerMessageDeflateOptions } from '../protocol/permessage-deflate.js';
import { sharedLimiter, threadPoolSize, type LimitedJob, type Limiter } from './limiter.js';

/** The `perMessageDeflate` option: negotiation parameters plus how to compress. */
export interface PerMessageDeflateConfig extends PerMessageDeflateOptions {
  /** Messages smaller than this many bytes are sent uncompressed. Default 1024. */
  threshold?: number;
  /**
   * zlib jobs in flight at once, across all connections. Default: 4 per libuv pool thread (16 with the
   * default pool of 4): a few jobs waiting in libuv's queue keep its threads busy while the main thread
   * handles finished ones (measured: 1.26x the throughput of a limit equal to the pool size).
   */
  concurrencyLimit?: number;
  /** zlib compression level, 0–9. Default 6 (`Z_DEFAULT_COMPRESSION`). */
  level?: number;
  /** zlib memory level, 1–9: memory against speed. Default 8. */
  memLevel?: number;
}

export const DEFAULT_THRESHOLD = 1024;

/** Default zlib jobs in flight per thread of libuv's pool. */
const DEFAULT_CONCURRENCY_PER_THREAD = 4;

/** The 4 octets a sync flush ends with, removed on send and added back on receive (RFC 7692 §7.2.1). */
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** Messages compressed so far in this process, by a connection or once for many (for tests and stats). */
export const compressionCounts = { perConnection: 0, shared: 0 };

export class PerMessageDeflate implements MessageDecoder, MessageEncoder {
  readonly rsv = RSV1;
  readonly params: DeflateParams;
  readonly threshold: number;
  private readonly limiter: Limiter;
  private readonly inflateBits: number;
  private readonly deflateBits: number;
  private readonly inflateResets: boolean;
  private readonly deflateResets: boolean;
  private readonly deflateSettings: DeflateSettings;
  /**
   * Connections with the same key compress every message alike and keep no context between messages,
   * so a message published to all of them can be compressed once (see `compressShared`). null when
   * this connection keeps a compression context (its compressed messages are its own).
   */
  readonly sharedKey: string | null;
  private closed = false;

  private inflater: InflateRaw | null = null;
  private deflater: DeflateRaw | null = null;
  /** The zlib streams' listeners, made with the first stream in each direction. */
  private inflateListeners: StreamListeners | null = null;
  private deflateListeners: StreamListeners | null = null;

  // The decode job in flight (one at a time). The job object and the zlib callbacks are made with the
  // first message in their direction: an idle connection holds none of them.
  private decodeJob: LimitedJob | null = null;
  private decodeInput: readonly Buffer[] = NONE;
  private decodeFin = false;
  private decodeLimit = 0;
  private decodeTotal = 0;
  private decodeOutput: Buffer[] = NONE;
  private decodeCallback: DecodeCallback | null = null;
  private decodeDone: (() => void) | null = null;

  // The encode job in flight.
  private encodeJob: LimitedJob | null = null;
  private encodeInput: readonly Buffer[] = NONE;
  private encodeFin = false;
  private encodeOutput: Buffer[] = NONE;
  private encodeCallback: EncodeCallback | null = null;
  private encodeDone: (() => void) | null = null;

  constructor(params: DeflateParams, role: Role, config: PerMessageDeflateConfig = {}) {
    this.params = params;
    this.threshold = config.threshold ?? DEFAULT_THRESHOLD;
    this.limiter = sharedLimiter(config.concurrencyLimit ?? DEFAULT_CONCURRENCY_PER_THREAD * threadPoolSize());
    const isServer = role === 'server';
    // We inflate what the peer compressed with its window; we deflate with ours.
    this.inflateBits = isServer ? params.clientMaxWindowBits : params.serverMaxWindowBits;
    this.deflateBits = compressorWindowBits(isServer ? params.serverMaxWindowBits : params.clientMaxWindowBits);
    this.inflateResets = isServer ? params.clientNoContextTakeover : params.serverNoContextTakeover;
    this.deflateResets = isServer ? params.serverNoContextTakeover : params.clientNoContextTakeover;
    this.deflateSettings = { windowBits: this.deflateBits, level: config.level ?? constants.Z_DEFAULT_COMPRESSION, memLevel: config.memLevel ?? 8 };
    // RFC 7692 §7.1.1.1: without context takeover every message is compressed on its own.
    this.sharedKey = this.deflateResets ? deflateKey(this.deflateSettings) : null;
  }

  /**
   * Compress one whole message once for every connection with this `sharedKey` and settle `frame` with
   * the compressed frame (RSV1 set, unmasked: server to client); it fails if zlib does. Runs under the
   * same limiter as the connections' own compression.
   */
  compressShared(payload: Buffer, opcode: number, frame: SharedFrame): void {
    if (this.sharedKey === null) throw new Error('This connection keeps a compression context: its messages cannot be shared');
    this.limiter.add(new SharedDeflateJob(this.deflateSettings, payload, opcode, frame));
  }

  /** zlib streams currently held (for memory accounting and tests). */
  get streams(): number {
    return (this.inflater === null ? 0 : 1) + (this.deflater === null ? 0 : 1);
  }

  /** Release everything (the connection is gone). Jobs still queued finish without work. */
  close(): void {
    this.closed = true;
    this.releaseInflater(false);
    this.releaseDeflater(false);
  }

  // --- decompression ---------------------------------------------------------------------------------

  decode(payload: readonly Buffer[], fin: boolean, limit: number, callback: DecodeCallback): void {
    this.decodeInput = payload;
    this.decodeFin = fin;
    this.decodeLimit = limit;
    this.decodeCallback = callback;
    this.limiter.add((this.decodeJob ??= { runLimited: (done) => this.runDecode(done) }));
  }

  private runDecode(done: () => void): void {
    if (this.closed) {
      this.finishDecode(done, null);
      return;
    }
    this.decodeDone = done;
    this.decodeTotal = 0;
    this.decodeOutput = [];
    let inflater = this.inflater;
    if (inflater === null) {
      inflater = this.inflater = this.inflateResets ? acquireInflater(this.inflateBits) : createInflateRaw(inflateOptions(this.inflateBits));
      const listeners = (this.inflateListeners ??= {
        data: (chunk) => this.handleInflateData(chunk),
        error: (error) => this.handleInflateError(error),
        flushed: () => this.handleInflateFlushed(),
      });
      inflater.on('data', listeners.data);
      inflater.on('error', listeners.error);
    }
    // One write, flushed (the stream's flush mode is Z_SYNC_FLUSH): one trip to the thread pool.
    const input = this.decodeInput;
    this.decodeInput = NONE;
    inflater.write(join(input, this.decodeFin ? TAIL : null), this.inflateListeners!.flushed);
  }

  private handleInflateData(chunk: Buffer): void {
    if (this.decodeCallback === null) return;
    this.decodeTotal += chunk.length;
    if (this.decodeTotal > this.decodeLimit) {
      // The message is over the limit: stop inflating now, before it costs more memory.
      this.failDecode(new ProtocolError('FD_ERR_MESSAGE_TOO_BIG', CloseCode.MessageTooBig, 'Decompressed message exceeds the size limit'));
      return;
    }
    if (this.decodeOutput === NONE) this.decodeOutput = [];
    this.decodeOutput.push(chunk);
  }

  private handleInflateError(error: Error): void {
    if (this.decodeCallback === null) return;
    this.failDecode(new ProtocolError('FD_ERR_EXTENSION', CloseCode.InvalidPayload, `Invalid compressed data: ${error.message}`, { cause: error }));
  }

  private handleInflateFlushed(): void {
    if (this.decodeCallback === null) return;
    const output = this.decodeOutput;
    this.decodeOutput = NONE;
    const inflater = this.inflater; // null if the connection closed meanwhile
    if (this.decodeFin && inflater !== null) {
      // RFC 7692 §7.2.3.4: a message may end its DEFLATE stream with a BFINAL block. zlib then ignores
      // all further input, so the next message needs a fresh stream (and this one is not reusable).
      if (streamEnded(inflater)) this.releaseInflater(false);
      else if (this.inflateResets) this.releaseInflater(true);
    }
    this.finishDecode(this.decodeDone, output);
  }

  private failDecode(error: ProtocolError): void {
    const callback = this.decodeCallback!;
    const done = this.decodeDone;
    this.decodeCallback = null;
    this.decodeDone = null;
    this.decodeOutput = NONE;
    this.releaseInflater(false);
    callback(error, null);
    done?.();
  }

  private finishDecode(done: (() => void) | null, output: Buffer[] | null): void {
    const callback = this.decodeCallback;
    this.decodeCallback = null;
    this.decodeDone = null;
    if (callback !== null) callback(null, output);
    done?.();
  }

  /** Let go of the decompressor: back to the pool after a complete message, else closed. */
  private releaseInflater(reuse: boolean): void {
    const inflater = this.inflater;
    if (inflater === null) return;
    this.inflater = null;
    const listeners = this.inflateListeners!; // made with the inflater
    inflater.removeListener('data', listeners.data);
    inflater.removeListener('error', listeners.error);
    if (reuse) {
      poolInflater(this.inflateBits, inflater);
      return;
    }
    inflater.on('error', ignore); // a job cut short may still report
    inflater.close();
  }

  // --- compression -------------------------------------------------------------------------------------

  encode(payload: readonly Buffer[], fin: boolean, callback: EncodeCallback): void {
    this.encodeInput = payload;
    this.encodeFin = fin;
    this.encodeCallback = callback;
    this.limiter.add((this.encodeJob ??= { runLimited: (done) => this.runEncode(done) }));
  }

  private runEncode(done: () => void): void {
    if (this.closed) {
      const callback = this.encodeCallback;
      this.encodeCallback = null;
      callback?.(new Error('The connection is closed'), null);
      done();
      return;
    }
    this.encodeDone = done;
    this.encodeOutput = [];
    let deflater = this.deflater;
    if (deflater === null) {
      deflater = this.deflater = this.deflateResets ? acquireDeflater(this.deflateSettings) : createDeflateRaw(deflateOptions(this.deflateSettings));
      const listeners = (this.deflateListeners ??= {
        data: (chunk) => this.handleDeflateData(chunk),
        error: (error) => this.handleDeflateError(error),
        flushed: () => this.handleDeflateFlushed(),
      });
      deflater.on('data', listeners.data);
      deflater.on('error', listeners.error);
    }
    const input = this.encodeInput;
    this.encodeInput = NONE;
    deflater.write(join(input, null), this.deflateListeners!.flushed);
  }

  private handleDeflateData(chunk: Buffer): void {
    if (this.encodeOutput === NONE) this.encodeOutput = [];
    this.encodeOutput.push(chunk);
  }

  private handleDeflateError(error: Error): void {
    const callback = this.encodeCallback;
    const done = this.encodeDone;
    this.encodeCallback = null;
    this.encodeDone = null;
    this.releaseDeflater(false);
    callback?.(error, null);
    done?.();
  }

  private handleDeflateFlushed(): void {
    const callback = this.encodeCallback;
    if (callback === null) return;
    const done = this.encodeDone;
    this.encodeCallback = null;
    this.encodeDone = null;
    let output = this.encodeOutput;
    this.encodeOutput = NONE;
    if (this.encodeFin) {
      output = removeTail(output);
      compressionCounts.perConnection++;
      if (this.deflateResets) this.releaseDeflater(true);
    }
    callback(null, output);
    done?.();
  }

  /** Let go of the compressor: back to the pool after a complete message, else closed. */
  private releaseDeflater(reuse: boolean): void {
    const deflater = this.deflater;
    if (deflater === null) return;
    this.deflater = null;
    const listeners = this.deflateListeners!; // made with the deflater
    deflater.removeListener('data', listeners.data);
    deflater.removeListener('error', listeners.error);
    if (reuse) {
      poolDeflater(this.deflateSettings, deflater);
      return;
    }
    deflater.on('error', ignore);
    deflater.close();
  }
}

/** One message compressed for many connections, with a pooled compressor (no context to keep). */
class SharedDeflateJob implements LimitedJob {
  private readonly output: Buffer[] = [];
  private deflater: DeflateRaw | null = null;
  private done: (() => void) | null = null;

  constructor(
    private readonly settings: DeflateSettings,
    private readonly payload: Buffer,
    private readonly opcode: number,
    private readonly frame: SharedFrame,
  ) {}

  runLimited(done: () => void): void {
    this.done = done;
    const deflater = (this.deflater = acquireDeflater(this.settings));
    deflater.on('data', this.onData);
    deflater.on('error', this.onError);
    deflater.write(this.payload, this.onFlushed);
  }

  private readonly onData = (chunk: Buffer): void => void this.output.push(chunk);

  private readonly onError = (error: Error): void => {
    if (this.done !== null) this.finish(false, error);
  };

  private readonly onFlushed = (): void => {
    if (this.done === null) return; // failed already
    const compressed = removeTail(this.output);
    let length = 0;
    for (const chunk of compressed) length += chunk.length;
    const bytes = Buffer.allocUnsafe(frameHeaderSize(length, false) + length);
    let offset = writeFrameHeader(bytes, 0, this.opcode, true, RSV1, length, null);
    for (const chunk of compressed) {
      bytes.set(chunk, offset);
      offset += chunk.length;
    }
    compressionCounts.shared++;
    this.finish(true, null);
    this.frame.complete([bytes]);
  };

  private finish(reuse: boolean, error: Error | null): void {
    const deflater = this.deflater!;
    const done = this.done;
    this.done = null;
    deflater.removeListener('data', this.onData);
    deflater.removeListener('error', this.onError);
    if (reuse) {
      poolDeflater(this.settings, deflater);
    } else {
      deflater.on('error', ignore);
      deflater.close();
    }
    if (error !== null) this.frame.fail(error);
    done?.();
  }
}

interface StreamListeners {
  readonly data: (chunk: Buffer) => void;
  readonly error: (error: Error) => void;
  readonly flushed: () => void;
}

/** The empty list the job fields hold between jobs (never pushed to: each job starts a fresh one). */
const NONE: Buffer[] = Object.freeze([]) as unknown as Buffer[];

function ignore(): void {}

/** The chunks as one buffer (usually there is one), with `tail` after them. */
function join(chunks: readonly Buffer[], tail: Buffer | null): Buffer {
  if (tail === null && chunks.length === 1) return chunks[0]!;
  return Buffer.concat(tail === null ? chunks : [...chunks, tail]);
}

/** Remove the trailing 00 00 ff ff of a sync flush from a list of chunks (it may straddle two). */
function removeTail(chunks: Buffer[]): Buffer[] {
  let remove = 4;
  const out = chunks.slice();
  while (remove > 0 && out.length > 0) {
    const last = out[out.length - 1]!;
    if (last.length <= remove) {
      remove -= last.length;
      out.pop();
    } else {
      out[out.length - 1] = last.subarray(0, last.length - remove);
      remove = 0;
    }
  }
  // RFC 7692 §7.2.3.6: an empty message compresses to a single 0x00 octet.
  return out.length === 0 ? [Buffer.from([0x00])] : out;
}
