/**
 * One client connection of the load tests, on a raw TCP socket: the upgrade (checking the server's
 * `Sec-WebSocket-Accept`), sequence-numbered messages sent for echo with a window in flight, every
 * received message checked as it arrives (echoes and server pushes are separate streams), pings
 * answered, and the closing handshake from either side. Cheap enough to hold 10,000 in one process.
 */
import { connect, type Socket } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { Kind, checksum, formatTally, isBinarySeq, makePayload } from './payload.js';
import { StreamCheck, type StreamTally } from './stream-check.js';
import { FrameReader, Opcode, closeFrame, maskedFrame, type FrameSink } from './frames.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const MAX_REPORTED = 5;

/** What a connection saw, for reports (plain data, fit for IPC). */
export interface ConnectionSummary {
  id: number;
  sent: { count: number; crc: number };
  echo: StreamTally;
  push: StreamTally;
  flood: StreamTally;
  /** The server's close frame: its code (1005 if it had none), or null if none arrived. */
  closeCode: number | null;
  closeReason: string;
  tcpClosed: boolean;
  /** Messages that arrived compressed (permessage-deflate). */
  compressed: number;
  problems: string[];
  problemCount: number;
}

interface Waiter {
  test: () => boolean;
  what: string;
  resolve: () => void;
  reject: (error: Error) => void;
}

export class LoadConnection implements FrameSink {
  readonly id: number;
  readonly socket: Socket;
  readonly echo: StreamCheck;
  readonly push: StreamCheck;
  readonly flood: StreamCheck;
  sentCount = 0;
  sentCrc = 0;
  sentBytes = 0;
  closeSent = false;
  closeCode: number | null = null;
  closeReason = '';
  tcpClosed = false;
  /** The socket reported an error (ECONNRESET...). */
  socketError: string | null = null;
  private readonly reader: FrameReader;
  private readonly problems: string[] = [];
  private problemCount = 0;
  private echoTarget = 0;
  private waiters: Waiter[] = [];

  /**
   * Connect to 127.0.0.1:`port` and complete the upgrade for connection `id` (path `/?id=<id>`). With
   * `deflate`, offer permessage-deflate without context takeover (each compressed message stands
   * alone) and require the server to accept it; this client itself sends uncompressed.
   */
  static open(port: number, id: number, options: { deflate?: boolean } = {}): Promise<LoadConnection> {
    const deflate = options.deflate === true;
    return new Promise((resolve, reject) => {
      const key = randomBytes(16).toString('base64');
      const accept = createHash('sha1').update(key + GUID).digest('base64');
      const socket = connect({ port, host: '127.0.0.1', noDelay: true });
      let received: Buffer = Buffer.alloc(0);
      const fail = (error: Error): void => {
        socket.destroy();
        reject(new Error(`connection ${id}: ${error.message}`));
      };
      const onData = (chunk: Buffer): void => {
        received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
        const end = received.indexOf('\r\n\r\n');
        if (end === -1) return;
        socket.off('data', onData);
        socket.off('error', fail);
        socket.off('close', onEarlyClose);
        const head = received.subarray(0, end).toString('latin1');
        if (!head.startsWith('HTTP/1.1 101 ')) return fail(new Error(`handshake refused: ${head.split('\r\n')[0]}`));
        if (!new RegExp(`^sec-websocket-accept: *${accept.replace(/[+/]/g, '\\$&')} *$`, 'im').test(head)) {
          return fail(new Error('wrong or missing Sec-WebSocket-Accept'));
        }
        if (deflate && !/^sec-websocket-extensions: *permessage-deflate\b/im.test(head)) return fail(new Error('permessage-deflate not accepted'));
        resolve(new LoadConnection(socket, id, received.subarray(end + 4), deflate));
      };
      const onEarlyClose = (): void => fail(new Error('closed during the handshake'));
      socket.on('data', onData);
      socket.once('error', fail);
      socket.once('close', onEarlyClose);
      socket.once('connect', () => {
        socket.write(
          `GET /?id=${id} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
            (deflate ? 'Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n' : '') +
            '\r\n',
        );
      });
    });
  }

  private constructor(socket: Socket, id: number, head: Buffer, inflate: boolean) {
    this.id = id;
    this.reader = new FrameReader({ inflate });
    this.socket = socket;
    this.echo = new StreamCheck(Kind.Echo, id);
    this.push = new StreamCheck(Kind.Push, id);
    this.flood = new StreamCheck(Kind.Flood, id);
    socket.on('data', (chunk: Buffer) => {
      this.reader.push(chunk, this);
      this.settle();
    });
    socket.on('end', () => {
      // The server closes TCP first (RFC 6455 §7.1.1), after the closing handshake: answer with our FIN.
      if (this.closeCode === null && !this.closeSent) this.problem('the server closed TCP without a closing handshake');
      socket.end();
    });
    socket.on('error', (error: Error) => {
      this.socketError ??= error.message;
    });
    socket.on('close', () => {
      this.tcpClosed = true;
      this.settle();
    });
    if (head.length > 0) this.reader.push(head, this);
  }

  // --- sending -------------------------------------------------------------------------------------

  /** Send `total` more messages for echo, at most `window` unanswered at once; resolves when all came back. */
  sendEchoes(total: number, window: number): Promise<void> {
    this.echoTarget = this.sentCount + total;
    for (let i = 0; i < Math.min(window, total); i++) this.sendNextEcho();
    return this.until(() => this.echo.count >= this.echoTarget, `${this.echoTarget} echoes`);
  }

  private sendNextEcho(): void {
    const seq = ++this.sentCount;
    const payload = makePayload(Kind.Echo, this.id, seq);
    this.sentCrc = checksum(payload, this.sentCrc);
    this.sentBytes += payload.length;
    this.socket.write(maskedFrame(isBinarySeq(seq) ? Opcode.Binary : Opcode.Text, payload));
  }

  /**
   * Start the closing handshake with `code` and, as the reason, a tally of what we sent (the server
   * checks it). Resolves once the server's close frame arrived and TCP is closed.
   */
  close(code = 1000): Promise<void> {
    if (!this.closeSent) {
      this.closeSent = true;
      this.socket.write(closeFrame(code, formatTally(this.sentCount, this.sentCrc)));
    }
    return this.closed();
  }

  /** Resolves once the closing handshake is done (from either side) and TCP is closed. */
  closed(): Promise<void> {
    return this.until(() => this.closeCode !== null, 'the close frame').then(() => this.until(() => this.tcpClosed, 'TCP to close'));
  }

  /** Resolves when at least `count` pushed messages arrived. */
  pushes(count: number): Promise<void> {
    return this.until(() => this.push.count >= count, `${count} pushed messages`);
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Messages that arrived compressed. */
  get compressedMessages(): number {
    return this.reader.compressedMessages;
  }

  get ok(): boolean {
    return this.problemCount === 0 && this.echo.ok && this.push.ok && this.flood.ok;
  }

  summary(): ConnectionSummary {
    const problems = [...this.problems, ...this.echo.problems, ...this.push.problems, ...this.flood.problems].slice(0, MAX_REPORTED);
    return {
      id: this.id,
      sent: { count: this.sentCount, crc: this.sentCrc },
      echo: this.echo.tally(),
      push: this.push.tally(),
      flood: this.flood.tally(),
      closeCode: this.closeCode,
      closeReason: this.closeReason,
      tcpClosed: this.tcpClosed,
      compressed: this.reader.compressedMessages,
      problems,
      problemCount: this.problemCount + this.echo.problemCount + this.push.problemCount + this.flood.problemCount,
    };
  }

  /** A problem seen by the caller (e.g. a timeout), counted with the connection's own. */
  problem(text: string): void {
    this.problemCount++;
    if (this.problems.length < MAX_REPORTED) this.problems.push(`connection ${this.id}: ${text}`);
  }

  // --- FrameSink -----------------------------------------------------------------------------------

  onMessage(payload: Buffer, isBinary: boolean): void {
    if (this.closeCode !== null) {
      this.problem('a message after the close frame');
      return;
    }
    const kind = payload[0];
    if (kind === Kind.Echo) {
      this.echo.accept(payload, isBinary);
      if (this.sentCount < this.echoTarget && !this.closeSent) this.sendNextEcho();
    } else if (kind === Kind.Push) {
      this.push.accept(payload, isBinary);
    } else if (kind === Kind.Flood) {
      this.flood.accept(payload, isBinary);
    } else {
      this.problem(`a message of unknown kind ${kind}`);
    }
  }

  onControl(opcode: number, payload: Buffer): void {
    if (this.closeCode !== null) {
      this.problem('a control frame after the close frame');
      return;
    }
    if (opcode === Opcode.Ping) {
      if (!this.closeSent) this.socket.write(maskedFrame(Opcode.Pong, payload));
    } else if (opcode === Opcode.Close) {
      if (payload.length === 1) this.problem('a close frame with a 1-byte payload');
      this.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      this.closeReason = payload.subarray(2).toString('utf8');
      if (!this.closeSent) {
        // RFC 6455 §5.5.1: answer with the same code.
        this.closeSent = true;
        this.socket.write(this.closeCode === 1005 ? maskedFrame(Opcode.Close, Buffer.alloc(0)) : closeFrame(this.closeCode));
      }
    }
  }

  onFrameError(message: string): void {
    this.problem(message);
    this.socket.destroy();
  }

  // --- waiting -------------------------------------------------------------------------------------

  private until(test: () => boolean, what: string): Promise<void> {
    if (test()) return Promise.resolve();
    if (this.tcpClosed) return Promise.reject(new Error(`connection ${this.id} closed before ${what}`));
    return new Promise((resolve, reject) => this.waiters.push({ test, what, resolve, reject }));
  }

  private settle(): void {
    if (this.waiters.length === 0) return;
    const waiting: Waiter[] = [];
    for (const waiter of this.waiters) {
      if (waiter.test()) waiter.resolve();
      else if (this.tcpClosed) waiter.reject(new Error(`connection ${this.id} closed before ${waiter.what}${this.socketError === null ? '' : ` (${this.socketError})`}`));
      else waiting.push(waiter);
    }
    this.waiters = waiting;
  }
}
