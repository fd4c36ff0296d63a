/**
 * A WebSocket connection with no I/O of its own (sans-I/O): bytes from the transport go in through
 * `receive`, and out come events and bytes to write, through the handler. It composes the `Receiver`,
 * the frame serializer and the `CloseHandshake`, and answers pings and close frames as RFC 6455 asks.
 * The I/O layer (`src/node/`) owns sockets, timers and user-facing events; everything here is pure
 * state over bytes, so it can be tested by wiring two connections back to back.
 */
import { ProtocolError } from './errors.js';
import { CloseCode } from './close-codes.js';
import { DEFAULT_MAX_PAYLOAD, EMPTY_BUFFER, Opcode } from './constants.js';
import type { Role } from './frame-parser.js';
import { Receiver, type ReceiverHandler } from './receiver.js';
import {
  MaskKeyPool,
  checkControlPayload,
  encodeClosePayload,
  serializeFrame,
  serializeTextFrame,
  type ChunkSink,
} from './frame-serializer.js';
import { CloseHandshake, type CloseResult, type ReadyState } from './close-handshake.js';
import type { MessageDecoder, MessageEncoder } from './extension.js';
import type { SharedFrame, SharedFrameWaiter } from './shared-frame.js';

/** What a connection asks of the layer above it. Handlers must not throw. */
export interface ConnectionHandler extends ChunkSink {
  // `write(chunk)`, from `ChunkSink`: bytes to write to the transport, in order.
  /** A complete message. Text arrives as validated UTF-8 bytes with `isBinary` false. */
  onMessage(data: Buffer | Buffer[], isBinary: boolean): void;
  /** A ping arrived (`data`: its payload); with `autoPong` the pong is already written. */
  onPing(data: Buffer): void;
  /** A pong arrived (`data`: its payload). */
  onPong(data: Buffer): void;
  /** The peer's close frame arrived; our answering close frame (if one was due) is already written. */
  onCloseFrame(code: number, reason: Buffer): void;
  /** The peer broke the protocol or a limit; a close frame with `error.closeCode` is already written. */
  onProtocolError(error: ProtocolError): void;
  /** The protocol is done with the transport: flush what was written, then close it. */
  closeTransport(): void;
  /** The receiver caught up after waiting on the extension (see `receivePaused`). */
  onReceiveResumed?(): void;
  /**
   * Whether the transport is backed up (the peer is not reading what we write). While it is, automatic
   * pongs are coalesced: only the one for the most recent ping is kept, and sent when the transport
   * calls `writable()` (RFC 6455 §5.5.3). Without this hook every ping is answered at once.
   */
  isWriteBlocked?(): boolean;
}

/** The options of `new Connection(handler, options)`. */
export interface ConnectionOptions {
  /** `'client'` (masks what it sends, expects unmasked frames) or `'server'` (the reverse), RFC 6455 §5.1. */
  readonly role: Role;
  /** Largest incoming message in bytes. Default 64 MiB. */
  readonly maxPayload?: number;
  /** Largest number of frames in one incoming message. Default unlimited. */
  readonly maxFragments?: number;
  /** Answer pings with pongs automatically (RFC 6455 §5.5.2). Default true. */
  readonly autoPong?: boolean;
  /** Skip the UTF-8 validation of incoming text (RFC 6455 §8.1 asks for it; not recommended). Default false. */
  readonly skipUtf8Validation?: boolean;
  /** Deliver multi-frame messages as lists of pieces. Default false. */
  readonly keepFragments?: boolean;
  /** Source of masking keys (clients). Default: a pooled CSPRNG. Tests may pass a fixed key. */
  readonly maskKey?: () => Uint8Array;
  /** The negotiated extension, if any. */
  readonly decoder?: MessageDecoder | null;
  /** The negotiated extension's encoder for outgoing messages, if any. */
  readonly encoder?: MessageEncoder | null;
}

/** Options of one outgoing data frame. */
export interface SendOptions {
  /** Last frame of the message (default true); false starts or continues a fragmented message. */
  readonly fin?: boolean;
  /** Run the message through the negotiated extension (e.g. compress it). Default false. */
  readonly compress?: boolean;
}

/** An outgoing message waiting behind an asynchronous extension, to keep send order. */
interface PendingFrame {
  opcode: number;
  payload: Buffer;
  fin: boolean;
  /** null: not to be encoded; a buffer list: the encoder's output, once it is ready. */
  encoded: Buffer[] | null;
  encode: boolean;
  done: boolean;
  /** A close frame to send after everything before it, and then possibly close the transport. */
  close: boolean;
  /** Told when the frame is handed to the transport (null), or dropped unsent (an error). */
  written?: WrittenCallback;
  /** A frame serialized by the caller (`sendSerialized`), written as is; `size` is its length. */
  serialized?: readonly Buffer[];
  size?: number;
  /** A frame shared with other connections (`sendShared`), written once it is settled. */
  shared?: SharedFrame;
}

/** See `Connection.whenWritten`. */
export type WrittenCallback = (error: Error | null) => void;

/** The empty send queue every connection starts with (an idle connection allocates none of its own). */
const NO_PENDING: PendingFrame[] = Object.freeze([]) as unknown as PendingFrame[];

const sharedMaskPool = new MaskKeyPool();
const defaultMaskKey = (): Uint8Array => sharedMaskPool.next();

/**
 * A WebSocket connection with no I/O of its own (sans-I/O, RFC 6455): bytes from the transport go in
 * through `receive`; messages, control frames and bytes to write come out through the
 * {@link ConnectionHandler}. It answers pings and close frames as RFC 6455 asks and enforces the limits.
 */
export class Connection implements ReceiverHandler, SharedFrameWaiter {
  /** `'client'` or `'server'`. */
  readonly role: Role;
  private readonly handler: ConnectionHandler;
  private readonly receiver: Receiver;
  private readonly closing: CloseHandshake;
  private readonly autoPong: boolean;
  private deferredPong: Buffer | null = null;
  private coalescedPongs = 0;
  private readonly maskKey: (() => Uint8Array) | null;
  private encoder: MessageEncoder | null;

  /** Opcode of the outgoing fragmented message in progress, or -1. */
  private sendingOpcode = -1;
  private sendingEncoded = false;
  /** Frames waiting for the encoder, in order. Empty almost always: then sends go straight out. */
  private pending: PendingFrame[] = NO_PENDING;
  private pendingBytes = 0;
  private encoding = false;

  constructor(options: ConnectionOptions, handler: ConnectionHandler) {
    this.role = options.role;
    this.handler = handler;
    this.autoPong = options.autoPong !== false;
    this.maskKey = options.role === 'client' ? (options.maskKey ?? defaultMaskKey) : null;
    this.encoder = options.encoder ?? null;
    this.closing = new CloseHandshake(options.role);
    this.receiver = new Receiver(
      {
        role: options.role,
        maxPayload: options.maxPayload ?? DEFAULT_MAX_PAYLOAD,
        ...(options.maxFragments !== undefined && { maxFragments: options.maxFragments }),
        ...(options.skipUtf8Validation !== undefined && { skipUtf8Validation: options.skipUtf8Validation }),
        ...(options.keepFragments !== undefined && { keepFragments: options.keepFragments }),
        decoder: options.decoder ?? null,
      },
      this,
    );
  }

  /** Install the negotiated extension (before the first frame either way). */
  setExtension(decoder: MessageDecoder | null, encoder: MessageEncoder | null): void {
    this.receiver.setDecoder(decoder);
    this.encoder = encoder;
  }

  /** Deliver multi-frame messages as lists of pieces (or, when false, joined). */
  setKeepFragments(keep: boolean): void {
    this.receiver.setKeepFragments(keep);
  }

  /** The state of the closing handshake: OPEN, CLOSING or CLOSED. */
  get readyState(): ReadyState {
    return this.closing.readyState;
  }

  /** Bytes of outgoing messages held back while the extension works on earlier ones. */
  get queuedBytes(): number {
    return this.pendingBytes;
  }

  /** The receiver is paused on the extension: the I/O layer may stop reading. */
  get receivePaused(): boolean {
    return this.receiver.isPaused;
  }

  /**
   * Whether bytes already received still wait on the extension (a message being decompressed, and
   * whatever arrived behind it). An I/O layer whose transport ends meanwhile must not call
   * `transportClosed` yet: the messages and the close frame in those bytes are the peer's, delivered
   * in order once the extension is done (`onReceiveResumed`, `onCloseFrame` or `onProtocolError` follow).
   */
  get receivePending(): boolean {
    return this.receiver.isPaused && !this.receiver.isFinished;
  }

  /** Bytes received while paused and not parsed yet. */
  get receiveBufferedBytes(): number {
    return this.receiver.bufferedBytes;
  }

  /** Whether our close frame was written. */
  get closeSent(): boolean {
    return this.closing.closeSent;
  }

  /** Whether the peer's close frame arrived. */
  get closeReceived(): boolean {
    return this.closing.closeReceived;
  }

  /** A client that completed the closing handshake and waits for the server to close TCP. */
  get awaitingPeerClose(): boolean {
    return this.closing.awaitingPeerClose;
  }

  // --- input ---------------------------------------------------------------------------------------

  /** Bytes from the transport. The chunk becomes ours (it is unmasked in place). */
  receive(chunk: Buffer): void {
    if (!this.closing.canReceive) return;
    this.receiver.push(chunk);
  }

  /**
   * The transport is closed (by us after `closeTransport`, by the peer, or lost). Returns how the
   * connection ended: 1006 and not clean unless the closing handshake completed.
   */
  transportClosed(): CloseResult {
    this.receiver.stop();
    this.dropPending('The connection closed before the message was sent');
    return this.closing.closeTransport();
  }

  /**
   * For the message just sent: call `callback` once its frame has been handed to the transport
   * (`write`), or with an error if it is dropped unsent (the connection failed or closed first).
   * Returns false, without keeping the callback, when the frame was written already (no extension
   * queue in front of it): the caller can then treat the current write as the message's.
   */
  whenWritten(callback: WrittenCallback): boolean {
    const last = this.pending[this.pending.length - 1];
    if (last === undefined || last.close) return false;
    last.written = callback;
    return true;
  }

  /** Forget the queued frames, telling those who wait for them. */
  private dropPending(reason: string): void {
    const pending = this.pending;
    this.pending = NO_PENDING;
    this.pendingBytes = 0;
    let error: Error | null = null;
    for (const frame of pending) if (frame.written !== undefined) frame.written((error ??= new Error(reason)));
  }

  // --- output --------------------------------------------------------------------------------------

  /** Send text (a string, or bytes the caller guarantees are UTF-8). */
  sendText(data: string | Uint8Array, options?: SendOptions): void {
    this.sendData(Opcode.Text, data, options);
  }

  /** Send binary data. */
  sendBinary(data: Uint8Array, options?: SendOptions): void {
    this.sendData(Opcode.Binary, data, options);
  }

  /**
   * Send a whole message already serialized as one unmasked frame (`chunks` in order, e.g. what
   * `serializeFrame` writes): servers broadcasting frame the message once and hand the same bytes to
   * every connection. Keeps the order with messages still queued behind the extension. Server role only
   * (client frames are masked, each with its own key).
   */
  sendSerialized(chunks: readonly Buffer[]): void {
    this.checkSerializedSend();
    if (this.pending.length === 0) {
      for (let i = 0; i < chunks.length; i++) this.handler.write(chunks[i]!);
      return;
    }
    let size = 0;
    for (const chunk of chunks) size += chunk.length;
    this.enqueue({ opcode: Opcode.Binary, payload: EMPTY_BUFFER, fin: true, encoded: null, encode: false, done: true, close: false, serialized: chunks, size });
  }

  /**
   * Send a frame shared with other connections that may not be made yet (see `SharedFrame`): it takes
   * its place in this connection's send order now and is written once settled. If it fails, the
   * connection fails with 1011, as when its own extension cannot encode a message. Server role only.
   */
  sendShared(frame: SharedFrame): void {
    if (frame.chunks !== null) {
      this.sendSerialized(frame.chunks);
      return;
    }
    this.checkSerializedSend();
    this.enqueue({ opcode: Opcode.Binary, payload: EMPTY_BUFFER, fin: true, encoded: null, encode: false, done: false, close: false, shared: frame, size: frame.size });
    if (!frame.settled) frame.wait(this);
  }

  /** A shared frame this connection waits for is settled: write it and what queued behind it. */
  sharedFrameSettled(): void {
    this.pump();
  }

  private checkSerializedSend(): void {
    if (this.maskKey !== null) throw new Error('Only a server sends pre-serialized frames: client frames are masked');
    if (!this.closing.canSendData) {
      throw new Error(`Cannot send a message: the connection is ${this.closing.closeSent ? 'closing' : 'closed by the peer'}`);
    }
    if (this.sendingOpcode !== -1) throw new Error('Cannot interleave a message with a fragmented message in progress');
  }

  /** Whether a fragmented message we send is in progress (its next frame must be a continuation). */
  get sendingFragmented(): boolean {
    return this.sendingOpcode !== -1;
  }

  /** Whether data frames may still be sent (no close frame sent or received). */
  get canSend(): boolean {
    return this.closing.canSendData;
  }

  private sendData(kind: number, data: string | Uint8Array, options: SendOptions | undefined): void {
    if (!this.closing.canSendData) {
      throw new Error(`Cannot send a message: the connection is ${this.closing.closeSent ? 'closing' : 'closed by the peer'}`);
    }
    const fin = options?.fin !== false;
    let opcode: number = kind;
    let encode = options?.compress === true && this.encoder !== null;
    if (this.sendingOpcode !== -1) {
      // RFC 6455 §5.4: a fragmented message continues with continuation frames of the same kind.
      if (this.sendingOpcode !== kind) {
        throw new Error('Cannot interleave a message of another type with a fragmented message in progress');
      }
      opcode = Opcode.Continuation;
      encode = this.sendingEncoded;
    } else {
      this.sendingEncoded = encode;
    }
    this.sendingOpcode = fin ? -1 : kind;

    if (!encode && this.pending.length === 0) {
      const mask = this.maskKey === null ? null : this.maskKey();
      if (typeof data === 'string') serializeTextFrame(this.handler, data, fin, 0, mask, opcode);
      else serializeFrame(this.handler, opcode, data, fin, 0, mask);
      return;
    }
    const payload = typeof data === 'string' ? Buffer.from(data, 'utf8') : toBuffer(data);
    this.enqueue({ opcode, payload, fin, encoded: null, encode, done: !encode, close: false });
  }

  /** Send a ping (RFC 6455 §5.5.2) with at most 125 bytes of `data`. */
  ping(data: Uint8Array = EMPTY_BUFFER): void {
    this.sendControl(Opcode.Ping, data);
  }

  /** Send an unsolicited pong (RFC 6455 §5.5.3) with at most 125 bytes of `data`. */
  pong(data: Uint8Array = EMPTY_BUFFER): void {
    this.sendControl(Opcode.Pong, data);
  }

  private sendControl(opcode: number, data: Uint8Array): void {
    checkControlPayload(data, opcode === Opcode.Ping ? 'Ping' : 'Pong');
    if (this.closing.closeSent) {
      throw new Error(`Cannot send a ${opcode === Opcode.Ping ? 'ping' : 'pong'}: a close frame was sent`);
    }
    // Control frames may be sent in the middle of a fragmented message (RFC 6455 §5.4), and they do
    // not wait for messages held by the extension.
    serializeFrame(this.handler, opcode, data, true, 0, this.maskKey === null ? null : this.maskKey());
  }

  /**
   * Start the closing handshake (RFC 6455 §7.1.2) with an optional code and reason (validated:
   * `RangeError` for a code that may not be sent or a reason over 123 bytes). Messages accepted
   * before are sent first. Does nothing if a close frame was already sent.
   */
  close(code?: number, reason?: string | Uint8Array): void {
    const payload = encodeClosePayload(code, reason);
    if (!this.closing.closeSent) this.sendDeferredPong();
    if (!this.closing.sendClose()) return;
    this.sendingOpcode = -1;
    if (this.pending.length === 0) this.writeClose(payload);
    else this.enqueue({ opcode: Opcode.Close, payload, fin: true, encoded: null, encode: false, done: true, close: true });
  }

  /**
   * Fail the connection (RFC 6455 §7.1.7) for a reason of the layer above (a policy violation, a slow
   * consumer, an internal error): a close frame with `code`, then the transport is closed at once.
   */
  fail(code: number, reason = ''): void {
    this.failWith(code, reason, null);
  }

  private failWith(code: number, reason: string, error: ProtocolError | null): void {
    let payload: Buffer;
    try {
      payload = encodeClosePayload(code, truncateReason(reason));
    } catch {
      code = CloseCode.InternalError;
      payload = encodeClosePayload(code);
    }
    if (this.closing.fail(code, payload.subarray(2))) {
      this.dropPending('The connection failed before the message was sent');
      serializeFrame(this.handler, Opcode.Close, payload, true, 0, this.maskKey === null ? null : this.maskKey());
    }
    this.receiver.stop();
    if (error !== null) this.handler.onProtocolError(error);
    this.handler.closeTransport();
  }

  private writeClose(payload: Buffer): void {
    serializeFrame(this.handler, Opcode.Close, payload, true, 0, this.maskKey === null ? null : this.maskKey());
    if (this.closing.shouldCloseTransport) this.handler.closeTransport();
  }

  // --- the extension's send queue ------------------------------------------------------------------

  private enqueue(frame: PendingFrame): void {
    if (this.pending === NO_PENDING) this.pending = [];
    this.pending.push(frame);
    this.pendingBytes += frame.size ?? frame.payload.length;
    this.pump();
  }

  /** Write out every finished frame at the head of the queue; start the encoder on the next one. */
  private pump(): void {
    const pending = this.pending;
    while (pending.length > 0) {
      const head = pending[0]!;
      if (!head.done) {
        if (head.shared !== undefined) {
          if (!this.takeShared(head, head.shared)) return; // not made yet: sharedFrameSettled() comes back
        } else {
          if (!this.encoding) this.startEncoding(head);
          if (!head.done) return; // the encoder works asynchronously: wait for it
        }
      }
      pending.shift();
      this.pendingBytes -= head.size ?? head.payload.length;
      if (head.close) {
        this.writeClose(head.payload);
        continue;
      }
      if (head.serialized !== undefined) {
        for (const chunk of head.serialized) this.handler.write(chunk);
        head.written?.(null);
        continue;
      }
      const mask = this.maskKey === null ? null : this.maskKey();
      if (head.encoded === null) {
        serializeFrame(this.handler, head.opcode, head.payload, head.fin, 0, mask);
      } else {
        const rsv = head.opcode === Opcode.Continuation ? 0 : this.encoder!.rsv;
        const data = head.encoded.length === 1 ? head.encoded[0]! : Buffer.concat(head.encoded);
        serializeFrame(this.handler, head.opcode, data, head.fin, rsv, mask);
      }
      head.written?.(null);
    }
  }

  /** Whether the shared frame at the head of the queue can be written now (false: wait, or failed). */
  private takeShared(head: PendingFrame, frame: SharedFrame): boolean {
    if (frame.error !== null) {
      this.failWith(CloseCode.InternalError, 'Extension failed to encode a message', null);
      return false;
    }
    if (frame.chunks === null) return false;
    head.serialized = frame.chunks;
    head.done = true;
    return true;
  }

  private startEncoding(frame: PendingFrame): void {
    this.encoding = true;
    this.encoder!.encode([frame.payload], frame.fin, (error, output) => {
      this.encoding = false;
      if (this.pending[0] !== frame) return; // the queue was dropped (connection failed or closed)
      if (error !== null) {
        this.failWith(CloseCode.InternalError, 'Extension failed to encode a message', null);
        return;
      }
      frame.encoded = output ?? [];
      frame.done = true;
      this.pump();
    });
  }

  // --- ReceiverHandler -----------------------------------------------------------------------------

  /** @internal The receiver's callback (ReceiverHandler). */
  onMessage(data: Buffer | Buffer[], isBinary: boolean): void {
    this.handler.onMessage(data, isBinary);
  }

  /** @internal The receiver's callback (ReceiverHandler). */
  onPing(data: Buffer): void {
    // RFC 6455 §5.5.2: answer with a pong carrying the same data, unless we are closing. While the
    // transport is backed up, keep only the latest ping's answer (§5.5.3): a ping flood from a peer
    // that does not read costs one pending pong, not one per ping.
    if (this.autoPong && !this.closing.closeSent) {
      if (this.handler.isWriteBlocked?.() === true) {
        // `data` may be a view of the parser's reused control buffer: keep a copy.
        if (this.deferredPong !== null) this.coalescedPongs++;
        this.deferredPong = Buffer.from(data);
      } else {
        this.deferredPong = null;
        this.pong(data);
      }
    }
    this.handler.onPing(data);
  }

  /** The transport can take writes again: send the pong held back while it was blocked, if any. */
  writable(): void {
    this.sendDeferredPong();
  }

  /** Send the held pong now (before a close frame: the latest ping must still be answered). */
  private sendDeferredPong(): void {
    const pong = this.deferredPong;
    if (pong === null) return;
    this.deferredPong = null;
    if (!this.closing.closeSent) this.pong(pong);
  }

  /** Automatic pongs dropped in favour of a later one (see `isWriteBlocked`). */
  get pongsCoalesced(): number {
    return this.coalescedPongs;
  }

  /** @internal The receiver's callback (ReceiverHandler). */
  onPong(data: Buffer): void {
    this.handler.onPong(data);
  }

  /** @internal The receiver's callback (ReceiverHandler). */
  onResumed(): void {
    this.handler.onReceiveResumed?.();
  }

  /** @internal The receiver's callback (ReceiverHandler). */
  onClose(code: number, reason: Buffer): void {
    this.sendDeferredPong(); // the latest ping is answered before our close frame (RFC 6455 §5.5.3)
    if (this.closing.receiveClose(code, reason)) {
      // RFC 6455 §5.5.1: echo the status code (a close frame without one is answered without one),
      // after any message we had already accepted but not yet written.
      this.sendingOpcode = -1;
      const payload = code === CloseCode.NoStatusReceived ? EMPTY_BUFFER : encodeClosePayload(code);
      if (this.pending.length === 0) {
        serializeFrame(this.handler, Opcode.Close, payload, true, 0, this.maskKey === null ? null : this.maskKey());
      } else {
        this.enqueue({ opcode: Opcode.Close, payload, fin: true, encoded: null, encode: false, done: true, close: true });
      }
    }
    this.handler.onCloseFrame(code, reason);
    if (this.pending.length === 0 && this.closing.shouldCloseTransport) this.handler.closeTransport();
  }

  /** @internal The receiver's callback (ReceiverHandler). */
  onError(error: ProtocolError): void {
    this.failWith(error.closeCode, error.message, error);
  }
}

function toBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length);
}

/** Cut a reason to at most 123 UTF-8 bytes without splitting a character. */
function truncateReason(reason: string): Buffer {
  const bytes = Buffer.from(reason, 'utf8');
  if (bytes.length <= 123) return bytes;
  let end = 123;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}
