/**
 * The server of standalone mode (`new WebSocketServer({ port })`): a `net.Server` that reads each
 * connection's request head itself (src/protocol/http-request-head.ts) instead of handing it to Node's
 * HTTP server. A WebSocket endpoint answers one request per connection, an upgrade: Node's HTTP
 * machinery (its parser, `ServerResponse`, keep-alive bookkeeping) is most of the cost of a handshake
 * and none of its use. What `ws` users read keeps working: the server emits `upgrade` with an
 * `IncomingMessage` (built here, `instanceof` included) as `http.Server` does, and `WebSocketServer`
 * listens to it exactly as it listens to a shared server.
 *
 * Per connection: the head within `handshakeTimeout` of the TCP accept (slowloris: dropped after it),
 * within the head limits (431, 414), well-formed (400; 505 for another HTTP version); a request that is
 * not an upgrade gets the 426 it got from the HTTP server, then the connection closes. `close()` is
 * `net.Server#close`, which is what `http.Server#close` does to such connections too: a connection
 * whose request has not come keeps the server open until it finishes, leaves, or is dropped.
 */
import { IncomingMessage } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';
import { formatRejection } from '../protocol/handshake.js';
import { DeadlineEntry, DeadlineList } from './standalone-deadlines.js';
import { RequestHeadParser, requestHeadLimits, type RequestHead, type RequestHeadError, type RequestHeadLimits } from '../protocol/http-request-head.js';

/**
 * Work on an accepted socket before its request head is read (the PROXY protocol header, for one):
 * call `next` with the socket and the bytes it read past what it consumed (empty when none), or
 * destroy the socket. The handshake timeout runs from the TCP accept, through this step.
 */
export type AcceptStep = (socket: Socket, next: (socket: Socket, buffered: Buffer) => void) => void;

export interface StandaloneServerOptions {
  /** From the TCP accept to the complete request head, at most this many ms. */
  readonly handshakeTimeout: number;
  readonly limits?: RequestHeadLimits | undefined;
  /** Runs on every accepted socket before its head is read (see `AcceptStep`). */
  readonly acceptStep?: AcceptStep | undefined;
  /** Told of every request head refused (400, 414, 431, 505), as the server answers it (the operator's view). */
  readonly onHeadRefused?: ((error: RequestHeadError) => void) | undefined;
}

export interface StandaloneServerEvents {
  upgrade: [request: IncomingMessage, socket: Socket, head: Buffer];
}

const EMPTY = Buffer.alloc(0);
/** How long a refused client gets to read its answer before the socket is destroyed. */
const LINGER_MS = 1000;
const kReader = Symbol('fullduplex.headReader');

type ReadingSocket = Socket & { [kReader]?: HeadReader | undefined };

/** One connection's request head being read (in its server's list of handshake deadlines meanwhile). */
class HeadReader extends DeadlineEntry {
  readonly server: StandaloneServer;
  readonly socket: ReadingSocket;
  parser: RequestHeadParser | null = null;

  constructor(server: StandaloneServer, socket: ReadingSocket) {
    super();
    this.server = server;
    this.socket = socket;
  }

  /** The head is read (or refused): nothing of ours stays on the socket. */
  release(): void {
    const socket = this.socket;
    this.server[kDeadlines].remove(this);
    socket[kReader] = undefined;
    socket.removeListener('data', onHeadData);
    socket.removeListener('end', onEarlyEnd);
    socket.removeListener('error', onEarlyError);
  }
}

const kLimits = Symbol('fullduplex.limits');
const kDeadlines = Symbol('fullduplex.deadlines');
const kReadHead = Symbol('fullduplex.readHead');

export class StandaloneServer extends NetServer {
  readonly [kLimits]: Required<RequestHeadLimits>;
  /** The sockets whose head is awaited, each dropped `handshakeTimeout` after its TCP accept (slowloris). */
  readonly [kDeadlines]: DeadlineList<HeadReader>;
  readonly #acceptStep: AcceptStep | null;
  readonly onHeadRefused: ((error: RequestHeadError) => void) | null;
  readonly #next: (socket: Socket, buffered: Buffer) => void;

  constructor(options: StandaloneServerOptions) {
    // noDelay as Node's HTTP server sets it (its default since Node 18): the 101 goes out at once.
    super({ noDelay: true });
    this[kLimits] = requestHeadLimits(options.limits);
    this[kDeadlines] = new DeadlineList(options.handshakeTimeout, dropSlowClient);
    this.#acceptStep = options.acceptStep ?? null;
    this.onHeadRefused = options.onHeadRefused ?? null;
    this.#next = (socket, buffered) => this[kReadHead](socket, buffered);
    this.on('connection', this.#accept);
  }

  /** A new TCP connection: the timer and the early-exit listeners, the accept step if any, then the head. */
  readonly #accept = (socket: Socket): void => {
    const reader = new HeadReader(this, socket);
    this[kDeadlines].add(reader);
    (socket as ReadingSocket)[kReader] = reader;
    socket.on('error', onEarlyError);
    socket.on('end', onEarlyEnd);
    // The one place where work on the raw socket goes before the head is read.
    if (this.#acceptStep === null) this[kReadHead](socket, EMPTY);
    else this.#acceptStep(socket, this.#next);
  };

  /** Read the request head, `buffered` first (bytes an accept step read past its own). */
  [kReadHead](socket: Socket, buffered: Buffer): void {
    const reader = (socket as ReadingSocket)[kReader];
    if (reader === undefined || socket.destroyed) return;
    socket.on('data', onHeadData);
    if (buffered.length > 0) onHeadData.call(socket, buffered);
  }

  /** The head is read: an upgrade goes to the `upgrade` listeners, anything else gets 426. */
  dispatch(socket: Socket, head: RequestHead, rest: Buffer): void {
    if (!head.upgrade) {
      answerNotUpgrade(socket, head);
      return;
    }
    const request = incomingMessage(socket, head);
    // The socket still flows (our head listener is gone): a WebSocket that takes it over now, in this
    // call (no hooks), adds its 'data' listener to a flowing socket, which costs no `resume` tick.
    // Nothing is read meanwhile (no I/O runs during this call). Then, as Node's HTTP server has it
    // after `upgrade`: a socket nobody reads yet is neither flowing nor paused, so that the first
    // 'data' listener starts the flow again; bytes that come meanwhile wait in the socket.
    if (!this.emit('upgrade', request, socket, rest)) socket.destroy();
    else if (socket.readableFlowing === true && socket.listenerCount('data') === 0) (socket as { readableFlowing: boolean | null }).readableFlowing = null;
  }
}

/** What `ws` users read of the request, in Node's own `IncomingMessage` (headers combined by Node, lazily). */
function incomingMessage(socket: Socket, head: RequestHead): IncomingMessage {
  const request = new IncomingMessage(socket);
  request.method = head.method;
  request.url = head.target;
  request.httpVersionMajor = 1;
  request.httpVersionMinor = head.versionMinor;
  request.httpVersion = head.versionMinor === 1 ? '1.1' : '1.0';
  // Node's parser hands the raw lines over the same way; `headers` (and `headersDistinct`) are then
  // built from them on first read, duplicates combined by Node's own rules.
  (request as unknown as NodeIncomingMessage)._addHeaderLines(head.rawHeaders, head.rawHeaders.length);
  (request as { upgrade?: boolean }).upgrade = true;
  request.complete = true;
  // An upgrade request has no body: it ends at the first read, as if Node's parser had ended it
  // (push(null) now would schedule work on every handshake for a stream nobody reads).
  request._read = endOnRead;
  return request;
}

function endOnRead(this: IncomingMessage): void {
  this.push(null);
}

interface NodeIncomingMessage {
  _addHeaderLines(rawHeaders: string[], count: number): void;
}

if (typeof (IncomingMessage.prototype as unknown as Partial<NodeIncomingMessage>)._addHeaderLines !== 'function') {
  throw new Error('fullduplex: this Node version has no IncomingMessage#_addHeaderLines; the standalone server needs it');
}

function onHeadData(this: ReadingSocket, chunk: Buffer): void {
  const reader = this[kReader];
  if (reader === undefined) return;
  const server = reader.server;
  const parser = (reader.parser ??= new RequestHeadParser(server[kLimits]));
  const result = parser.push(chunk);
  if (result.state === 'more') return;
  reader.release();
  if (result.state === 'error') {
    const error = result.error;
    server.onHeadRefused?.(error);
    refuse(this, formatRejection(error.status, error.message));
    return;
  }
  server.dispatch(this, result.request, result.rest);
}

/** The client closed its side before its head was complete: nothing can come of it. */
function onEarlyEnd(this: ReadingSocket): void {
  this[kReader]?.release();
  this.destroy();
}

function onEarlyError(this: ReadingSocket): void {
  this[kReader]?.release();
  this.destroy();
}

/** The head did not come within `handshakeTimeout` of the TCP accept (slowloris). */
function dropSlowClient(reader: HeadReader): void {
  reader.release();
  reader.socket.destroy();
}

/**
 * Today's answer to a request that is not an upgrade (RFC 9110 §15.5.22: say what to upgrade to), the
 * same status, headers and body as when Node's HTTP server sent it; then the connection closes.
 */
function answerNotUpgrade(socket: Socket, head: RequestHead): void {
  const body = 'Upgrade Required: this endpoint speaks WebSocket\n';
  const response =
    'HTTP/1.1 426 Upgrade Required\r\n' +
    'Content-Type: text/plain; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'Upgrade: websocket\r\n' +
    'Connection: Upgrade\r\n' +
    `Date: ${new Date().toUTCString()}\r\n` +
    '\r\n' +
    (head.method === 'HEAD' ? '' : body);
  refuse(socket, response);
}

/**
 * Answer and close, lingering: what the client still sends (the rest of a large head, a body) is read
 * and dropped while it reads the answer, so that unread bytes do not turn into a TCP reset that could
 * discard the answer before the client sees it; after `LINGER_MS` the socket is destroyed.
 */
function refuse(socket: Socket, response: string): void {
  if (socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  socket.on('error', ignoreError);
  socket.on('data', ignoreData);
  socket.resume();
  socket.end(response);
  const timer = setTimeout(destroySocket, LINGER_MS, socket);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

function ignoreError(): void {}
function ignoreData(): void {}
function destroySocket(socket: Socket): void {
  socket.destroy();
}
