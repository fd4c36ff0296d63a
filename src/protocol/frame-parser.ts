/**
 * An incremental frame parser (RFC 6455 §5.2): an integer-state machine fed chunks of any size, down to
 * one byte. It checks every rule that concerns one frame on its own (opcode, reserved bits, masking,
 * control-frame limits, length encoding), unmasks payloads in place and hands them on as views into the
 * chunks it was given: nothing is copied but a frame header that straddles two chunks (at most 14 bytes).
 * A frame that spans chunks can instead be unmasked straight into a buffer of the sink's
 * (`FrameSink.payloadTarget`): one pass over the bytes where unmasking and joining would take two.
 *
 * Rules that span frames (continuation sequencing, message size, UTF-8, close payloads) belong to the
 * `Receiver`, which is this parser's usual sink.
 */
import { ProtocolError } from './errors.js';
import { CloseCode } from './close-codes.js';
import { EMPTY_BUFFER, MAX_CONTROL_PAYLOAD } from './constants.js';
import { xorMask, xorMaskInto } from './mask.js';

/** Which end of the connection: a client masks the frames it sends, a server never does (RFC 6455 §5.1). */
export type Role = 'client' | 'server';

/** Receives what the parser finds, in order. */
export interface FrameSink {
  /** A frame header passed the per-frame checks; `length` payload bytes follow (0 is possible). */
  onFrameHeader(opcode: number, fin: boolean, rsv: number, length: number): void;
  /**
   * Unmasked payload bytes of the current frame. `last` marks the final piece; a frame with an empty
   * payload yields one empty piece with `last` set. Pieces are views into the pushed chunks.
   */
  onFramePayload(data: Buffer, last: boolean): void;
  /**
   * Optional, asked before each piece of a frame that spans chunks (not for its last piece), until it
   * returns a buffer: a frame of `length` bytes, of which `received` (this piece included) are in.
   * Return a buffer of exactly `length` bytes to have the rest of the payload, this piece on, unmasked
   * straight into it at offset `received - piece length` (the pieces handed to `onFramePayload` are then
   * views of that buffer; the sink fills in the bytes before them itself), or null to keep getting
   * views of the chunks. `address` is the buffer address that lines up with this piece (see
   * `allocAligned`).
   */
  payloadTarget?(length: number, received: number, address: number): Buffer | null;
}

/** The options of `new FrameParser(options, sink)`. */
export interface FrameParserOptions {
  /** Our role: a server requires masked frames, a client requires unmasked ones (RFC 6455 §5.1). */
  readonly role: Role;
  /** Reserved bits an extension has claimed (e.g. RSV1 for permessage-deflate); any other set bit fails. */
  readonly allowedRsv?: number;
}

const STATE_HEADER = 0;
const STATE_PAYLOAD = 1;
const STATE_STOPPED = 2;

const TWO_POW_32 = 0x1_0000_0000;

/** The empty queue every parser starts with (an idle connection allocates none of its own). */
const NO_CHUNKS: Buffer[] = Object.freeze([]) as unknown as Buffer[];

/** Chunks queued during a pause that are smaller than this are copied into a shared block. */
const SMALL_CHUNK = 4096;
const QUEUE_BLOCK_SIZE = 16 * 1024;

/**
 * An incremental frame parser (RFC 6455 §5.2) fed chunks of any size: it checks every rule about one
 * frame (opcode, reserved bits, masking, control-frame limits, length encoding), unmasks payloads in
 * place and hands them to its {@link FrameSink} as views of the chunks (nothing copied but a header split
 * across chunks). Rules that span frames are the {@link Receiver}'s.
 */
export class FrameParser {
  private readonly sink: FrameSink;
  private readonly expectMask: boolean;
  private allowedRsv: number;

  private state = STATE_HEADER;
  /** A header split across chunks is gathered here. */
  /** Created on first need (a header split across chunks); from Node's shared pool, always written before read. */
  private headerBytes: Buffer | null = null;
  private headerFilled = 0;

  private remaining = 0;
  private masked = false;
  /** Created with the first masked frame (idle connections never need it). */
  private maskKey: Buffer | null = null;
  private maskOffset = 0;
  /** The current frame's payload length, and whether to ask the sink for a target before a piece. */
  private frameLength = 0;
  private askTarget = false;
  /** Where the current frame's payload goes, when the sink provided a buffer; and how much is in. */
  private target: Buffer | null = null;
  private targetFilled = 0;

  private paused = false;
  private parsing = false;
  /** Chunks (or their unread tails) pushed while paused; the shared empty `NO_CHUNKS` when none. */
  private queue: Buffer[] = NO_CHUNKS;
  private queuedBytes = 0;
  /** The block small queued chunks are copied into (the last entry of `queue` is a view of it). */
  private tailBlock: Buffer | null = null;
  private tailUsed = 0;

  constructor(options: FrameParserOptions, sink: FrameSink) {
    this.sink = sink;
    this.expectMask = options.role === 'server';
    this.allowedRsv = options.allowedRsv ?? 0;
  }

  /** Change the reserved bits extensions may use (after an extension is negotiated). */
  setAllowedRsv(bits: number): void {
    this.allowedRsv = bits;
  }

  /** Bytes pushed while paused and not yet parsed. */
  get bufferedBytes(): number {
    return this.queuedBytes;
  }

  /** Whether `pause()` holds the parsing (chunks pushed meanwhile are queued). */
  get isPaused(): boolean {
    return this.paused;
  }

  /** Whether parsing stopped for good (`stop()`: after a close frame or an error); later chunks are ignored. */
  get isStopped(): boolean {
    return this.state === STATE_STOPPED;
  }

  /** Stop handing anything on until `resume()`; chunks pushed meanwhile are kept in order. */
  pause(): void {
    this.paused = true;
  }

  /** Continue after `pause()`, parsing whatever was queued. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.parsing) return; // called from inside a sink callback: the running loop carries on
    this.drainQueue();
  }

  /** Stop for good (after a close frame or an error): everything pushed later is ignored. */
  stop(): void {
    this.state = STATE_STOPPED;
    this.target = null;
    this.queue = NO_CHUNKS;
    this.queuedBytes = 0;
    this.tailBlock = null;
  }

  /**
   * Parse a chunk. The chunk is unmasked in place and views of it are handed to the sink, so the caller
   * gives up ownership of it. Throws `ProtocolError` on a broken frame; the parser is stopped after that.
   */
  push(chunk: Buffer): void {
    if (this.state === STATE_STOPPED || chunk.length === 0) return;
    if (this.paused || this.queue.length > 0) {
      this.enqueue(chunk);
      if (!this.paused && !this.parsing) this.drainQueue();
      return;
    }
    this.parse(chunk, 0);
  }

  /** Chunks queued while paused (small ones share blocks: bounded by bytes / 4 KiB + a few). */
  get queuedChunks(): number {
    return this.queue.length;
  }

  /**
   * Queue a chunk pushed while paused. Small chunks are copied into a shared block, so a peer that
   * trickles a million 1-byte TCP segments during a pause costs a few blocks, not a million buffers.
   */
  private enqueue(chunk: Buffer): void {
    const size = chunk.length;
    this.queuedBytes += size;
    if (this.queue === NO_CHUNKS) this.queue = [];
    if (size >= SMALL_CHUNK) {
      this.queue.push(chunk);
      this.tailBlock = null;
      return;
    }
    let block = this.tailBlock;
    if (block === null || this.tailUsed + size > block.length) {
      block = this.tailBlock = Buffer.allocUnsafe(QUEUE_BLOCK_SIZE);
      this.tailUsed = 0;
      this.queue.push(block.subarray(0, 0));
    }
    chunk.copy(block, this.tailUsed);
    this.tailUsed += size;
    // The last queued entry is the filled part of the tail block.
    this.queue[this.queue.length - 1] = block.subarray(0, this.tailUsed);
  }

  private drainQueue(): void {
    while (this.queue.length > 0 && !this.paused && this.state !== STATE_STOPPED) {
      const chunk = this.queue.shift()!;
      if (this.queue.length === 0) this.tailBlock = null; // the tail block is being parsed: never append to it again
      this.queuedBytes -= chunk.length;
      this.parse(chunk, 0);
    }
    if (this.queue.length === 0) this.queue = NO_CHUNKS;
  }

  /** Parse `chunk` from `offset`; if paused midway, queue the rest at the front. */
  private parse(chunk: Buffer, offset: number): void {
    this.parsing = true;
    try {
      const length = chunk.length;
      while (offset < length) {
        if (this.state === STATE_HEADER) {
          offset = this.readHeader(chunk, offset);
        } else if (this.state === STATE_PAYLOAD) {
          offset = this.readPayload(chunk, offset);
        } else {
          return; // stopped
        }
        if (this.paused) {
          if (offset < length && !this.isStopped) {
            const rest = chunk.subarray(offset);
            if (this.queue === NO_CHUNKS) this.queue = [];
            this.queue.unshift(rest);
            this.queuedBytes += rest.length;
          }
          return;
        }
      }
    } catch (error) {
      this.stop();
      throw error;
    } finally {
      this.parsing = false;
    }
  }

  /** Consume header bytes from `chunk` at `offset`; returns the new offset. */
  private readHeader(chunk: Buffer, offset: number): number {
    const available = chunk.length - offset;
    if (this.headerFilled === 0 && available >= 2) {
      const needed = this.headerSize(chunk[offset]!, chunk[offset + 1]!);
      if (available >= needed) {
        this.beginFrame(chunk, offset);
        return offset + needed;
      }
    }
    // Gather a header split across chunks, one step at a time: first the two fixed bytes (checked at
    // once, to fail fast), then the rest.
    const header = (this.headerBytes ??= Buffer.allocUnsafe(14));
    if (this.headerFilled < 2) {
      const take = Math.min(2 - this.headerFilled, available);
      chunk.copy(header, this.headerFilled, offset, offset + take);
      this.headerFilled += take;
      offset += take;
      if (this.headerFilled < 2) return offset;
    }
    const needed = this.headerSize(header[0]!, header[1]!);
    const take = Math.min(needed - this.headerFilled, chunk.length - offset);
    chunk.copy(header, this.headerFilled, offset, offset + take);
    this.headerFilled += take;
    offset += take;
    if (this.headerFilled === needed) {
      this.headerFilled = 0;
      this.beginFrame(header, 0);
    }
    return offset;
  }

  /** Check the two fixed header bytes and return the full header size (2–14). */
  private headerSize(b0: number, b1: number): number {
    const opcode = b0 & 0x0f;
    const rsv = b0 & 0x70;
    const masked = (b1 & 0x80) !== 0;
    const len7 = b1 & 0x7f;

    if (rsv & ~this.allowedRsv) {
      throw new ProtocolError('FD_ERR_UNEXPECTED_RSV', CloseCode.ProtocolError, `Reserved bits set without a negotiated extension (RSV=0x${(rsv >> 4).toString(16)})`, {
        reservedBits: rsv & ~this.allowedRsv,
      });
    }
    if (opcode >= 0x8) {
      // RFC 6455 §5.5: control frames are never fragmented and carry at most 125 bytes.
      if (opcode > 0xa) throw invalidOpcode(opcode);
      if ((b0 & 0x80) === 0) {
        throw new ProtocolError('FD_ERR_CONTROL_FRAGMENTED', CloseCode.ProtocolError, 'Control frame is fragmented (FIN not set)');
      }
      if (len7 > MAX_CONTROL_PAYLOAD) {
        throw new ProtocolError('FD_ERR_CONTROL_TOO_LONG', CloseCode.ProtocolError, 'Control frame payload is longer than 125 bytes');
      }
    } else if (opcode > 0x2) {
      throw invalidOpcode(opcode);
    }
    // RFC 6455 §5.1: clients mask every frame, servers never do.
    if (masked !== this.expectMask) {
      throw this.expectMask
        ? new ProtocolError('FD_ERR_EXPECTED_MASK', CloseCode.ProtocolError, 'Frame from client is not masked')
        : new ProtocolError('FD_ERR_UNEXPECTED_MASK', CloseCode.ProtocolError, 'Frame from server is masked');
    }
    return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (masked ? 4 : 0);
  }

  /** Decode a complete header at `offset` (already checked by `headerSize`) and start its payload. */
  private beginFrame(bytes: Buffer, offset: number): void {
    const b0 = bytes[offset]!;
    const b1 = bytes[offset + 1]!;
    let length = b1 & 0x7f;
    let position = offset + 2;
    if (length === 126) {
      length = (bytes[position]! << 8) | bytes[position + 1]!;
      position += 2;
    } else if (length === 127) {
      const high = bytes.readUInt32BE(position);
      const low = bytes.readUInt32BE(position + 4);
      position += 8;
      // RFC 6455 §5.2: the most significant bit of a 64-bit length must be 0.
      if (high >= 0x8000_0000) {
        throw new ProtocolError('FD_ERR_INVALID_LENGTH', CloseCode.ProtocolError, 'Frame length has its most significant bit set');
      }
      // Lengths from 2^53 up cannot be represented exactly and exceed any limit one can configure.
      if (high > 0x1f_ffff) {
        throw new ProtocolError('FD_ERR_UNSUPPORTED_LENGTH', CloseCode.MessageTooBig, 'Frame length exceeds 2^53 - 1 bytes');
      }
      length = high * TWO_POW_32 + low;
    }
    this.masked = (b1 & 0x80) !== 0;
    if (this.masked) {
      const key = (this.maskKey ??= Buffer.allocUnsafe(4));
      key[0] = bytes[position]!;
      key[1] = bytes[position + 1]!;
      key[2] = bytes[position + 2]!;
      key[3] = bytes[position + 3]!;
      this.maskOffset = 0;
    }
    this.remaining = length;
    this.frameLength = length;
    this.askTarget = this.sink.payloadTarget !== undefined;
    this.state = STATE_PAYLOAD;
    this.sink.onFrameHeader(b0 & 0x0f, (b0 & 0x80) !== 0, b0 & 0x70, length);
    if (length === 0 && this.state === STATE_PAYLOAD) {
      this.state = STATE_HEADER;
      this.sink.onFramePayload(EMPTY_BUFFER, true);
    }
  }

  private readPayload(chunk: Buffer, offset: number): number {
    const available = chunk.length - offset;
    const take = available < this.remaining ? available : this.remaining;
    const end = offset + take;
    if (this.askTarget) {
      if (take < this.remaining) {
        const filled = this.frameLength - this.remaining;
        const target = this.sink.payloadTarget!(this.frameLength, filled + take, chunk.byteOffset + offset - filled);
        if (target !== null) {
          this.askTarget = false;
          this.target = target;
          this.targetFilled = filled;
        }
      } else {
        this.askTarget = false;
      }
    }
    this.remaining -= take;
    const last = this.remaining === 0;
    if (last) this.state = STATE_HEADER;
    const target = this.target;
    if (target !== null) {
      const at = this.targetFilled;
      if (this.masked) this.maskOffset = xorMaskInto(chunk, offset, end, target, at, this.maskKey!, this.maskOffset);
      else chunk.copy(target, at, offset, end);
      this.targetFilled = at + take;
      if (last) this.target = null;
      this.sink.onFramePayload(target.subarray(at, at + take), last);
      return end;
    }
    if (this.masked) this.maskOffset = xorMask(chunk, offset, end, this.maskKey!, this.maskOffset);
    this.sink.onFramePayload(offset === 0 && end === chunk.length ? chunk : chunk.subarray(offset, end), last);
    return end;
  }
}

function invalidOpcode(opcode: number): ProtocolError {
  return new ProtocolError('FD_ERR_INVALID_OPCODE', CloseCode.ProtocolError, `Invalid opcode 0x${opcode.toString(16)}`);
}
