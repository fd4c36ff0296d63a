/**
 * The receiving half of a connection: frames in, messages and control frames out. It sits on a
 * `FrameParser` and enforces the rules that span frames: continuation sequencing (RFC 6455 §5.4), the
 * message size limit (checked on every frame header, before any payload is kept), strict UTF-8 for text
 * and close reasons (§8.1, failing on the first bad byte even inside a fragment), the close payload
 * (§5.5.1, §7.4), and the extension hook for messages marked with a reserved bit.
 */
import { ProtocolError } from './errors.js';
import { CloseCode, isValidCloseCode } from './close-codes.js';
import { DEFAULT_MAX_PAYLOAD, EMPTY_BUFFER, Opcode } from './constants.js';
import { FrameParser, type FrameSink, type Role } from './frame-parser.js';
import { MessageBuffer } from './message-buffer.js';
import { allocAligned } from './mask.js';
import { Utf8Validator, isValidUtf8 } from './utf8.js';
import type { DecodeCallback, MessageDecoder } from './extension.js';

/** What the receiver hands up. Handlers must not throw: the I/O layer catches user code's errors. */
export interface ReceiverHandler {
  /** A complete message: text as validated UTF-8 bytes (`isBinary` false) or binary data. */
  onMessage(data: Buffer | Buffer[], isBinary: boolean): void;
  /** A ping arrived (`data`: its payload, at most 125 bytes). */
  onPing(data: Buffer): void;
  /** A pong arrived (`data`: its payload, at most 125 bytes). */
  onPong(data: Buffer): void;
  /** A valid close frame. `code` is 1005 when the frame had no payload. Nothing is parsed after it. */
  onClose(code: number, reason: Buffer): void;
  /** The peer broke the protocol; nothing is parsed after it. */
  onError(error: ProtocolError): void;
  /** Parsing resumed after waiting on the extension, and everything queued meanwhile was parsed. */
  onResumed?(): void;
}

/** The options of a {@link Receiver}. */
export interface ReceiverOptions {
  /** Our role: a server requires masked frames, a client unmasked ones (RFC 6455 §5.1). */
  readonly role: Role;
  /** Largest message accepted, in bytes (after decompression). Default 64 MiB. */
  readonly maxPayload?: number;
  /** Largest number of frames one message may span. Default: unlimited (pieces are coalesced anyway). */
  readonly maxFragments?: number;
  /** Skip UTF-8 validation of text messages (the caller promises to validate or not care). Default false. */
  readonly skipUtf8Validation?: boolean;
  /** Deliver multi-frame messages as their list of pieces rather than one joined buffer. Default false. */
  readonly keepFragments?: boolean;
  /** The negotiated extension's receiving side, if any. */
  readonly decoder?: MessageDecoder | null;
}

const NO_MESSAGE = -1;

/**
 * Placeholders until the first data message, shared by every receiver: empty, and never written to (a
 * connection swaps in its own in `onFrameHeader`, before the first `add` or `write`); the length and
 * piece counts work on them, and `reset` is skipped (they are empty). They are frozen so that a write
 * that would reach one by mistake throws a TypeError (class code is strict) instead of leaking one
 * connection's bytes or UTF-8 state into another's: `add` of a non-empty piece assigns `length`, and
 * `write` always assigns `state`. The check costs nothing on the way of a chunk: the engine does it.
 */
const NO_MESSAGE_BUFFER = frozen(new MessageBuffer());
const NO_VALIDATOR = frozen(new Utf8Validator());

/** `Object.freeze`, typed as the class itself (its fields' types stay writable; the object is not). */
function frozen<T extends object>(value: T): T {
  Object.freeze(value);
  return value;
}

/** A frame's own buffer is allocated once 1/8 of it has arrived (see `payloadTarget`). */
const DIRECT_AMPLIFICATION = 8;

/** Compressed bytes gathered from a fragmented message before they are handed to the decoder. */
const DECODE_BATCH = 64 * 1024;

/**
 * The receiving half of a connection: bytes in, messages and control frames out (to a
 * {@link ReceiverHandler}). On a {@link FrameParser}, it enforces the rules that span frames:
 * continuation (RFC 6455 §5.4), the message size limit (on every frame header, before any payload is
 * kept), strict UTF-8 for text and close reasons (§8.1), the close payload (§5.5.1, §7.4), and the
 * extension hook for messages with a reserved bit.
 */
export class Receiver implements FrameSink {
  private readonly handler: ReceiverHandler;
  private readonly parser: FrameParser;
  private readonly maxPayload: number;
  private readonly maxFragments: number;
  private readonly validateUtf8: boolean;
  private keepFragments: boolean;
  private decoder: MessageDecoder | null;

  // The frame being read.
  private frameOpcode = 0;
  private frameFin = false;
  private controlPayload: Buffer | null = null;
  private controlFilled = 0;

  // The data message being assembled.
  private messageOpcode = NO_MESSAGE;
  private messageCompressed = false;
  private fragments = 0;
  /** Both made with the first data message (an idle connection has neither). */
  private message: MessageBuffer = NO_MESSAGE_BUFFER;
  private utf8: Utf8Validator = NO_VALIDATOR;
  /** A single-frame message being unmasked straight into its own buffer (see `payloadTarget`). */
  private direct: Buffer | null = null;
  /** Compressed payload gathered for the decoder (small pieces coalesced, as for messages). */
  private encoded: MessageBuffer | null;

  private finished = false;

  constructor(options: ReceiverOptions, handler: ReceiverHandler) {
    this.handler = handler;
    this.maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    this.maxFragments = options.maxFragments ?? Infinity;
    this.validateUtf8 = options.skipUtf8Validation !== true;
    this.keepFragments = options.keepFragments === true;
    this.decoder = options.decoder ?? null;
    this.encoded = this.decoder === null ? null : NO_MESSAGE_BUFFER;
    this.parser = new FrameParser({ role: options.role, allowedRsv: this.decoder?.rsv ?? 0 }, this);
  }

  /** Deliver multi-frame messages as lists of pieces (or, when false, joined). */
  setKeepFragments(keep: boolean): void {
    this.keepFragments = keep;
  }

  /** Install the negotiated extension (before any frame arrives). */
  setDecoder(decoder: MessageDecoder | null): void {
    this.decoder = decoder;
    if (decoder !== null) this.encoded ??= NO_MESSAGE_BUFFER;
    this.parser.setAllowedRsv(decoder?.rsv ?? 0);
  }

  /** Feed bytes from the transport; the chunk becomes ours (it is unmasked in place). */
  push(chunk: Buffer): void {
    if (this.finished) return;
    try {
      this.parser.push(chunk);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.fail(error);
    }
  }

  /** Stop parsing (after our side decided the connection is over). */
  stop(): void {
    this.finished = true;
    this.parser.stop();
    this.dropMessage();
  }

  /** True while waiting on an asynchronous extension; bytes pushed meanwhile are queued. */
  get isPaused(): boolean {
    return this.parser.isPaused;
  }

  /** Bytes queued while paused. */
  get bufferedBytes(): number {
    return this.parser.bufferedBytes;
  }

  /**
   * Separate buffers held for the message in progress and for bytes queued during a pause. Bounded by
   * bytes / 4 KiB + a few, however the peer splits its data (1-byte TCP segments, empty or 1-byte
   * fragments).
   */
  get bufferedChunks(): number {
    return this.parser.queuedChunks + this.message.pieceCount + (this.encoded?.pieceCount ?? 0);
  }

  /** Whether receiving is over (a close frame, a protocol error, or `stop()`): nothing more is parsed. */
  get isFinished(): boolean {
    return this.finished;
  }

  // --- FrameSink -----------------------------------------------------------------------------------

  /** @internal The parser's callback (FrameSink). */
  onFrameHeader(opcode: number, fin: boolean, rsv: number, length: number): void {
    this.frameOpcode = opcode;
    this.frameFin = fin;
    if (opcode >= 0x8) {
      // RFC 6455 §5.2 / RFC 7692 §6.1: extensions' bits are never set on control frames.
      if (rsv !== 0) throw new ProtocolError('FD_ERR_UNEXPECTED_RSV', CloseCode.ProtocolError, 'Reserved bit set on a control frame');
      this.controlFilled = 0;
      this.controlPayload = null;
      return;
    }
    if (opcode === Opcode.Continuation) {
      if (this.messageOpcode === NO_MESSAGE) {
        throw new ProtocolError('FD_ERR_UNEXPECTED_CONTINUATION', CloseCode.ProtocolError, 'Continuation frame without a message to continue');
      }
      // RFC 7692 §6.1: the "per-message" bit belongs on the first frame only.
      if (rsv !== 0) throw new ProtocolError('FD_ERR_UNEXPECTED_RSV', CloseCode.ProtocolError, 'Reserved bit set on a continuation frame');
    } else {
      if (this.messageOpcode !== NO_MESSAGE) {
        throw new ProtocolError('FD_ERR_EXPECTED_CONTINUATION', CloseCode.ProtocolError, 'New data frame inside a fragmented message');
      }
      this.messageOpcode = opcode;
      this.messageCompressed = rsv !== 0;
      this.fragments = 0;
      if (this.message === NO_MESSAGE_BUFFER) this.message = new MessageBuffer();
      if (this.messageCompressed && this.encoded === NO_MESSAGE_BUFFER) this.encoded = new MessageBuffer();
      if (this.utf8 === NO_VALIDATOR) this.utf8 = new Utf8Validator();
      else this.utf8.reset();
    }
    if (++this.fragments > this.maxFragments) {
      throw new ProtocolError('FD_ERR_TOO_MANY_FRAGMENTS', CloseCode.MessageTooBig, `Message spans more than ${this.maxFragments} frames`);
    }
    // RFC 6455 §10.4: refuse an oversized message as soon as its size is known, before buffering it.
    const size = this.messageCompressed ? this.encoded!.length + length : this.message.length + length;
    if (size > this.maxPayload) {
      throw new ProtocolError('FD_ERR_MESSAGE_TOO_BIG', CloseCode.MessageTooBig, `Message exceeds the ${this.maxPayload}-byte limit`);
    }
  }

  /**
   * `FrameSink.payloadTarget`: a message that is one large uncompressed frame spanning chunks is
   * collected in a buffer of its own (its final size is known from the header), and that buffer is the
   * message: no pieces to join at the end. The buffer is made only once an eighth of the frame is in,
   * so a peer that announces a large frame and sends little makes us hold at most 8 times what it sent.
   */
  payloadTarget(length: number, received: number, address: number): Buffer | null {
    if (this.frameOpcode >= 0x8 || !this.frameFin || this.messageCompressed || this.fragments !== 1) return null;
    if (received * DIRECT_AMPLIFICATION < length) return null;
    const target = allocAligned(length, address);
    // What arrived before this piece, already unmasked, goes in front.
    const before = this.message.takePieces();
    let offset = 0;
    for (let i = 0; i < before.length; i++) {
      const piece = before[i]!;
      piece.copy(target, offset);
      offset += piece.length;
    }
    this.direct = target;
    return target;
  }

  /** @internal The parser's callback (FrameSink). */
  onFramePayload(data: Buffer, last: boolean): void {
    const opcode = this.frameOpcode;
    if (opcode >= 0x8) {
      this.addControlPayload(data, last);
      return;
    }
    if (this.messageCompressed) {
      const encoded = this.encoded!; // compressed frames pass the parser only with a decoder installed
      encoded.add(data);
      // Decode at the end of the message, or once enough is gathered: each decode is a round trip
      // to the extension (zlib's thread pool), so many small fragments are decoded together.
      if (last && (this.frameFin || encoded.length >= DECODE_BATCH)) this.decodeFrame();
      return;
    }
    if (this.messageOpcode === Opcode.Text && this.validateUtf8 && !this.utf8.write(data)) {
      throw invalidUtf8();
    }
    const direct = this.direct;
    if (direct !== null) {
      if (last) this.finishMessage(direct);
      return;
    }
    this.message.add(data);
    if (last && this.frameFin) this.finishMessage(null);
  }

  // --- messages ------------------------------------------------------------------------------------

  /**
   * Deliver the data message that just ended: `direct`, the frame's own buffer (see `payloadTarget`),
   * or, when null, what `message` collected (joined, or as its pieces with `keepFragments`). The text
   * is checked for ending mid-character before anything is joined.
   */
  private finishMessage(direct: Buffer | null): void {
    const isBinary = this.messageOpcode === Opcode.Binary;
    if (!isBinary && this.validateUtf8 && !this.utf8.end()) throw invalidUtf8();
    this.messageOpcode = NO_MESSAGE;
    let data: Buffer | Buffer[];
    if (direct === null) {
      data = this.keepFragments ? this.message.takePieces() : this.message.takeBuffer();
    } else {
      this.direct = null;
      data = this.keepFragments ? [direct] : direct;
    }
    this.handler.onMessage(data, isBinary);
  }

  /** Forget the message in progress (the placeholders are empty and frozen: left alone). */
  private dropMessage(): void {
    if (this.message !== NO_MESSAGE_BUFFER) this.message.reset();
    if (this.encoded !== null && this.encoded !== NO_MESSAGE_BUFFER) this.encoded.reset();
    this.direct = null;
  }

  private decodeFrame(): void {
    const decoder = this.decoder!;
    const payload = this.encoded!.takePieces();
    this.parser.pause();
    decoder.decode(payload, this.frameFin, this.maxPayload - this.message.length, (this.decodedCallback ??= (error, output) => this.onDecoded(error, output)));
  }

  /** The decoder's callback: one function for the connection's lifetime, made with the first decode. */
  private decodedCallback: DecodeCallback | null = null;

  private onDecoded(error: ProtocolError | null, output: Buffer[] | null): void {
    if (this.finished) return;
    try {
      if (error !== null) throw error;
      const text = this.messageOpcode === Opcode.Text && this.validateUtf8;
      if (output !== null) {
        for (const piece of output) {
          if (text && !this.utf8.write(piece)) throw invalidUtf8();
          this.message.add(piece);
        }
      }
      if (this.message.length > this.maxPayload) {
        throw new ProtocolError('FD_ERR_MESSAGE_TOO_BIG', CloseCode.MessageTooBig, `Message exceeds the ${this.maxPayload}-byte limit`);
      }
      if (this.frameFin) this.finishMessage(null);
    } catch (caught) {
      if (!(caught instanceof ProtocolError)) throw caught;
      this.fail(caught);
      return;
    }
    // Resuming may parse queued frames; their errors are reported like any other.
    try {
      this.parser.resume();
    } catch (caught) {
      if (!(caught instanceof ProtocolError)) throw caught;
      this.fail(caught);
      return;
    }
    if (!this.parser.isPaused && !this.finished) this.handler.onResumed?.();
  }

  // --- control frames ------------------------------------------------------------------------------

  private addControlPayload(data: Buffer, last: boolean): void {
    let payload: Buffer;
    if (this.controlFilled === 0 && last) {
      payload = data; // the usual case: the whole payload arrived in one piece
    } else {
      const buffer = (this.controlPayload ??= Buffer.allocUnsafe(125));
      data.copy(buffer, this.controlFilled);
      this.controlFilled += data.length;
      if (!last) return;
      payload = buffer.subarray(0, this.controlFilled);
      this.controlPayload = null;
      this.controlFilled = 0;
    }
    switch (this.frameOpcode) {
      case Opcode.Ping:
        this.handler.onPing(payload);
        break;
      case Opcode.Pong:
        this.handler.onPong(payload);
        break;
      default:
        this.receiveClose(payload);
    }
  }

  private receiveClose(payload: Buffer): void {
    let code: number = CloseCode.NoStatusReceived;
    let reason = EMPTY_BUFFER;
    // RFC 6455 §5.5.1: an empty body, or a 2-byte status code followed by a UTF-8 reason.
    if (payload.length === 1) {
      throw new ProtocolError('FD_ERR_INVALID_CLOSE_PAYLOAD', CloseCode.ProtocolError, 'Close frame payload of 1 byte');
    }
    if (payload.length >= 2) {
      code = (payload[0]! << 8) | payload[1]!;
      if (!isValidCloseCode(code)) {
        throw new ProtocolError('FD_ERR_INVALID_CLOSE_CODE', CloseCode.ProtocolError, `Invalid close code ${code}`);
      }
      reason = payload.subarray(2);
      if (this.validateUtf8 && !isValidUtf8(reason)) throw invalidUtf8('close reason');
    }
    // RFC 6455 §5.5.1: nothing after a close frame is processed.
    this.finished = true;
    this.parser.stop();
    this.dropMessage();
    this.handler.onClose(code, reason);
  }

  private fail(error: ProtocolError): void {
    if (this.finished) return;
    this.stop();
    this.handler.onError(error);
  }
}

function invalidUtf8(what = 'text message'): ProtocolError {
  return new ProtocolError('FD_ERR_INVALID_UTF8', CloseCode.InvalidPayload, `Invalid UTF-8 in ${what}`);
}
