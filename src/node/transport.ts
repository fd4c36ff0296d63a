/**
 * The I/O half of a connection: a socket, a protocol `Connection`, and what lies between them.
 *
 *  - Reading: the socket's `data` chunks go straight into the parser (no stream layer in between).
 *  - Writing: frames are collected during a tick and written once on the next one: small frames are
 *    joined into one buffer, large ones go out together through cork/uncork (one `writev`). Send
 *    callbacks share one completion per flush, not one closure per message.
 *  - Closing: the timers RFC 6455 §7 leaves to the implementation (waiting for the peer's close frame
 *    or for the server to close TCP), bounded by `closeTimeout`.
 *  - Nothing received is lost at the end: when the socket ends or closes while messages are still
 *    being decompressed (with the close frame often in the same read, behind them), the connection is
 *    declared closed only after they and that close frame have been processed, in order.
 */
import type { Duplex } from 'node:stream';
import { Connection, type ConnectionHandler, type ConnectionOptions } from '../protocol/connection.js';
import type { CloseResult } from '../protocol/close-handshake.js';
import type { ProtocolError } from '../protocol/errors.js';
import type { HeartbeatTarget } from './heartbeat.js';
import { DeadlineEntry, DeadlineList } from './standalone-deadlines.js';

/** What the transport reports to the `WebSocket` that owns it. */
export interface TransportOwner {
  onMessage(data: Buffer | Buffer[], isBinary: boolean): void;
  onPing(data: Buffer): void;
  onPong(data: Buffer): void;
  onCloseFrame(code: number, reason: Buffer): void;
  onProtocolError(error: ProtocolError): void;
  /** The socket is closed; called exactly once. */
  onClosed(result: CloseResult): void;
  /** The buffered amount fell back under the low-water mark after a send reported backpressure. */
  onDrain(): void;
}

export type SendCallback = (error?: Error | null) => void;

export interface TransportOptions extends ConnectionOptions {
  /** How long to wait for the peer's close frame, or for the server to close TCP, before destroying. */
  readonly closeTimeout: number;
  /** Above this many buffered bytes, `send` reports backpressure (returns false). */
  readonly highWaterMark: number;
}

/** While decompressing, stop reading from the socket when this much is queued behind it. */
const RECEIVE_QUEUE_LIMIT = 1024 * 1024;

/** Frames totalling at most this many bytes are joined into one buffer when flushed. */
const COALESCE_LIMIT = 16 * 1024;

/**
 * Transports with frames collected this tick, flushed together by one `nextTick` callback (a broadcast
 * to 1,000 connections schedules one callback, not 1,000).
 */
const flushQueue: Array<Transport | undefined> = [];
/** How many entries of `flushQueue` are in use: the array keeps its backing store between ticks. */
let flushCount = 0;
let flushQueued = false;

function scheduleFlush(transport: Transport): void {
  // Not `push` and `length = 0`: emptying an array by its length gives its storage back, and the next
  // push allocates it again (a few hundred bytes per connection in a handshake storm).
  flushQueue[flushCount++] = transport;
  if (!flushQueued) {
    flushQueued = true;
    process.nextTick(flushAll);
  }
}

function flushAll(): void {
  // A transport queued while this runs (a write from a callback) is flushed in the same pass.
  let i = 0;
  try {
    for (; i < flushCount; i++) {
      const transport = flushQueue[i]!;
      flushQueue[i] = undefined;
      if (transport.flushScheduled) transport.flush();
    }
  } finally {
    if (i >= flushCount) {
      flushCount = 0;
      flushQueued = false;
    } else {
      // Something threw: the others still get their turn, on the next tick.
      flushQueue.copyWithin(0, i + 1, flushCount);
      flushQueue.fill(undefined, flushCount - i - 1, flushCount);
      flushCount -= i + 1;
      process.nextTick(flushAll);
    }
  }
}

function onCloseTimeout(transport: Transport): void {
  transport.destroy();
}

/** The longest delay `setTimeout` takes as given (a longer one fires after 1 ms, with a warning). */
const MAX_TIMER_DELAY = 2 ** 31 - 1;

/**
 * The close timers: one deadline list per `closeTimeout` value in use (usually just the default), one
 * unref'd timer each, instead of a `setTimeout` and a `clearTimeout` per closing connection (a
 * `Timeout` object and a timer-list insertion every time: in a handshake storm every connection closes).
 */
const closeDeadlines = new Map<number, DeadlineList<Transport>>();

function closeDeadlinesFor(delay: number): DeadlineList<Transport> | null {
  // A delay setTimeout would not take as given keeps the timer of its own it always had.
  if (!(delay >= 0 && delay <= MAX_TIMER_DELAY)) return null;
  let list = closeDeadlines.get(delay);
  if (list === undefined) {
    list = new DeadlineList(delay, onCloseTimeout);
    closeDeadlines.set(delay, list);
  }
  return list;
}

export class Transport extends DeadlineEntry implements ConnectionHandler, HeartbeatTarget {
  readonly socket: Duplex;
  readonly connection: Connection;
  private readonly owner: TransportOwner;
  private readonly closeTimeout: number;
  private readonly highWaterMark: number;

  /** Frames collected this tick (null until the first one: idle connections hold no array). */
  private out: Buffer[] | null = null;
  private outBytes = 0;
  private callbacks: SendCallback[] | null = null;
  /** Bytes that `destroy()` dropped unsent (0 otherwise). */
  unsentBytes = 0;
  /** @internal In the flush queue for this tick. */
  flushScheduled = false;

  /** The close timer when `closeTimeout` is not one for the shared lists (`closeDeadlinesFor`). */
  private closeTimer: NodeJS.Timeout | null = null;
  /** The shared close deadlines this transport joined (see `closeDeadlinesFor`), once it has. */
  private closeDeadlines: DeadlineList<Transport> | null = null;
  private pausedForDecoder = false;
  private pausedByUser = false;
  private ending = false;
  private closed = false;
  /** The peer sent its FIN while received bytes still waited on the extension: answer it once they are done. */
  private peerEnded = false;
  /**
   * The socket is closed, but received bytes still wait on the extension: the connection is reported
   * closed once they are processed (see `settle`). Nothing can be written any more.
   */
  private socketGone = false;
  private needDrain = false;

  /** Set on every chunk received; the heartbeat reads and clears it. */
  active = true;
  /** When the heartbeat's last unanswered ping went out (0: none). */
  pingSentAt = 0;
  lastActivity = 0;

  constructor(socket: Duplex, options: TransportOptions, owner: TransportOwner) {
    super();
    this.socket = socket;
    this.owner = owner;
    this.closeTimeout = options.closeTimeout;
    this.highWaterMark = options.highWaterMark;
    this.connection = new Connection(options, this);
  }

  /** Start reading, after the owner has announced the connection (so no event precedes `open`). */
  start(head: Buffer): void {
    const socket = this.socket;
    // Shared listeners that find the transport on the socket: no closures per connection.
    (socket as OwnedSocket)[kTransport] = this;
    socket.on('data', onSocketData);
    socket.on('end', onSocketEnd);
    socket.on('close', onSocketClose);
    socket.on('error', ignoreSocketError);
    socket.on('drain', onSocketDrain);
    if (head.length > 0) this.onData(head);
    if (socket.destroyed) this.onSocketClose();
  }

  // --- reading -------------------------------------------------------------------------------------

  /** @internal A chunk from the socket. */
  onData(chunk: Buffer): void {
    this.active = true;
    const connection = this.connection;
    connection.receive(chunk);
    // Waiting on the extension (decompression): stop reading once a lot is queued behind it.
    if (connection.receivePaused && !this.pausedForDecoder && connection.receiveBufferedBytes > RECEIVE_QUEUE_LIMIT) {
      this.pausedForDecoder = true;
      this.socket.pause();
    }
  }

  /** `ConnectionHandler.onReceiveResumed`: the parser caught up; read again unless the user paused. */
  onReceiveResumed(): void {
    if (this.peerEnded || this.socketGone) {
      this.settle();
      return;
    }
    if (!this.pausedForDecoder) return;
    this.pausedForDecoder = false;
    if (!this.pausedByUser) this.socket.resume();
  }

  /** The user's `pause()` / `resume()`. */
  setPausedByUser(paused: boolean): void {
    this.pausedByUser = paused;
    if (paused) this.socket.pause();
    else if (!this.pausedForDecoder) this.socket.resume();
  }

  /** @internal */
  onEnd(): void {
    // The peer closed its side. Messages it sent before may still be decompressing, and our answers to
    // them (and to its close frame) are still to be written: our FIN waits for them (`settle`).
    if (this.connection.receivePending) {
      this.peerEnded = true;
      return;
    }
    this.endAfterPeer();
  }

  /** Answer the peer's FIN with ours (sockets here do not stay half-open). */
  private endAfterPeer(): void {
    this.peerEnded = false;
    // Not if ours went first: a second end() builds an ERR_STREAM_ALREADY_FINISHED error, stack and all.
    if (this.ending || this.socket.writableEnded) return;
    this.flush();
    this.socket.end();
  }

  /**
   * Received bytes no longer wait on the extension (or the connection failed or closed): finish what the
   * end of the socket started while they did.
   */
  private settle(): void {
    if (this.closed || this.connection.receivePending) return;
    if (this.socketGone) this.finishClose();
    else if (this.peerEnded) this.endAfterPeer();
  }

  /** @internal */
  onSocketClose(): void {
    if (this.closed || this.socketGone) return;
    this.socketGone = true;
    this.clearCloseTimer();
    // Bytes the socket read but did not hand over (it was paused, by the user or for the decoder) are
    // still the peer's: parse them too, as the last chunk.
    const socket = this.socket;
    socket.removeListener('data', onSocketData);
    if (socket.readableLength > 0) {
      let chunk: Buffer | null;
      while ((chunk = socket.read() as Buffer | null) !== null) this.connection.receive(chunk);
    }
    this.settle();
  }

  /** The socket is gone and everything received was processed: report how the connection ended. */
  private finishClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.clearCloseTimer();
    if (this.callbacks !== null) this.failCallbacks(new Error('The WebSocket connection closed before the data was sent'));
    this.out = null;
    this.outBytes = 0;
    const result = this.connection.transportClosed();
    this.owner.onClosed(result);
  }

  // --- writing -------------------------------------------------------------------------------------

  /** `ConnectionHandler.write`: a chunk of a frame, written on the next tick with the rest. */
  write(chunk: Buffer): void {
    if (this.closed || this.ending || this.socketGone) return;
    (this.out ??= []).push(chunk);
    this.outBytes += chunk.length;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      scheduleFlush(this);
    }
  }

  /** The chunks written so far complete a message whose sender wants to know when it left. */
  addCallback(callback: SendCallback): void {
    if (this.closed || this.socketGone) {
      process.nextTick(callback, new Error('The WebSocket connection is closed'));
      return;
    }
    (this.callbacks ??= []).push(callback);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      scheduleFlush(this);
    }
  }

  /** Write out everything collected: one buffer, or one corked batch (a single `writev`). */
  flush(): void {
    this.flushScheduled = false;
    const out = this.out;
    const count = out === null ? 0 : out.length;
    const callbacks = this.callbacks;
    this.callbacks = null;
    if (this.closed || this.socketGone) {
      if (callbacks !== null) failAll(callbacks, new Error('The WebSocket connection is closed'));
      return;
    }
    const done = callbacks === null ? undefined : completion(callbacks);
    if (out === null || count === 0) {
      if (done !== undefined) this.socket.write(EMPTY, done);
      return;
    }
    const bytes = this.outBytes;
    this.out = null;
    this.outBytes = 0;
    const socket = this.socket;
    if (count === 1) {
      socket.write(out[0]!, done);
    } else if (bytes <= COALESCE_LIMIT) {
      const joined = Buffer.allocUnsafe(bytes);
      let offset = 0;
      for (let i = 0; i < count; i++) {
        const chunk = out[i]!;
        chunk.copy(joined, offset);
        offset += chunk.length;
      }
      socket.write(joined, done);
    } else {
      socket.cork();
      for (let i = 0; i < count - 1; i++) socket.write(out[i]!);
      socket.write(out[count - 1]!, done);
      socket.uncork();
    }
    if (this.needDrain && !socket.writableNeedDrain) this.checkDrain();
  }

  /** Bytes accepted for sending and not yet handed to the kernel. */
  get bufferedAmount(): number {
    return this.outBytes + this.socket.writableLength + this.connection.queuedBytes;
  }

  /** Whether the caller should wait for `drain` before sending more. Arms the `drain` notification. */
  checkBackpressure(): boolean {
    if (this.bufferedAmount <= this.highWaterMark) return false;
    this.needDrain = true;
    return true;
  }

  /** `ConnectionHandler.isWriteBlocked`: the socket's buffer is over its high-water mark. */
  isWriteBlocked(): boolean {
    return this.socket.writableNeedDrain;
  }

  /** @internal */
  onSocketDrain(): void {
    this.connection.writable();
    if (this.needDrain) this.checkDrain();
  }

  private checkDrain(): void {
    if (this.bufferedAmount > this.highWaterMark / 2) {
      // The socket emits 'drain' only if its own buffer passed its high-water mark, which may be
      // above ours: then ask to be told when what is queued now has been written. If the socket holds
      // nothing, the backlog is ours (the next flush, or messages being compressed): `flush()` checks
      // again when they are written. (A probe then would complete at once and spin.)
      const socket = this.socket;
      if (socket.writableLength > 0 && socket.writable && !socket.writableNeedDrain && !this.drainProbe && !this.ending) {
        this.drainProbe = true;
        socket.write(EMPTY, () => this.onDrainProbe());
      }
      return;
    }
    this.needDrain = false;
    this.owner.onDrain();
  }

  private drainProbe = false;
  private onDrainProbe(): void {
    this.drainProbe = false;
    if (this.needDrain && !this.closed) this.checkDrain();
  }

  // --- closing -------------------------------------------------------------------------------------

  /** `ConnectionHandler.closeTransport`: flush, send FIN, and destroy if the peer does not follow. */
  closeTransport(): void {
    if (this.socketGone) {
      this.settle();
      return;
    }
    if (this.ending || this.closed) return;
    this.flush();
    this.ending = true;
    const socket = this.socket;
    socket.end();
    // A server's stream after the closing handshake: the peer has nothing left to send (its close
    // frame came), so once our END_STREAM is out, RST_STREAM NO_ERROR asks it to stop (RFC 9113 §8.1:
    // a server may, after a complete response) rather than waiting `closeTimeout` for a client that
    // never half-closes (undici). The timer still covers an END_STREAM held up by flow control.
    const connection = this.connection;
    if (connection.role === 'server' && connection.closeReceived && connection.closeSent && isHttp2Stream(socket)) socket.once('finish', stopPeerSending);
    this.armCloseTimer();
  }

  /** Wait for the peer (its close frame, or the server's TCP close), then give up. */
  armCloseTimer(): void {
    if (this.deadline !== -1 || this.closeTimer !== null || this.closed || this.socketGone) return;
    const deadlines = closeDeadlinesFor(this.closeTimeout);
    if (deadlines !== null) {
      deadlines.add(this);
      this.closeDeadlines = deadlines;
      return;
    }
    this.closeTimer = setTimeout(onCloseTimeout, this.closeTimeout, this);
    this.closeTimer.unref?.();
  }

  private clearCloseTimer(): void {
    if (this.deadline !== -1) this.closeDeadlines!.remove(this);
    if (this.closeTimer !== null) {
      clearTimeout(this.closeTimer);
      this.closeTimer = null;
    }
  }

  /** Close the socket at once, dropping anything not yet written. */
  destroy(): void {
    if (this.closed) return;
    this.unsentBytes = this.bufferedAmount; // what is dropped (reported by a reconnecting client)
    this.out = null;
    this.outBytes = 0;
    if (this.socketGone) this.finishClose(); // what still waited on the extension is given up
    else abortSocket(this.socket);
  }

  /** Heartbeat: the peer has been silent for a while; ask it to answer. */
  heartbeatPing(): void {
    if (!this.closed && !this.connection.closeSent) this.connection.ping();
  }

  /** Heartbeat: the peer did not answer in time; it is gone. */
  heartbeatTimeout(): void {
    this.destroy();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private failCallbacks(error: Error): void {
    const callbacks = this.callbacks;
    this.callbacks = null;
    if (callbacks !== null) failAll(callbacks, error);
  }

  // --- ConnectionHandler: protocol events go to the owner --------------------------------------------

  onMessage(data: Buffer | Buffer[], isBinary: boolean): void {
    this.owner.onMessage(data, isBinary);
  }

  onPing(data: Buffer): void {
    this.owner.onPing(data);
  }

  onPong(data: Buffer): void {
    this.owner.onPong(data);
  }

  onCloseFrame(code: number, reason: Buffer): void {
    if (this.connection.awaitingPeerClose) {
      // RFC 8441 §5: over an HTTP/2 stream the closing handshake ends with each side half-closing the
      // stream (END_STREAM); RFC 6455's "the server closes TCP first" (§7.1.1) is about TIME_WAIT,
      // which streams do not have, so the client ends its half now instead of waiting for the server.
      if (isHttp2Stream(this.socket)) this.closeTransport();
      else this.armCloseTimer();
    }
    this.owner.onCloseFrame(code, reason);
    // RFC 6455 §7.1.1: EOF after a complete close frame ends the connection cleanly.
    if (this.socketGone) this.settle();
    // The peer's FIN came with its close frame. A server answers once its own close frame is written
    // (`closeTransport`); a client, whose server has closed already, answers now.
    else if (this.peerEnded && (this.connection.queuedBytes === 0 || this.connection.role === 'client')) this.endAfterPeer();
  }

  onProtocolError(error: ProtocolError): void {
    this.owner.onProtocolError(error);
  }
}

const EMPTY = Buffer.alloc(0);

/** RFC 9113 §7: RST_STREAM's code for "the stream is no longer needed". */
const NGHTTP2_CANCEL = 0x8;
/** RFC 9113 §7: RST_STREAM's code for "no error" (stop sending, all is well). */
const NGHTTP2_NO_ERROR = 0x0;

/**
 * Drop the connection at once. An HTTP/2 stream (RFC 8441) is reset with RST_STREAM CANCEL, which is
 * what a TCP reset becomes over HTTP/2 (RFC 8441 §5); its `close` follows as a socket's does.
 */
function abortSocket(socket: Duplex): void {
  if (isHttp2Stream(socket) && socket.closed === false) socket.close(NGHTTP2_CANCEL);
  else socket.destroy();
}

/** RFC 9113 §8.1: our response (the WebSocket) is complete; the client may stop sending, without error. */
function stopPeerSending(this: Duplex): void {
  const stream = this as Duplex & { close(code: number): void; closed: boolean };
  if (!stream.closed && !stream.destroyed) stream.close(NGHTTP2_NO_ERROR);
}

/** Whether the transport runs over an HTTP/2 stream (`Http2Stream`) rather than a socket. */
function isHttp2Stream(socket: Duplex): socket is Duplex & { close(code: number): void; closed: boolean } {
  return 'rstCode' in socket && typeof (socket as { close?: unknown }).close === 'function';
}

function completion(callbacks: SendCallback[]): SendCallback {
  return (error) => {
    for (let i = 0; i < callbacks.length; i++) callbacks[i]!(error ?? null);
  };
}

function failAll(callbacks: SendCallback[], error: Error): void {
  for (const callback of callbacks) process.nextTick(callback, error);
}

// --- socket listeners, shared by every connection ---------------------------------------------------

const kTransport = Symbol('fullduplex.transport');
type OwnedSocket = Duplex & { [kTransport]: Transport };

function onSocketData(this: Duplex, chunk: Buffer): void {
  (this as OwnedSocket)[kTransport].onData(chunk);
}

function onSocketEnd(this: Duplex): void {
  (this as OwnedSocket)[kTransport].onEnd();
}

function onSocketClose(this: Duplex): void {
  (this as OwnedSocket)[kTransport].onSocketClose();
}

function onSocketDrain(this: Duplex): void {
  (this as OwnedSocket)[kTransport].onSocketDrain();
}

/** ECONNRESET, EPIPE, TLS errors...: the connection is lost; `close` reports 1006. Nothing to rethrow. */
function ignoreSocketError(): void {}
