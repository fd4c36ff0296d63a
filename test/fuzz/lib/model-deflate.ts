/**
 * The reference model's permessage-deflate receiver (RFC 7692 §7.2.2): a compressed message's payload,
 * with 00 00 FF FF appended at its end, is raw DEFLATE, decompressed with the window kept from earlier
 * messages unless the client resets it (client_no_context_takeover). It uses zlib's one-shot API over
 * everything the decompressor has been fed, not the library's streaming code.
 *
 * A message may end its data with a block that has BFINAL set (§7.2.3.4): the DEFLATE stream is over,
 * anything after it in the message is ignored, and the next message starts a new stream.
 *
 * Decoding happens where the library's receiver does it (at the end of a message, or of a frame once
 * 64 KiB of compressed data are waiting), so that an error is reported at the same point of the stream.
 */
import { constants, inflateRawSync } from 'node:zlib';

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** The library's decode batch: compressed bytes of one message gathered before a decode. */
export const DECODE_BATCH = 64 * 1024;

/** Output of zlib's streaming decompressor comes in chunks of this size (the library's chunkSize). */
const STREAM_CHUNK = 32 * 1024;

export type DecodeResult =
  | { ok: true; output: Buffer }
  /** `alternative`: when the data is broken past the size limit, either code may come first. */
  | { ok: false; closeCode: 1007 | 1009; alternative?: 1007 | 1009; detail: string };

function inflate(input: Buffer): { output: Buffer; consumed: number } {
  const result = inflateRawSync(input, { info: true, finishFlush: constants.Z_SYNC_FLUSH }) as unknown as {
    buffer: Buffer;
    engine: { bytesWritten: number };
  };
  return { output: result.buffer, consumed: result.engine.bytesWritten };
}

export class ModelInflater {
  private readonly contextTakeover: boolean;
  /** Everything fed to the current DEFLATE stream. */
  private fed: Buffer[] = [];
  /** Output produced by it so far. */
  private produced = 0;
  /** The stream ended (a BFINAL block): the rest of the message is ignored. */
  private ended = false;
  /** Some message of this connection ended its DEFLATE stream with a BFINAL block. */
  sawStreamEnd = false;

  constructor(contextTakeover: boolean) {
    this.contextTakeover = contextTakeover;
  }

  /** Decode the next piece of a message; `limit` is how many more bytes the message may have. */
  decode(payload: Buffer, fin: boolean, limit: number): DecodeResult {
    let output: Buffer = Buffer.alloc(0);
    if (!this.ended) {
      const input = fin ? Buffer.concat([payload, TAIL]) : payload;
      const before = Buffer.concat(this.fed);
      const all = Buffer.concat([before, input]);
      let result: { output: Buffer; consumed: number };
      try {
        result = inflate(all);
      } catch (error) {
        return this.broken(before, input, limit, (error as Error).message);
      }
      this.fed.push(input);
      output = result.output.subarray(this.produced);
      this.produced = result.output.length;
      if (result.consumed < all.length) this.ended = this.sawStreamEnd = true;
      if (output.length > limit) return { ok: false, closeCode: 1009, detail: 'decompressed message over maxPayload' };
    }
    if (fin && (!this.contextTakeover || this.ended)) {
      this.fed = [];
      this.produced = 0;
      this.ended = false;
    }
    return { ok: true, output };
  }

  /**
   * Invalid DEFLATE data: 1007, unless the output before the broken point is over the limit (then the
   * library stops on the size first, 1009). The library sees output in whole chunks, so near the
   * limit either code is right.
   */
  private broken(before: Buffer, input: Buffer, limit: number, message: string): DecodeResult {
    let good = 0;
    let bad = input.length;
    while (bad - good > 1) {
      const middle = (good + bad) >> 1;
      try {
        inflate(Buffer.concat([before, input.subarray(0, middle)]));
        good = middle;
      } catch {
        bad = middle;
      }
    }
    const reached = inflate(Buffer.concat([before, input.subarray(0, good)])).output.length - this.produced;
    const detail = `invalid DEFLATE data (${message})`;
    if (reached <= limit) return { ok: false, closeCode: 1007, detail };
    if (reached > limit + STREAM_CHUNK) return { ok: false, closeCode: 1009, detail: 'decompressed message over maxPayload' };
    return { ok: false, closeCode: 1007, alternative: 1009, detail };
  }
}
