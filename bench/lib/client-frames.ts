/**
 * Precomputed client frames for load generators: built once, written many times, so the generator's
 * own per-message cost is a socket write and a counter.
 */
import { randomFillSync } from 'node:crypto';
import { constants, deflateRawSync } from 'node:zlib';
import { frameHeaderSize, writeFrameHeader } from '../../src/protocol/frame-serializer.js';
import { xorMask } from '../../src/protocol/mask.js';

/** One masked client frame (a whole message), optionally permessage-deflate compressed. */
export function clientFrame(payload: Buffer, options: { binary: boolean; compress?: boolean }): Buffer {
  let data = payload;
  let rsv = 0;
  if (options.compress === true) {
    // Compressed alone (the generator offers client_no_context_takeover), sync-flushed, tail removed.
    data = deflateRawSync(payload, { finishFlush: constants.Z_SYNC_FLUSH }).subarray(0, -4);
    rsv = 0x40;
  }
  const mask = randomFillSync(Buffer.alloc(4));
  const frame = Buffer.allocUnsafe(frameHeaderSize(data.length, true) + data.length);
  const offset = writeFrameHeader(frame, 0, options.binary ? 2 : 1, true, rsv, data.length, mask);
  data.copy(frame, offset);
  xorMask(frame, offset, frame.length, mask, 0);
  return frame;
}

/** A masked client close frame with a status code (and no reason). */
export function clientCloseFrame(code = 1000): Buffer {
  const mask = randomFillSync(Buffer.alloc(4));
  const frame = Buffer.allocUnsafe(2 + 4 + 2);
  const offset = writeFrameHeader(frame, 0, 0x8, true, 0, 2, mask);
  frame.writeUInt16BE(code, offset);
  xorMask(frame, offset, frame.length, mask, 0);
  return frame;
}

/** A text payload that looks like chat or market data JSON, `size` bytes. */
export function jsonLikeText(size: number, seed = 1): Buffer {
  let state = seed >>> 0;
  const next = (): number => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0);
  const words = ['price', 'bid', 'ask', 'symbol', 'user', 'message', 'hello', 'volume', 'timestamp', 'room', 'lobby', 'score'];
  let text = '[';
  while (text.length < size) {
    const n = next();
    text += `{"${words[n % words.length]}":${(n >>> 8) % 100000},"t":${1_700_000_000 + (n % 86400)},"s":"${words[(n >>> 4) % words.length]}-${n % 97}"},`;
  }
  return Buffer.from(text.slice(0, size - 1) + ']');
}

/**
 * Counts complete messages in a server's (unmasked) frame stream, fed chunks of any size. It reads
 * only frame headers: a message is complete at the end of a data frame with FIN set, whatever its
 * payload, so permessage-deflate messages (RSV1) are counted without inflating them. `compressed`
 * counts the messages whose first frame has RSV1 set (RFC 7692 §6: the bit is on the first frame only).
 */
export class MessageCounter {
  messages = 0;
  bytes = 0;
  /** Messages that arrived compressed (RSV1 on their first frame). */
  compressed = 0;
  /** Chunks pushed (reads, for a generator that pushes each read). */
  chunks = 0;
  private header = Buffer.alloc(14);
  private headerFilled = 0;
  private remaining = 0;
  private fin = false;
  private control = false;

  /** Feed bytes; returns the number of messages completed in this chunk. */
  push(chunk: Buffer): number {
    this.bytes += chunk.length;
    this.chunks++;
    let completed = 0;
    let offset = 0;
    const length = chunk.length;
    while (offset < length) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, length - offset);
        this.remaining -= take;
        offset += take;
        if (this.remaining === 0 && this.fin && !this.control) completed++;
        continue;
      }
      // Header: gather 2 bytes, then the extended length.
      this.header[this.headerFilled++] = chunk[offset++]!;
      if (this.headerFilled < 2) continue;
      const len7 = this.header[1]! & 0x7f;
      const needed = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0);
      if (this.headerFilled < needed) continue;
      const b0 = this.header[0]!;
      this.fin = (b0 & 0x80) !== 0;
      this.control = (b0 & 0x08) !== 0;
      // RSV1 on a data frame that starts a message (opcode 1 or 2; 0 is a continuation).
      if ((b0 & 0x40) !== 0 && (b0 & 0x0f) !== 0 && !this.control) this.compressed++;
      this.remaining = len7 === 126 ? this.header.readUInt16BE(2) : len7 === 127 ? Number(this.header.readBigUInt64BE(2)) : len7;
      this.headerFilled = 0;
      if (this.remaining === 0 && this.fin && !this.control) completed++;
    }
    this.messages += completed;
    return completed;
  }
}
