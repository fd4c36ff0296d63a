/**
 * The extension hook (RFC 6455 §9). An extension negotiated in the handshake claims one or more reserved
 * bits and transforms the payload of the messages that carry them. The receiver and the sender call it
 * per frame with a callback, so an extension may do its work asynchronously (zlib does); the receiver
 * pauses its parser meanwhile, which keeps messages and control frames in order.
 */
import type { ProtocolError } from './errors.js';

/** Called once by `MessageDecoder.decode`: the decoded bytes, or the error that fails the connection (1007, or 1009 over the limit). */
export type DecodeCallback = (error: ProtocolError | null, output: Buffer[] | null) => void;
/** Called once by `MessageEncoder.encode`: the encoded bytes, or the error. */
export type EncodeCallback = (error: Error | null, output: Buffer[] | null) => void;

/** Receiving side of a negotiated extension. */
export interface MessageDecoder {
  /** The reserved bit(s) on a message's first frame that mark it as transformed (RSV1 = 0x40). */
  readonly rsv: number;
  /**
   * Decode the payload of one frame of a transformed message. `fin` marks the message's last frame.
   * The decoded output of the whole message must stay within `limit` more bytes: an extension that
   * would produce more stops early and fails with close code 1009 (this bounds decompression bombs).
   * The callback may run synchronously or later, exactly once.
   */
  decode(payload: readonly Buffer[], fin: boolean, limit: number, callback: DecodeCallback): void;
}

/** Sending side of a negotiated extension. */
export interface MessageEncoder {
  /** The reserved bit(s) to set on the first frame of a transformed message. */
  readonly rsv: number;
  /** Encode one frame's worth of a message; `fin` marks its end. The callback runs exactly once. */
  encode(payload: readonly Buffer[], fin: boolean, callback: EncodeCallback): void;
}
