/**
 * The fuzzing peer: our own end of a conformance case's connection, able to send anything (broken
 * frames, chopped writes, invalid close codes) and strict about what it receives. It plays the client
 * when a server is tested and the server when a client is tested, and keeps the record a verdict
 * needs: who closed first, who dropped TCP, whether the close was clean, the peer's close code, frame
 * statistics and a wire log. Its behaviour follows the Autobahn|Testsuite's protocol: pings are
 * answered, a close frame is echoed with its code, a peer's protocol violation fails the connection
 * with a close frame (1002 / 1007) and a bounded wait, and timers (`killAfter`, `closeAfter`,
 * `continueLater`) drive the cases.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { FrameParser, type FrameSink } from '../protocol/frame-parser.js';
import { ProtocolError } from '../protocol/errors.js';
import { isValidCloseCode } from '../protocol/close-codes.js';
import { isValidUtf8 } from '../protocol/utf8.js';
import { MaskKeyPool, writeFrameHeader, frameHeaderSize } from '../protocol/frame-serializer.js';
import { xorMask } from '../protocol/mask.js';
import { preview, type WireEntry } from './wire-log.js';

export type PeerRole = 'client' | 'server';

/** A frame to send, with the Autobahn knobs: any opcode, RSV value (0–7), repeated payload, chopping. */
export interface FrameSpec {
  readonly opcode: number;
  readonly payload?: string | Buffer;
  readonly fin?: boolean;
  /** The three reserved bits as a number 0–7 (4 = RSV1, 2 = RSV2, 1 = RSV3). */
  readonly rsv?: number;
  /** Repeat `payload` until it is this long. */
  readonly payloadLen?: number;
  /** Write the frame in TCP writes of at most this many bytes, one per event-loop turn. */
  readonly chopsize?: number;
  /** Write the frame on its own, after everything before it has been handed to the kernel. */
  readonly sync?: boolean;
  /** An explicit masking key (clients mask with a random key by default; servers do not mask). */
  readonly mask?: Buffer | null;
  /**
   * The payload is a whole message: compress it with the negotiated extension and add the
   * extension's reserved bits (sections 12 and 13).
   */
  readonly compress?: boolean;
}

/** What the case sees of the connection. */
export interface PeerEvents {
  onOpen(): void;
  onMessage(payload: Buffer, binary: boolean): void;
  onPong(payload: Buffer): void;
  onConnectionLost(): void;
}

/** Negotiated permessage-deflate on the fuzzing side (sections 12 and 13). */
export interface PeerExtension {
  /** Reserved bits (as a 0–7 value) that mark a compressed message. */
  readonly rsvValue: number;
  /** Decompress a whole received message. Throws to fail the connection with 1007. */
  decompress(payload: Buffer): Buffer;
  /** Compress a whole message to send (the payload of its frames, the reserved bits on the first). */
  compress?(message: Buffer): Buffer;
}

export interface PeerTimeouts {
  /** After sending a close frame, wait this long for the peer's (Autobahn: 1 s). */
  readonly closeHandshake: number;
  /** A client waits this long for the server to close TCP after the closing handshake (Autobahn: 1 s). */
  readonly serverConnectionDrop: number;
}

export const DEFAULT_TIMEOUTS: PeerTimeouts = { closeHandshake: 1000, serverConnectionDrop: 1000 };

/**
 * A wait of ours that ran out and made us act: the case's deadline (`closeAfter`, `killAfter`), the
 * closing handshake or the server's TCP close. A case that ends this way timed out, and its report
 * says so (a slow peer or a loaded machine is not a wrong result).
 */
export interface ExpiredWait {
  readonly wait: 'close-after' | 'kill-after' | 'close-handshake' | 'server-connection-drop';
  /** How long we waited, in seconds (after the time scale). */
  readonly seconds: number;
}

/** Check a time scale: a finite number above 0 (1 = Autobahn's timing). */
export function checkTimeScale(scale: number): number {
  if (typeof scale !== 'number' || !Number.isFinite(scale) || scale <= 0) {
    throw new RangeError(`The time scale must be a finite number above 0 (got ${String(scale)})`);
  }
  return scale;
}

type State = 'open' | 'closing' | 'closed';

export class FuzzPeer implements FrameSink {
  readonly role: PeerRole;
  private readonly socket: Duplex;
  private readonly events: PeerEvents;
  private readonly timeouts: PeerTimeouts;
  private readonly parser: FrameParser;
  private readonly masks = new MaskKeyPool();
  private readonly started = Date.now();
  private readonly timers = new Set<NodeJS.Timeout>();
  /**
   * Multiplies every wait: the case's timers (`closeAfter`, `killAfter`, `continueLater`) and the
   * two `PeerTimeouts`. 1 keeps Autobahn's timing; more gives a slow peer or a loaded machine time.
   */
  readonly timeScale: number;
  /** The waits that ran out and made us act, in order. */
  readonly expired: ExpiredWait[] = [];
  extension: PeerExtension | null = null;

  state: State = 'open';
  closedByMe = false;
  failedByMe = false;
  droppedByMe = false;
  wasClean = false;
  wasCloseHandshakeTimeout = false;
  wasServerConnectionDropTimeout = false;
  closeSent = false;
  closeReceived = false;
  localCloseCode: number | null = null;
  remoteCloseCode: number | null = null;
  remoteCloseReason: string | null = null;
  /** Split outgoing messages into frames of this size (0: whole messages). */
  autoFragmentSize = 0;

  createWirelog = true;
  readonly wirelog: WireEntry[] = [];
  readonly txFrameStats = new Map<number, number>();
  readonly rxFrameStats = new Map<number, number>();
  readonly txOctets = { count: 0, bytes: 0 };
  readonly rxOctets = { count: 0, bytes: 0 };

  // Outgoing writes, in order; sync items wait for the kernel to take everything before them.
  private readonly queue: Array<{ data: Buffer; sync: boolean }> = [];
  private writing = false;

  // The incoming frame and message being assembled.
  private frameOpcode = 0;
  private frameFin = false;
  private frameRsv = 0;
  private frameMasked = false;
  private framePieces: Buffer[] = [];
  private messageOpcode = -1;
  private messageCompressed = false;
  private messagePieces: Buffer[] = [];

  // The streaming API (`beginMessage` ...).
  private streamOpcode = 1;
  private streamFrames = 0;
  private streamMask: Buffer | null = null;
  private streamMaskOffset = 0;

  constructor(socket: Duplex, role: PeerRole, events: PeerEvents, timeouts: PeerTimeouts = DEFAULT_TIMEOUTS, timeScale = 1) {
    this.socket = socket;
    this.role = role;
    this.events = events;
    this.timeouts = timeouts;
    this.timeScale = checkTimeScale(timeScale);
    // We parse what the other end sends: a server's frames when we are the client, and vice versa.
    this.parser = new FrameParser({ role: role === 'client' ? 'client' : 'server' }, this);
    (socket as Socket).setNoDelay?.(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => {});
    socket.on('close', () => this.onSocketClose());
  }

  /** Start the case (after the opening handshake); `head` holds bytes that came with it. */
  start(head: Buffer): void {
    this.events.onOpen();
    if (head.length > 0) this.onData(head);
  }

  /** Allow the reserved bits of a negotiated extension. */
  setExtension(extension: PeerExtension | null): void {
    this.extension = extension;
    this.parser.setAllowedRsv(extension === null ? 0 : extension.rsvValue << 4);
  }

  get elapsed(): number {
    return Date.now() - this.started;
  }

  private log(entry: WireEntry): void {
    if (this.createWirelog) this.wirelog.push(entry);
  }

  note(text: string): void {
    this.log({ at: this.elapsed, kind: 'note', text });
  }

  /** Pause or resume the wire log (the performance cases pause it). */
  enableWirelog(enabled: boolean): void {
    if (enabled === this.createWirelog) return;
    this.wirelog.push({ at: this.elapsed, kind: 'note', text: enabled ? 'wire log resumed' : 'wire log paused' });
    this.createWirelog = enabled;
  }

  // --- sending -------------------------------------------------------------------------------------

  private nextMask(explicit: Buffer | null | undefined): Buffer | null {
    if (explicit !== undefined) return explicit;
    return this.role === 'client' ? Buffer.from(this.masks.next()) : null;
  }

  /** Send one frame exactly as specified (valid or not). */
  sendFrame(spec: FrameSpec): void {
    if (this.state === 'closed') return;
    const base = typeof spec.payload === 'string' ? Buffer.from(spec.payload, 'utf8') : (spec.payload ?? Buffer.alloc(0));
    let payload = spec.payloadLen === undefined ? base : repeat(base, spec.payloadLen);
    const fin = spec.fin ?? true;
    let rsv = (spec.rsv ?? 0) & 7;
    if (spec.compress === true) {
      const compressed = this.compressMessage(payload);
      payload = compressed.payload;
      rsv |= compressed.rsv;
    }
    const mask = this.nextMask(spec.mask);
    const frame = Buffer.allocUnsafe(frameHeaderSize(payload.length, mask !== null) + payload.length);
    const offset = writeFrameHeader(frame, 0, spec.opcode, fin, rsv << 4, payload.length, mask);
    payload.copy(frame, offset);
    if (mask !== null) xorMask(frame, offset, frame.length, mask, 0);
    this.count(this.txFrameStats, spec.opcode);
    this.log({
      at: this.elapsed,
      kind: 'tx-frame',
      opcode: spec.opcode,
      fin,
      rsv,
      masked: mask !== null,
      length: payload.length,
      preview: preview(payload),
      chopsize: spec.chopsize,
      sync: spec.sync === true,
    });
    this.sendData(frame, spec.sync === true, spec.chopsize);
  }

  /**
   * A whole message, split into `autoFragmentSize` frames when set. With a negotiated extension that
   * compresses, the message is compressed (unless `compress` is false) and the compressed octets are
   * split, the extension's reserved bits on the first frame only (as Autobahn sends).
   */
  sendMessage(payload: string | Buffer, binary = false, compress = this.extension?.compress !== undefined): void {
    let data = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
    let rsv = 0;
    if (compress) ({ payload: data, rsv } = this.compressMessage(data));
    const opcode = binary ? 2 : 1;
    const size = this.autoFragmentSize;
    if (size <= 0 || data.length <= size) {
      this.sendFrame({ opcode, payload: data, rsv });
      return;
    }
    for (let start = 0; start < data.length; start += size) {
      const end = Math.min(start + size, data.length);
      this.sendFrame({ opcode: start === 0 ? opcode : 0, payload: data.subarray(start, end), fin: end === data.length, rsv: start === 0 ? rsv : 0 });
    }
  }

  /** Compress a whole message with the negotiated extension: its payload and reserved bits. */
  private compressMessage(message: Buffer): { payload: Buffer; rsv: number } {
    const extension = this.extension;
    if (extension?.compress === undefined) throw new Error('No negotiated extension compresses messages');
    return { payload: extension.compress(message), rsv: extension.rsvValue & 7 };
  }

  /** Write raw bytes (in chops of `chopsize`, each on its own event-loop turn). */
  sendData(data: Buffer, sync = false, chopsize?: number): void {
    if (chopsize !== undefined && chopsize > 0 && data.length > chopsize) {
      for (let start = 0; start < data.length; start += chopsize) this.queue.push({ data: data.subarray(start, start + chopsize), sync: true });
    } else {
      this.queue.push({ data, sync });
    }
    this.pump();
  }

  private pump(): void {
    if (this.writing) return;
    while (this.queue.length > 0) {
      if (this.state === 'closed' || this.socket.destroyed) {
        this.queue.length = 0;
        return;
      }
      const item = this.queue.shift()!;
      this.txOctets.count++;
      this.txOctets.bytes += item.data.length;
      this.log({ at: this.elapsed, kind: 'tx-octets', length: item.data.length, preview: preview(item.data), sync: item.sync });
      if (item.sync) {
        // On its own: wait until the kernel has it, then one more turn, so it leaves as its own segment.
        this.writing = true;
        this.socket.write(item.data, () => {
          setImmediate(() => {
            this.writing = false;
            this.pump();
          });
        });
        return;
      }
      this.socket.write(item.data);
    }
  }

  /** The streaming API: start a message (its frames follow with `beginMessageFrame`). */
  beginMessage(binary = false): void {
    this.streamOpcode = binary ? 2 : 1;
    this.streamFrames = 0;
  }

  /** Start a frame of the message (not final: `endMessage` sends an empty final frame). */
  beginMessageFrame(length: number): void {
    const opcode = this.streamFrames === 0 ? this.streamOpcode : 0;
    this.streamFrames++;
    const mask = this.nextMask(undefined);
    const header = Buffer.allocUnsafe(frameHeaderSize(length, mask !== null));
    writeFrameHeader(header, 0, opcode, false, 0, length, mask);
    this.streamMask = mask;
    this.streamMaskOffset = 0;
    this.count(this.txFrameStats, opcode);
    this.log({ at: this.elapsed, kind: 'tx-frame', opcode, fin: false, rsv: 0, masked: mask !== null, length, preview: '(streamed)' });
    this.sendData(header, true);
  }

  /** Send (part of) the current frame's payload. */
  sendMessageFrameData(data: string | Buffer): void {
    const bytes = Buffer.from(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    if (this.streamMask !== null) this.streamMaskOffset = xorMask(bytes, 0, bytes.length, this.streamMask, this.streamMaskOffset);
    this.sendData(bytes, true);
  }

  /** End the streamed message with an empty final continuation frame. */
  endMessage(): void {
    this.sendFrame({ opcode: 0, fin: true, sync: true });
  }

  /**
   * Start the closing handshake (when open), then wait `closeHandshake` ms for the peer's close frame.
   */
  sendClose(code?: number, reason?: string): void {
    if (this.state !== 'open') return;
    this.sendCloseFrame(code, reason === undefined ? undefined : Buffer.from(reason, 'utf8'), false);
  }

  /**
   * Send a close frame with any code (even an invalid one) and reason bytes. Without a code, the
   * reason bytes alone are the payload (as in Autobahn: 7.3.2 sends a 1-octet close payload).
   */
  sendCloseFrame(code?: number, reason?: Buffer, isReply = false): void {
    if (this.state === 'closed' || this.closeSent) return;
    let payload: Buffer = Buffer.alloc(0);
    if (code !== undefined) {
      payload = Buffer.alloc(2 + (reason?.length ?? 0));
      payload.writeUInt16BE(code & 0xffff, 0);
      reason?.copy(payload, 2);
    } else if (reason !== undefined) {
      payload = Buffer.from(reason);
    }
    this.closeSent = true;
    this.localCloseCode = code ?? null;
    if (!isReply) this.closedByMe = !this.closeReceived;
    this.sendFrame({ opcode: 8, payload });
    if (this.state === 'open') this.state = 'closing';
    if (!this.closeReceived) {
      this.later(this.timeouts.closeHandshake, () => {
        if (this.state === 'closed' || this.closeReceived) return;
        this.expire('close-handshake', this.timeouts.closeHandshake);
        this.wasCloseHandshakeTimeout = true;
        this.wasClean = false;
        this.note('no close frame from the peer in time: dropping TCP');
        this.dropConnection();
      });
    }
  }

  /**
   * Fail the connection (RFC 6455 §7.1.7, as Autobahn does in conformance mode): a close frame with
   * `code`, then the usual bounded wait; if already closing, drop TCP.
   */
  failConnection(code = 1001, reason = 'Going Away'): void {
    if (this.state === 'closed') return;
    this.failedByMe = true;
    this.wasClean = false;
    this.note(`failing the connection: ${code} ${reason}`);
    if (this.state === 'closing' || this.closeSent) {
      this.dropConnection();
      return;
    }
    this.sendCloseFrame(code, Buffer.from(reason, 'utf8'), false);
  }

  /** Close TCP now (flushing what is queued). */
  dropConnection(): void {
    if (this.state === 'closed') return;
    this.droppedByMe = true;
    this.socket.end();
    this.later(this.timeouts.serverConnectionDrop, () => this.socket.destroy());
  }

  // --- timers --------------------------------------------------------------------------------------

  /** Run `fn` after `ms` times the time scale. */
  private later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms * this.timeScale);
    this.timers.add(timer);
  }

  /** `seconds` after the time scale (what a timer really waits), for reports. */
  scaled(seconds: number): number {
    return Math.round(seconds * this.timeScale * 1000) / 1000;
  }

  private expire(wait: ExpiredWait['wait'], ms: number): void {
    this.expired.push({ wait, seconds: this.scaled(ms / 1000) });
  }

  /** Run `fn` after `seconds` if the connection is still there. */
  continueLater(seconds: number, fn: () => void, tag?: string): void {
    this.log({ at: this.elapsed, kind: 'timer', action: 'continue', delay: this.scaled(seconds), tag });
    this.later(seconds * 1000, () => {
      if (this.state === 'closed') return;
      this.log({ at: this.elapsed, kind: 'timer-fired', action: 'continue', tag });
      fn();
    });
  }

  /** Fail the connection after `seconds` if it is still there. */
  killAfter(seconds: number): void {
    this.log({ at: this.elapsed, kind: 'timer', action: 'kill', delay: this.scaled(seconds) });
    this.later(seconds * 1000, () => {
      if (this.state === 'closed') return;
      this.log({ at: this.elapsed, kind: 'timer-fired', action: 'kill' });
      // What we were still waiting for: the case (open), the peer's close frame, or (a client) the
      // server's TCP close after the closing handshake.
      if (this.state === 'open') this.expire('kill-after', seconds * 1000);
      else if (!this.droppedByMe) this.expire(this.closeReceived ? 'server-connection-drop' : 'close-handshake', seconds * 1000);
      this.failConnection();
    });
  }

  /** Start the closing handshake after `seconds` if the connection is still open. */
  closeAfter(seconds: number): void {
    this.log({ at: this.elapsed, kind: 'timer', action: 'close', delay: this.scaled(seconds) });
    this.later(seconds * 1000, () => {
      if (this.state === 'closed') return;
      this.log({ at: this.elapsed, kind: 'timer-fired', action: 'close' });
      if (this.state === 'open') this.expire('close-after', seconds * 1000);
      this.sendClose(1000);
    });
  }

  // --- receiving -----------------------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    this.rxOctets.count++;
    this.rxOctets.bytes += chunk.length;
    this.log({ at: this.elapsed, kind: 'rx-octets', length: chunk.length, preview: preview(chunk) });
    if (this.state === 'closed' || this.closeReceived) return;
    try {
      this.parser.push(chunk);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.note(`peer broke the protocol: ${error.message}`);
      this.failConnection(error.closeCode, error.message.slice(0, 100));
    }
  }

  onFrameHeader(opcode: number, fin: boolean, rsv: number, length: number): void {
    this.frameOpcode = opcode;
    this.frameFin = fin;
    this.frameRsv = rsv >> 4;
    this.frameMasked = this.role === 'server';
    this.framePieces = [];
    if (opcode >= 8) {
      if (rsv !== 0) throw new ProtocolError('FD_ERR_UNEXPECTED_RSV', 1002, 'reserved bits on a control frame');
      return;
    }
    if (opcode === 0) {
      if (this.messageOpcode === -1) throw new ProtocolError('FD_ERR_UNEXPECTED_CONTINUATION', 1002, 'continuation without a message');
      if (rsv !== 0) throw new ProtocolError('FD_ERR_UNEXPECTED_RSV', 1002, 'reserved bits on a continuation frame');
    } else {
      if (this.messageOpcode !== -1) throw new ProtocolError('FD_ERR_EXPECTED_CONTINUATION', 1002, 'new message inside a fragmented one');
      this.messageOpcode = opcode;
      this.messageCompressed = rsv !== 0;
      this.messagePieces = [];
    }
    void length;
  }

  onFramePayload(data: Buffer, last: boolean): void {
    if (data.length > 0) this.framePieces.push(Buffer.from(data));
    if (!last) return;
    const payload = this.framePieces.length === 1 ? this.framePieces[0]! : Buffer.concat(this.framePieces);
    this.framePieces = [];
    const opcode = this.frameOpcode;
    this.count(this.rxFrameStats, opcode);
    this.log({ at: this.elapsed, kind: 'rx-frame', opcode, fin: this.frameFin, rsv: this.frameRsv, masked: this.frameMasked, length: payload.length, preview: preview(payload) });
    if (opcode === 9) {
      if (this.state === 'open') this.sendFrame({ opcode: 10, payload });
      return;
    }
    if (opcode === 10) {
      this.events.onPong(payload);
      return;
    }
    if (opcode === 8) {
      this.receiveClose(payload);
      return;
    }
    this.messagePieces.push(payload);
    if (!this.frameFin) return;
    let message = this.messagePieces.length === 1 ? this.messagePieces[0]! : Buffer.concat(this.messagePieces);
    const binary = this.messageOpcode === 2;
    const compressed = this.messageCompressed;
    this.messageOpcode = -1;
    this.messagePieces = [];
    if (compressed) {
      try {
        message = this.extension!.decompress(message);
      } catch (error) {
        throw new ProtocolError('FD_ERR_EXTENSION', 1007, `invalid compressed message: ${(error as Error).message}`);
      }
    }
    if (!binary && !isValidUtf8(message)) throw new ProtocolError('FD_ERR_INVALID_UTF8', 1007, 'invalid UTF-8 in a text message');
    if (this.state === 'open' || this.state === 'closing') this.events.onMessage(message, binary);
  }

  private receiveClose(payload: Buffer): void {
    if (payload.length === 1) throw new ProtocolError('FD_ERR_INVALID_CLOSE_PAYLOAD', 1002, 'close frame with a 1-byte payload');
    let code: number | null = null;
    let reason = '';
    if (payload.length >= 2) {
      code = payload.readUInt16BE(0);
      if (!isValidCloseCode(code)) throw new ProtocolError('FD_ERR_INVALID_CLOSE_CODE', 1002, `invalid close code ${code}`);
      const reasonBytes = payload.subarray(2);
      if (!isValidUtf8(reasonBytes)) throw new ProtocolError('FD_ERR_INVALID_UTF8', 1007, 'invalid UTF-8 in the close reason');
      reason = reasonBytes.toString('utf8');
    }
    this.closeReceived = true;
    this.remoteCloseCode = code;
    this.remoteCloseReason = code === null ? null : reason;
    this.parser.stop();
    if (!this.closeSent) {
      // Echo the peer's code (RFC 6455 §5.5.1).
      this.sendCloseFrame(code ?? undefined, undefined, true);
    }
    if (!this.failedByMe && !this.wasCloseHandshakeTimeout) this.wasClean = true;
    if (this.state === 'open') this.state = 'closing';
    if (this.role === 'server') {
      // RFC 6455 §7.1.1: the server closes the TCP connection first.
      this.dropConnection();
    } else {
      this.later(this.timeouts.serverConnectionDrop, () => {
        if (this.state === 'closed') return;
        this.expire('server-connection-drop', this.timeouts.serverConnectionDrop);
        this.wasServerConnectionDropTimeout = true;
        this.wasClean = false;
        this.note('the server did not close TCP in time: dropping it');
        this.dropConnection();
      });
    }
  }

  private onSocketClose(): void {
    if (this.state === 'closed') return;
    if (!(this.closeSent && this.closeReceived)) this.wasClean = false;
    this.state = 'closed';
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.queue.length = 0;
    this.parser.stop();
    this.events.onConnectionLost();
  }

  private count(stats: Map<number, number>, opcode: number): void {
    stats.set(opcode, (stats.get(opcode) ?? 0) + 1);
  }
}

function repeat(pattern: Buffer, length: number): Buffer {
  if (pattern.length === 0) return Buffer.alloc(length);
  const out = Buffer.allocUnsafe(length);
  for (let offset = 0; offset < length; offset += pattern.length) pattern.copy(out, offset, 0, Math.min(pattern.length, length - offset));
  return out;
}
