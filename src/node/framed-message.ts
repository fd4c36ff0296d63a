/**
 * A message framed once for many connections (`broadcast`, `publish`): the plain frame is made at once,
 * and the same bytes go to every connection that takes it uncompressed. A compressed frame is made
 * once per set of compression parameters that allow sharing (no context takeover, the same window,
 * level and memory level; see `PerMessageDeflate.sharedKey`), the first time a connection with those
 * parameters takes the message, and every such connection queues that one frame.
 */
import { frameHeaderSize, serializeFrame, serializeTextFrame, writeFrameHeader } from '../protocol/frame-serializer.js';
import { Opcode } from '../protocol/constants.js';
import { SharedFrame } from '../protocol/shared-frame.js';
import { toPayload, type SendData } from './data.js';
import type { PerMessageDeflate } from './permessage-deflate.js';

export class FramedMessage {
  /** The whole uncompressed frame as one buffer (header and payload), in a one-element list. */
  readonly frame: readonly Buffer[];
  readonly data: Exclude<SendData, Blob>;
  /** The payload's size in bytes. */
  readonly size: number;
  readonly binary: boolean;
  /** The compressed frames made so far, by `PerMessageDeflate.sharedKey`. */
  private compressed: Map<string, SharedFrame> | null = null;

  /**
   * A binary message of `prefixSize` bytes written by `writePrefix` (at the index it is given) followed by
   * `payload`: WebSocket header, prefix and payload in one new buffer, the payload copied once (the
   * resume subprotocol's data frames: src/node/history-topics.ts).
   */
  static prefixed(prefixSize: number, writePrefix: (target: Buffer, at: number) => void, payload: Buffer): FramedMessage {
    const size = prefixSize + payload.length;
    const header = frameHeaderSize(size, false);
    const frame = Buffer.allocUnsafe(header + size);
    writeFrameHeader(frame, 0, Opcode.Binary, true, 0, size, null);
    writePrefix(frame, header);
    payload.copy(frame, header + prefixSize);
    return new FramedMessage(frame.subarray(header), true, frame);
  }

  /**
   * Frame `data` (unmasked: server to client); `binary` as in `send` (default: by the data's type).
   * (`frame`: the whole frame made already, `data` its payload: see `prefixed`.)
   */
  constructor(data: Exclude<SendData, Blob>, binary: boolean | undefined, frame?: Buffer) {
    if (frame !== undefined) {
      this.frame = [frame];
      this.data = data;
      this.size = (data as Buffer).length;
      this.binary = true;
      return;
    }
    const { payload, binary: isBinaryData } = toPayload(data);
    const isBinary = binary ?? isBinaryData;
    const chunks: Buffer[] = [];
    const collect = { write: (chunk: Buffer): void => void chunks.push(chunk) };
    const opcode = isBinary ? Opcode.Binary : Opcode.Text;
    if (typeof payload === 'string') serializeTextFrame(collect, payload, true, 0, null, opcode);
    else serializeFrame(collect, opcode, payload, true, 0, null);
    // One buffer for everyone: each recipient then hands its socket one write, with nothing to join.
    this.frame = chunks.length === 1 ? chunks : [Buffer.concat(chunks)];
    this.data = data;
    this.size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
    this.binary = isBinary;
  }

  /** The payload's bytes, viewed inside the frame (its last `size` bytes). */
  get payload(): Buffer {
    const frame = this.frame[0]!;
    return frame.subarray(frame.length - this.size);
  }

  /**
   * The message compressed for connections with `deflate`'s parameters (which must allow sharing:
   * `deflate.sharedKey` is not null), started on the first call for those parameters.
   */
  compressedFor(deflate: PerMessageDeflate): SharedFrame {
    const key = deflate.sharedKey!;
    const compressed = (this.compressed ??= new Map());
    let frame = compressed.get(key);
    if (frame === undefined) {
      frame = new SharedFrame(this.size);
      compressed.set(key, frame);
      deflate.compressShared(this.payload, this.binary ? Opcode.Binary : Opcode.Text, frame);
    }
    return frame;
  }
}
