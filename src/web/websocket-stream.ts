/**
 * The WHATWG `WebSocketStream` (WebSockets Standard, "The WebSocketStream interface"): a WebSocket
 * connection as a `ReadableStream` of messages and a `WritableStream` of messages, with promises for
 * the opening and the closing. Built on the Node-layer client (`src/node/websocket.ts`), which does
 * the I/O and the protocol.
 *
 * Backpressure is real on both sides, as the standard asks ("apply backpressure to the WebSocket"):
 * - reading: once the readable's queue is full (see `readableHighWaterMark`), the Node layer stops
 *   reading from the socket (`pause()`), so the TCP window fills and the peer's sends wait; a read
 *   that makes room resumes it (the stream's pull algorithm);
 * - writing: each write resolves once the socket has taken the message (the Node layer's send
 *   callback: handed to the kernel), so `await writer.write(chunk)` waits for a peer that does not read.
 *
 * Two non-standard additions: a third constructor argument with Node client options (as the
 * `WebSocket` class has), and `toWebSocketStream(ws)` for a connection a `WebSocketServer` accepted.
 * Steps (§) quoted are those of the standard's WebSocketStream algorithms.
 */
import { types } from 'node:util';
import { WebSocket as NodeWebSocket, type ClientOptions } from '../node/websocket.js';
import { ReadyState } from '../protocol/close-handshake.js';
import { toCloseInfo, validateCloseCodeAndReason, type WebSocketCloseInfo } from './close-info.js';
import { browserLikeClientOptions } from './connect-options.js';
import { apiBaseURL, checkSubprotocols, getWebSocketURLRecord } from './url.js';
import { createWebSocketError, isWebSocketError } from './websocket-error.js';
import { toUSVString } from './webidl.js';
import { messageBytes, toUint8Array } from './message-bytes.js';
import { brandFromPrivateGetter, defineInterfaceShape } from './interface.js';

export type { WebSocketCloseInfo } from './close-info.js';

/** The standard's `WebSocketStreamOptions` dictionary. */
export interface WebSocketStreamOptions {
  /** Subprotocols to offer (distinct HTTP tokens); the connection fails if the server selects none. */
  protocols?: Iterable<string>;
  /** Aborting it before the connection is established fails the connection; afterwards it does nothing. */
  signal?: AbortSignal;
}

/** What the readable side yields: a string for a text message, a `Uint8Array` for a binary one. */
export type WebSocketStreamMessage = string | Uint8Array;

/** What the writable side accepts: a string (sent as text) or a BufferSource (sent as binary). */
export type WebSocketStreamWriteData = string | ArrayBuffer | ArrayBufferView;

/** The standard's `WebSocketOpenInfo`: what `opened` resolves with. */
export interface WebSocketOpenInfo {
  /** The extensions the server selected, as its `Sec-WebSocket-Extensions` header ("" when none). */
  extensions: string;
  /** The subprotocol the server selected ("" when none). */
  protocol: string;
  /** The incoming messages (strings for text, `Uint8Array`s for binary); cancelling it closes the connection. */
  readable: ReadableStream<WebSocketStreamMessage>;
  /**
   * Write messages here (strings as text, `BufferSource`s as binary), with backpressure; closing it starts the closing handshake.
   */
  writable: WritableStream<WebSocketStreamWriteData>;
}

/** What `closed` resolves with: the close code and reason the connection closed with. */
export interface WebSocketStreamCloseInfo {
  /** The close code the peer sent (1005 when its close frame had none). */
  closeCode: number;
  /** The close reason the peer sent ("" when none). */
  reason: string;
}

/** Non-standard options of the readable side, for `new WebSocketStream` and `toWebSocketStream`. */
export interface ReadableSideOptions {
  /**
   * How much the readable side queues before it stops reading from the socket, in bytes of binary
   * messages and UTF-16 code units of text (its `highWaterMark`, a message counted by its size).
   * Default 1 MiB. 0 reads one message at a time (each read lets the next one in). The queue may
   * exceed it by what the last socket read held, at most one socket chunk's messages (and a message
   * is never split).
   */
  readableHighWaterMark?: number;
}

/**
 * The non-standard third constructor argument: any Node-layer client option (see `ClientOptions` in
 * `src/node/client.ts`: `headers`, `origin`, TLS options, `agent`, `handshakeTimeout`, `maxPayload`,
 * `perMessageDeflate`...; `queueConnecting` is on by default, as in the `WebSocket` class),
 * `readableHighWaterMark`, and `baseURL` (as the `WebSocket` class's: the base for a relative `url`).
 */
export interface WebSocketStreamNodeOptions extends ClientOptions, ReadableSideOptions {
  /** The base URL for a relative `url` (default: `globalThis.location.href` where defined). */
  baseURL?: string | URL;
}

const DEFAULT_READABLE_HIGH_WATER_MARK = 1024 * 1024;

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;
type State = typeof CONNECTING | typeof OPEN | typeof CLOSING | typeof CLOSED;

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

/**
 * A promise with its resolving functions. It is marked as handled: a rejection nobody listens to
 * (an `opened` after a failure, when the caller awaits only `closed`) must not end the process, as it
 * would not in a browser, where an unhandled rejection is only reported.
 */
function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** Set by `toWebSocketStream` for the constructor it calls: adopt this connection instead of connecting. */
let adopting: { ws: NodeWebSocket; options: ReadableSideOptions } | null = null;

/**
 * The WHATWG `WebSocketStream` (WebSockets Standard, "The WebSocketStream interface"): a WebSocket client
 * with promises and streams. `opened` resolves with a readable and a writable stream, with backpressure
 * both ways; `closed` resolves with the close code and reason; `close()` closes. A non-standard third
 * argument takes Node client options ({@link WebSocketStreamNodeOptions}); `toWebSocketStream` gives the
 * same interface over a connection a `WebSocketServer` accepted.
 */
export class WebSocketStream {
  readonly #url: string;
  readonly #opened = deferred<WebSocketOpenInfo>();
  readonly #closed = deferred<WebSocketStreamCloseInfo>();
  #inner: NodeWebSocket | null = null;
  #state: State = CONNECTING;
  #requestedProtocols: readonly string[] = [];
  #readableHighWaterMark = DEFAULT_READABLE_HIGH_WATER_MARK;
  /** The standard's "was ever connected". */
  #wasEverConnected = false;
  /** The standard's "handshake aborted": the signal rejected the promises already. */
  #handshakeAborted = false;
  #signal: AbortSignal | null = null;
  #readableController: ReadableStreamDefaultController<WebSocketStreamMessage> | null = null;
  /** The readable was cancelled or closed: nothing more may be enqueued. */
  #readableDone = false;
  #writableController: WritableStreamDefaultController | null = null;
  /** We paused the Node layer's reading (the readable's queue is full). */
  #paused = false;

  /**
   * `new WebSocketStream(url, { protocols, signal })`: checks its arguments (a "SyntaxError"
   * `DOMException` for a bad URL or subprotocol list, a TypeError for a bad options object), then
   * connects in the background.
   *
   * @param url - `ws:`, `wss:`, `http:` or `https:` (mapped to the first two), no fragment; relative only
   *   with a base URL (`nodeOptions.baseURL`, else `globalThis.location`). A bad port fails the connection.
   * @param options - the standard's options: `protocols` (a sequence of strings) and `signal`.
   * @param nodeOptions - non-standard: Node client options and `readableHighWaterMark`.
   */
  constructor(url: string | URL, options?: WebSocketStreamOptions | null, nodeOptions?: WebSocketStreamNodeOptions) {
    const context = "Failed to construct 'WebSocketStream'";
    const adopt = adopting;
    adopting = null;
    if (adopt !== null) {
      this.#url = adopt.ws.url;
      this.#readableHighWaterMark = readableHighWaterMarkOf(adopt.options);
      this.#attach(adopt.ws);
      return;
    }
    if (arguments.length === 0) throw new TypeError(`${context}: 1 argument required, but only 0 present.`);
    // Web IDL: `USVString url, optional WebSocketStreamOptions options = {}`.
    const urlString = toUSVString(url, `${context}: url`);
    const { protocols, signal } = toStreamOptions(options, context);
    const { readableHighWaterMark, baseURL, ...clientOptions } = nodeOptions ?? {};
    this.#readableHighWaterMark = readableHighWaterMarkOf({ readableHighWaterMark });

    // Steps 1–4: the URL record, and the subprotocols (distinct tokens).
    const urlRecord = getWebSocketURLRecord(urlString, context, apiBaseURL(baseURL, context));
    checkSubprotocols(protocols, context);
    // Steps 5–6: url, and the opened and closed promises (made with the fields above).
    this.#url = urlRecord.href;
    this.#requestedProtocols = protocols;

    // Step 8: an aborted signal rejects both promises, and nothing is connected.
    if (signal !== undefined) {
      if (signal.aborted) {
        this.#state = CLOSED;
        this.#opened.reject(signal.reason);
        this.#closed.reject(signal.reason);
        return;
      }
    }
    // Step 10: establish the connection in parallel (the Node layer's handshake).
    // As the WebSocket class: the RFC 6455 §4.1 connecting queue, and a bad port never connects.
    this.#attach(new NodeWebSocket(this.#url, protocols, browserLikeClientOptions(urlRecord, clientOptions)));
    if (signal !== undefined) {
      this.#signal = signal;
      signal.addEventListener('abort', this.#onAbort, { once: true });
    }
  }

  /** The URL, serialized (after http/https were mapped to ws/wss); "" for an accepted connection. */
  get url(): string {
    return this.#url;
  }

  /** Resolves with the streams once the connection is established; rejects if it never is. */
  get opened(): Promise<WebSocketOpenInfo> {
    return this.#opened.promise;
  }

  /**
   * Resolves with the close code and reason once the connection closed cleanly; rejects with a
   * `WebSocketError` (its `closeCode` 1006 when no close frame came) otherwise.
   */
  get closed(): Promise<WebSocketStreamCloseInfo> {
    return this.#closed.promise;
  }

  /**
   * `close({ closeCode, reason })`: start the closing handshake (while connecting: fail the
   * connection). `closeCode` 1000 or 3000–4999 (else an "InvalidAccessError" `DOMException`), `reason`
   * at most 123 UTF-8 bytes (else a "SyntaxError"); a reason without a code is sent with 1000.
   */
  close(closeInfo?: WebSocketCloseInfo): void {
    const context = "Failed to execute 'close' on 'WebSocketStream'";
    const { closeCode, reason } = toCloseInfo(closeInfo, context);
    this.#closeWebSocket(closeCode, reason, context);
  }

  // --- the connection ------------------------------------------------------------------------------

  #attach(inner: NodeWebSocket): void {
    this.#inner = inner;
    // The Node layer's errors are never unhandled: each one is followed by `close`, which reports it.
    inner.on('error', ignoreError);
    inner.on('message', this.#onMessage);
    inner.on('close', this.#onClose);
    if (inner.readyState === ReadyState.OPEN) this.#onOpen();
    else inner.on('open', this.#onOpen);
  }

  /** The signal's abort steps (constructor step 8.3): only while the connection is not established. */
  readonly #onAbort = (): void => {
    const signal = this.#signal!;
    this.#signal = null;
    if (this.#wasEverConnected || this.#state === CLOSED) return;
    this.#state = CLOSING;
    this.#opened.reject(signal.reason);
    this.#closed.reject(signal.reason);
    this.#handshakeAborted = true;
    // Fail the WebSocket connection (the Node layer abandons the handshake, or drops the socket).
    const inner = this.#inner!;
    if (inner.readyState === ReadyState.CONNECTING) inner.close();
    else inner.terminate();
  };

  #forgetSignal(): void {
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#signal = null;
  }

  /** "When the WebSocket connection is established" for a WebSocketStream. */
  readonly #onOpen = (): void => {
    const inner = this.#inner!;
    if (this.#state !== CONNECTING) {
      // Closed or aborted while connecting (the Node layer abandons the handshake, so this is a race).
      inner.terminate();
      return;
    }
    // Subprotocols were requested but the server selected none: fail the WebSocket connection
    // (WebSockets Standard §2, "establish a WebSocket connection"; RFC 6455 alone would accept it).
    if (this.#requestedProtocols.length > 0 && inner.protocol === '') {
      this.#state = CLOSING;
      inner.terminate();
      return;
    }
    this.#forgetSignal();
    // Steps 1–2.
    this.#state = OPEN;
    this.#wasEverConnected = true;
    const size = messageSize;
    // Steps 5–8: the readable; its pull algorithm resumes reading, cancel closes using the reason.
    const readable = new ReadableStream<WebSocketStreamMessage>(
      {
        start: (controller) => {
          this.#readableController = controller;
        },
        pull: () => {
          if (this.#paused) {
            this.#paused = false;
            this.#inner!.resume();
          }
        },
        cancel: (reason: unknown) => {
          this.#readableDone = true;
          this.#closeUsingReason(reason);
        },
      },
      { highWaterMark: this.#readableHighWaterMark, size },
    );
    // Steps 9–13: the writable; closing it closes the connection, aborting it closes using the reason.
    const writable = new WritableStream<WebSocketStreamWriteData>({
      start: (controller) => {
        this.#writableController = controller;
      },
      write: (chunk) => this.#write(chunk),
      close: () => {
        this.#closeWebSocket(null, '', 'WebSocketStream');
        // The writer's close() resolves once the closing handshake is complete (or rejects as `closed`).
        return this.#closed.promise.then(() => undefined);
      },
      abort: (reason: unknown) => {
        this.#closeUsingReason(reason);
      },
    });
    // Steps 3–4 and 14: `WebSocketOpenInfo`, members in the order Web IDL gives a dictionary's.
    this.#opened.resolve({ extensions: inner.extensionsHeader, protocol: inner.protocol, readable, writable });
  };

  /** "When a WebSocket message has been received" for a WebSocketStream. */
  readonly #onMessage = (data: unknown, isBinary: boolean): void => {
    // Step 1: only while OPEN (a message after close() was called is dropped).
    if (this.#state !== OPEN || this.#readableDone) return;
    const controller = this.#readableController!;
    // Step 2: text as a string, binary as a new Uint8Array.
    const bytes = messageBytes(data);
    controller.enqueue(isBinary ? toUint8Array(bytes) : bytes.toString('utf8'));
    // Step 4: apply backpressure: stop reading while the queue is full (pull resumes).
    if (!this.#paused && controller.desiredSize! <= 0) {
      this.#paused = true;
      this.#inner!.pause();
    }
  };

  /** The writable's write algorithm. */
  #write(chunk: unknown): Promise<void> {
    // Steps 2–5: a BufferSource is copied and sent as binary, anything else as text (USVString).
    let data: Buffer | string;
    let binary: boolean;
    if (types.isAnyArrayBuffer(chunk)) {
      if (types.isSharedArrayBuffer(chunk)) return Promise.reject(new TypeError('WebSocketStream: a SharedArrayBuffer cannot be written.'));
      data = Buffer.from(chunk.slice(0));
      binary = true;
    } else if (ArrayBuffer.isView(chunk)) {
      if (types.isSharedArrayBuffer(chunk.buffer)) {
        return Promise.reject(new TypeError('WebSocketStream: a view on a SharedArrayBuffer cannot be written.'));
      }
      data = Buffer.from(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      binary = true;
    } else {
      try {
        data = toUSVString(chunk, "Failed to write to a WebSocketStream's writable");
      } catch (error) {
        return Promise.reject(error);
      }
      binary = false;
    }
    // Step 6: send unless the closing handshake has started; resolve once the socket has taken it
    // ("wait until there is sufficient buffer space"). A send that fails resolves too: the connection
    // is gone, and its closing errors the writable with what happened.
    const inner = this.#inner!;
    if (this.#state !== OPEN || inner.readyState !== ReadyState.OPEN) return Promise.resolve();
    return new Promise<void>((resolve) => {
      inner.send(data, { binary }, () => resolve());
    });
  }

  /** The standard's "close using reason" (the writable's abort, the readable's cancel). */
  #closeUsingReason(reason: unknown): void {
    // Steps 1–3: only a real WebSocketError gives a code and reason.
    let code: number | null = null;
    let reasonString = '';
    if (isWebSocketError(reason)) {
      code = reason.closeCode;
      reasonString = reason.reason;
    }
    // Step 4: if that throws, close without them.
    try {
      this.#closeWebSocket(code, reasonString, 'WebSocketStream');
    } catch {
      this.#closeWebSocket(null, '', 'WebSocketStream');
    }
  }

  /** The standard's "close the WebSocket" with a code (or null) and a reason. */
  #closeWebSocket(code: number | null, reason: string, context: string): void {
    // Steps 1–2: validate.
    validateCloseCodeAndReason(code, reason, context);
    const inner = this.#inner;
    // Step 3: nothing to do once closing or closed (whichever side started the closing handshake).
    if (inner === null || this.#state === CLOSING || this.#state === CLOSED) return;
    if (this.#state === CONNECTING) {
      // Not yet established: fail the WebSocket connection (the Node layer abandons the handshake).
      this.#state = CLOSING;
      if (inner.readyState === ReadyState.CONNECTING) inner.close();
      else inner.terminate();
      return;
    }
    this.#state = CLOSING;
    if (inner.readyState !== ReadyState.OPEN) return;
    // Start the closing handshake: no body without a code; a reason alone goes with 1000.
    if (code === null && reason !== '') code = 1000;
    if (code === null) inner.close();
    else inner.close(code, reason);
    // Messages are dropped from now on: read on, so that the peer's close frame arrives.
    if (this.#paused) {
      this.#paused = false;
      inner.resume();
    }
  }

  /** "When the WebSocket connection is closed" for a WebSocketStream. */
  readonly #onClose = (): void => {
    const inner = this.#inner!;
    // Step 1.
    this.#state = CLOSED;
    this.#forgetSignal();
    // Step 2.
    if (this.#handshakeAborted) return;
    // Step 3: never connected: `opened` rejects.
    if (!this.#wasEverConnected) this.#opened.reject(createWebSocketError('The WebSocket connection could not be established', null, ''));
    // Steps 4–5: the close code and reason (UTF-8 decoded, a BOM kept).
    const result = this.#wasEverConnected ? inner.closeResult : null;
    const code = result?.code ?? 1006;
    const reason = result === null ? '' : result.reason.toString('utf8');
    const clean = result !== null && result.wasClean && !result.failed && code !== 1006;
    const readable = this.#readableController;
    const writable = this.#writableController;
    if (clean) {
      // Step 6: the readable ends (after what it holds), the writable cannot be written to.
      this.#closed.resolve({ closeCode: code, reason });
      if (readable !== null && !this.#readableDone) {
        this.#readableDone = true;
        readable.close();
      }
      writable?.error(new DOMException('A closed WebSocketStream cannot be written to', 'InvalidStateError'));
      return;
    }
    // Step 7: an unclean close errors both streams and `closed` with a WebSocketError.
    const error = createWebSocketError('The WebSocket connection closed uncleanly', code, reason);
    this.#readableDone = true;
    readable?.error(error);
    writable?.error(error);
    this.#closed.reject(error);
  };
}

/**
 * The same streams over a connection a `WebSocketServer` accepted (its 'connection' event), or over a
 * Node-layer client: a `WebSocketStream` whose `opened`, `closed` and `close()` behave as for a
 * connection it made (`url` is the connection's, "" on the server side). No runtime offers this.
 *
 * It takes the connection over: call it in the 'connection' listener, before any message could be
 * emitted (messages emitted before are not in the readable); it sets `binaryType` to 'nodebuffer'.
 * Throws an "InvalidStateError" `DOMException` if the connection is closing or closed.
 */
export function toWebSocketStream(ws: NodeWebSocket, options: ReadableSideOptions = {}): WebSocketStream {
  if (!(ws instanceof NodeWebSocket)) throw new TypeError('toWebSocketStream: the argument must be a fullduplex WebSocket');
  if (ws.readyState === ReadyState.CLOSING || ws.readyState === ReadyState.CLOSED) {
    throw new DOMException('toWebSocketStream: the connection is closing or closed', 'InvalidStateError');
  }
  readableHighWaterMarkOf(options);
  ws.binaryType = 'nodebuffer';
  adopting = { ws, options };
  try {
    return new WebSocketStream('');
  } finally {
    adopting = null;
  }
}

// --- helpers ---------------------------------------------------------------------------------------

function ignoreError(): void {}

/** The readable's queuing strategy size: bytes of a binary message, code units of a text one. */
function messageSize(chunk: WebSocketStreamMessage): number {
  return typeof chunk === 'string' ? chunk.length : chunk.byteLength;
}

function readableHighWaterMarkOf(options: ReadableSideOptions): number {
  const value = options.readableHighWaterMark;
  if (value === undefined) return DEFAULT_READABLE_HIGH_WATER_MARK;
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw new RangeError(`The readableHighWaterMark option must be a number >= 0; got ${String(value)}`);
  }
  return value;
}

/** Web IDL conversion of `WebSocketStreamOptions` (members in lexicographic order). */
function toStreamOptions(value: unknown, context: string): { protocols: string[]; signal: AbortSignal | undefined } {
  if (value === undefined || value === null) return { protocols: [], signal: undefined };
  if (typeof value !== 'object' && typeof value !== 'function') throw new TypeError(`${context}: the options must be an object.`);
  const dictionary = value as { protocols?: unknown; signal?: unknown };
  const rawProtocols = dictionary.protocols;
  let protocols: string[] = [];
  if (rawProtocols !== undefined) {
    // `sequence<USVString>`: an iterable object (a string is not one).
    const iterator = typeof rawProtocols === 'object' && rawProtocols !== null ? (rawProtocols as { [Symbol.iterator]?: unknown })[Symbol.iterator] : undefined;
    if (typeof iterator !== 'function') throw new TypeError(`${context}: protocols must be a sequence of strings.`);
    protocols = Array.from(rawProtocols as Iterable<unknown>, (protocol) => toUSVString(protocol, `${context}: protocols`));
  }
  const signal = dictionary.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError(`${context}: signal must be an AbortSignal.`);
  return { protocols, signal };
}

// Web IDL §3.7 (the interface shape, src/web/interface.ts): `url`, `opened` and `closed` enumerable
// accessors and `close` an enumerable method, `length` 1 (`new WebSocketStream(url)`) and 0 (`close()`),
// and each of them throws "Illegal invocation" for a `this` the constructor did not make (the promise
// attributes return a promise rejected with it).
defineInterfaceShape(WebSocketStream, {
  name: 'WebSocketStream',
  length: 1,
  attributes: ['url', 'opened', 'closed'],
  operations: { close: 0 },
  brand: brandFromPrivateGetter(WebSocketStream, 'url'),
  promiseAttributes: ['opened', 'closed'],
});
