/**
 * `WebSocket`: one connection, in either role, shaped like the `ws` package's class so that its users
 * move over by changing the import. A client is created with `new WebSocket(url, protocols, options)`;
 * the server creates its connections itself. Events are typed; `send` reports backpressure; the class
 * is async-iterable over its messages.
 */
import { EventEmitter } from 'node:events';
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { ReadyState, type CloseResult } from '../protocol/close-handshake.js';
import { CloseCode, isValidCloseCode } from '../protocol/close-codes.js';
import { DEFAULT_MAX_PAYLOAD, MAX_CLOSE_REASON_BYTES } from '../protocol/constants.js';
import type { ProtocolError } from '../protocol/errors.js';
import { Transport, type SendCallback, type TransportOwner } from './transport.js';
import { Heartbeat, type HeartbeatOptions } from './heartbeat.js';
import {
  BINARY_TYPES,
  isBlob,
  toControlBytes,
  toMessageData,
  toPayload,
  type BinaryType,
  type MessageData,
  type SendData,
} from './data.js';
import { MessageIterator, type ReceivedMessage } from './message-iterator.js';
import { toWsError } from './ws-errors.js';
import {
  addEventListener,
  getHandler,
  removeEventListener,
  setHandler,
  type WsCloseEvent,
  type WsErrorEvent,
  type WsEvent,
  type WsEventType,
  type WsListener,
  type WsMessageEvent,
} from './event-target.js';
import { startClientHandshake, type ClientOptions as HandshakeOptions, type ClientHandshakeHooks } from './client.js';
import type { PerMessageDeflate } from './permessage-deflate.js';
import type { FramedMessage } from './framed-message.js';
import type { Position } from './history.js';
import type { ResumeSendInfo } from './send-dedupe.js';
import type { RateLimitEvent } from './limits-options.js';
import { Reconnector, checkReconnectOptions, type ClientReconnectOptions, type ReconnectEvents, type ReconnectHost, type ReconnectionState } from './reconnect.js';
import { kCounters, kOpenedAt, type ServerCounters } from './stats.js';
import { messageInChannel, messageOutChannel, publishMessageIn, publishMessageOut, slowConsumerChannel } from './diagnostics.js';

/** Client options: the handshake's and the connection's, and `reconnect` (docs/client.md "## Reconnecting"). */
export interface ClientOptions extends HandshakeOptions {
  /**
   * Connect again, with backoff, when the connection ends without the application asking for it
   * (off by default, as in `ws`): `true` for the defaults, or the options (`ClientReconnectOptions`).
   */
  reconnect?: boolean | ClientReconnectOptions;
}

/** Typed events of a `WebSocket` (the reconnect events only come with the `reconnect` option). */
export interface WebSocketEvents extends ReconnectEvents {
  /** The connection is open (client: after the 101 response was validated; server: before `connection`). */
  open: [];
  /** `send`: only on a resume connection (fullduplex.resume.v1), the client send's idempotency key. */
  message: [data: MessageData, isBinary: boolean, send?: ResumeSendInfo];
  /** A ping arrived; `data` is its payload (answered automatically unless `autoPong: false`). */
  ping: [data: Buffer];
  /** A pong arrived; `data` is its payload. */
  pong: [data: Buffer];
  /**
   * The connection is closed (always the last event): the close code the peer sent (RFC 6455 §7.1.5;
   * 1005 when its close frame had none, 1006 when the connection ended without a closing handshake) and
   * its reason (UTF-8 bytes).
   */
  close: [code: number, reason: Buffer];
  /**
   * The connection failed: a protocol violation by the peer ({@link WebSocketProtocolError}, then `close`
   * 1002/1007/1009...), a failed handshake ({@link HandshakeError}), or a socket error.
   */
  error: [error: Error];
  /** The buffered amount fell below half the high-water mark after `send` returned false. */
  drain: [];
  /** Server side, with `limits.messages`: the message rate was exceeded, and what was done (docs/limits.md). */
  rateLimit: [event: RateLimitEvent];
  /** Client: the server's 101 response arrived, before it is validated and `open` follows. */
  upgrade: [response: IncomingMessage];
  /**
   * Client: the server answered with a status other than 101. With a listener, the response is yours
   * (as in `ws`; the handshake timeout still applies); without one, the handshake fails with a
   * {@link HandshakeError} `FD_ERR_HANDSHAKE_STATUS`.
   */
  'unexpected-response': [request: ClientRequest, response: IncomingMessage];
  /**
   * Client, with `followRedirects`: about to follow a redirect to `url`, before `request` is sent (remove
   * its headers or abort it here, as in `ws`).
   */
  redirect: [url: string, request: ClientRequest];
}

/** What to do when a peer does not read fast enough and `bufferedAmount` exceeds `maxBufferedAmount`. */
export type SlowConsumerPolicy = 'close' | 'drop' | 'ignore';

/** Options of one connection, for either role. */
export interface ConnectionOptions {
  /** Largest incoming message, in bytes. Default 64 MiB; 0 means no limit (as in `ws`). */
  maxPayload?: number;
  /** Largest number of frames in one incoming message. Default unlimited (memory is bounded anyway); 0 means no limit (as in `ws`). */
  maxFragments?: number;
  /**
   * Accepted for `ws` compatibility (it bounds the raw chunks `ws` holds before a frame is complete);
   * checked (an integer, at least 0) but without effect here: the receiver keeps what arrives in blocks of
   * at least 4 KiB, so what a message holds is bounded by `maxPayload` in bytes, however it is split.
   */
  maxBufferedChunks?: number;
  /**
   * Accepted for `ws` compatibility; checked (an integer, at least 0) but without effect: while the peer does
   * not read, automatic pongs are coalesced into one (RFC 6455 §5.5.3), so they never pile up.
   */
  maxPendingAutoPongs?: number;
  /** Skip UTF-8 validation of incoming text (RFC 6455 §8.1 asks for it; not recommended). Default false. */
  skipUTF8Validation?: boolean;
  /** Answer pings automatically. Default true. */
  autoPong?: boolean;
  /** How long to wait for the peer during the closing handshake, in ms. Default 30,000. */
  closeTimeout?: number;
  /** When more than this many bytes wait for a peer that does not read, the next send triggers `slowConsumer`. Default 16 MiB. */
  maxBufferedAmount?: number;
  /** Default 'close': fail the connection with 1008. 'drop': refuse the message. 'ignore': keep buffering. */
  slowConsumer?: SlowConsumerPolicy;
  /** `send` returns false above this many buffered bytes (and `drain` follows). Default 1 MiB. */
  highWaterMark?: number;
  /** Ping idle peers and drop the ones that do not answer (`false` to disable). Default: off for a client (a server's default is its own `heartbeat` option's). */
  heartbeat?: HeartbeatOptions | false;
  /**
   * Clients: fill the 4-byte masking key of each frame, synchronously (as `ws`'s option). Default: keys
   * from a pooled CSPRNG. RFC 6455 §10.3 asks for unpredictable keys: replace them only for testing.
   */
  generateMask?: (mask: Buffer) => void;
}

/** The options of `send` (as in `ws`). */
export interface SendOptions {
  /** Send as binary (default: true for bytes, false for strings). */
  binary?: boolean;
  /** Compress with the negotiated extension (default true when one is negotiated). */
  compress?: boolean;
  /** Last frame of the message (default true); false sends a fragment and keeps the message open. */
  fin?: boolean;
  /** Accepted for `ws` compatibility: clients always mask, servers never do. */
  mask?: boolean;
}

const DEFAULT_CLOSE_TIMEOUT = 30_000;
const DEFAULT_MAX_BUFFERED = 16 * 1024 * 1024;
export const DEFAULT_HIGH_WATER_MARK = 1024 * 1024;

/** Heartbeat groups shared by connections with the same settings (one timer each). */
const heartbeats = new Map<string, Heartbeat>();
function heartbeatFor(options: HeartbeatOptions): Heartbeat {
  const key = `${options.interval}/${options.timeout}`;
  let heartbeat = heartbeats.get(key);
  if (heartbeat === undefined) {
    heartbeat = new Heartbeat(options);
    heartbeats.set(key, heartbeat);
  }
  return heartbeat;
}

/** Internal hooks the server uses; not part of the public API. */
export const kAttach = Symbol('fullduplex.attach');
export const kStart = Symbol('fullduplex.start');
export const kBroadcast = Symbol('fullduplex.broadcast');
export const kSetTopics = Symbol('fullduplex.setTopics');
/** A protocol layer above the connection (the resume subprotocol, src/node/resume-session.ts) takes its messages. */
export const kIntercept = Symbol('fullduplex.intercept');
/** The server's per-connection limits (src/node/limits.ts): the message rate, and its actions on the connection. */
export const kMessageRate = Symbol('fullduplex.messageRate');
export const kRateLimited = Symbol('fullduplex.rateLimited');
export const kRateResumed = Symbol('fullduplex.rateResumed');

/** What `onMessage` asks of the message-rate limit (`ConnectionLimits` in src/node/limits.ts). */
export interface MessageRateHook {
  /** Reading is stopped by the limit (the user's `resume()` does not restart it). */
  readonly paused: boolean;
  /** Whether to deliver this message. */
  admit(data: Buffer | Buffer[], isBinary: boolean): boolean;
}

/**
 * What became of a message given to `sendWithStatus` (docs/limits.md "## Per-client limits"):
 * 'sent': accepted, and the buffer is under the high-water mark (`send` would return true).
 * 'queued': accepted, but `bufferedAmount` is over the high-water mark: wait for `drain` (`send`: false).
 * 'dropped': refused by the slow-consumer policy 'drop' (or the reconnect queue): never sent; its callback gets the error.
 * 'closed': not sent: the connection is not open, or the slow-consumer policy 'close' has just failed it.
 */
export type SendStatus = 'sent' | 'queued' | 'dropped' | 'closed';

type NormalizedOptions = Required<Omit<ConnectionOptions, 'heartbeat' | 'maxFragments' | 'maxBufferedChunks' | 'maxPendingAutoPongs' | 'generateMask'>> &
  Pick<ConnectionOptions, 'heartbeat' | 'maxFragments' | 'generateMask'>;

/** Normalized options per options object: a server's 10,000 connections share one (it passes the same object). */
const normalizedOptions = new WeakMap<ConnectionOptions, NormalizedOptions>();

function normalizeOptions(options: ConnectionOptions): NormalizedOptions {
  let normalized = normalizedOptions.get(options);
  if (normalized === undefined) {
    normalized = normalize(options);
    normalizedOptions.set(options, normalized);
  }
  return normalized;
}

/** Check the options of a connection (or of a server's connections) now: `RangeError` for a bad limit. */
export function checkConnectionOptions(options: ConnectionOptions): void {
  normalizeOptions(options);
}

/** A count or size limit: an integer >= 0 (or Infinity); `ws` reads 0 as "no limit", and so do we. */
function limit(options: ConnectionOptions, name: 'maxPayload' | 'maxFragments' | 'maxBufferedChunks' | 'maxPendingAutoPongs'): number | undefined {
  const value = options[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || value < 0 || !(Number.isInteger(value) || value === Infinity)) {
    throw new RangeError(`The ${name} option must be an integer >= 0 (0 for no limit); got ${String(value)}`);
  }
  return value === 0 ? Infinity : value;
}

function normalize(options: ConnectionOptions): NormalizedOptions {
  const maxFragments = limit(options, 'maxFragments');
  limit(options, 'maxBufferedChunks');
  limit(options, 'maxPendingAutoPongs');
  return Object.freeze({
    maxPayload: limit(options, 'maxPayload') ?? DEFAULT_MAX_PAYLOAD,
    maxFragments: maxFragments === Infinity ? undefined : maxFragments,
    skipUTF8Validation: options.skipUTF8Validation ?? false,
    autoPong: options.autoPong ?? true,
    closeTimeout: options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT,
    maxBufferedAmount: options.maxBufferedAmount ?? DEFAULT_MAX_BUFFERED,
    slowConsumer: options.slowConsumer ?? 'close',
    highWaterMark: options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK,
    heartbeat: options.heartbeat,
    generateMask: options.generateMask,
  });
}

/** What a connection needs of its server's topics (`WebSocketServer` implements it). */
export interface TopicHub {
  subscribe(ws: WebSocket, topic: string): void;
  unsubscribe(ws: WebSocket, topic: string): void;
  publish(topic: string, data: Exclude<SendData, Blob>, options: PublishOptions, except: WebSocket | null, callback: PublishCallback | undefined): number;
}

/**
 * Told whether a published message reached the backplane (null: yes, or there is none); for a topic
 * with history, whether the store took it, and then its `position` in the topic.
 */
export type PublishCallback = (error: Error | null, position?: Position) => void;

/** Options of `publish` and `broadcast`. */
export interface PublishOptions {
  /** Send as binary (default: binary for buffers, text for strings). */
  binary?: boolean;
  /** Compress for connections that negotiated permessage-deflate (default: their threshold decides). */
  compress?: boolean;
  /**
   * Only for a topic with history: a key recorded with the message in the store, atomically; a publish of
   * the topic with a key the store still remembers appends nothing and its callback gets the position of
   * the first (for example the `idempotencyKey` of a resume send, to publish it exactly once whatever
   * crashes). A non-empty string of at most 512 characters; a TypeError on a topic without history.
   */
  idempotencyKey?: string;
}

/** A send waiting behind a Blob that is still being read (sends stay in order). */
interface QueuedSend {
  data: SendData | null | undefined;
  options: SendOptions | undefined;
  callback: SendCallback | undefined;
  size: number;
}

/**
 * One WebSocket connection (RFC 6455), client or server side, shaped like `ws`'s `WebSocket`: a client is
 * `new WebSocket(url, protocols?, options?)`; a {@link WebSocketServer} creates the server side. Typed
 * events ({@link WebSocketEvents}), `send` with backpressure, topics on the server side, and
 * `for await (const { data, isBinary } of ws)` over its messages.
 */
export class WebSocket extends EventEmitter<WebSocketEvents> implements TransportOwner {
  /** `readyState` while the handshake is under way: 0. */
  static readonly CONNECTING = ReadyState.CONNECTING;
  /** `readyState` while the connection is open: 1. */
  static readonly OPEN = ReadyState.OPEN;
  /** `readyState` during the closing handshake: 2. */
  static readonly CLOSING = ReadyState.CLOSING;
  /** `readyState` once closed: 3. */
  static readonly CLOSED = ReadyState.CLOSED;
  // On the prototype (below), not on each instance.
  /** 0, as the static `WebSocket.CONNECTING`. */
  declare readonly CONNECTING: typeof ReadyState.CONNECTING;
  /** 1, as the static `WebSocket.OPEN`. */
  declare readonly OPEN: typeof ReadyState.OPEN;
  /** 2, as the static `WebSocket.CLOSING`. */
  declare readonly CLOSING: typeof ReadyState.CLOSING;
  /** 3, as the static `WebSocket.CLOSED`. */
  declare readonly CLOSED: typeof ReadyState.CLOSED;

  #url = '';
  /** The subprotocol the server selected ("" when none). */
  protocol = '';
  /** The names of the negotiated extensions, comma-separated ("" when none), as `ws` gives them. */
  extensions = '';
  /** The negotiated extensions with their parameters: the `Sec-WebSocket-Extensions` value ("" when none). */
  extensionsHeader = '';

  #binaryType: BinaryType = 'nodebuffer';
  #transport: Transport | null = null;
  #deflate: PerMessageDeflate | null = null;
  #state: ReadyState = ReadyState.CONNECTING;
  /** Shared by every connection a server creates with the same options (see `normalizeOptions`). */
  #options: NormalizedOptions;
  #heartbeat: Heartbeat | null = null;
  #isServer = false;
  #paused = false;
  #closeResult: CloseResult | null = null;
  #blobQueue: QueuedSend[] | null = null;
  #blobQueueBytes = 0;
  /** close() was called while a Blob was being read: the close frame follows the queued sends. */
  #closeAfterQueue: { code: number | undefined; reason: Buffer | undefined } | null = null;
  #afterCloseBytes = 0;
  #handshake: ClientHandshakeHooks | null = null;
  #errorEmitted = false;
  /** With the `reconnect` option: the backoff, the queue of sends, and what the next handshake needs. */
  #reconnect: Reconnector | null = null;
  #connectArgs: { address: string | URL; protocols: string[]; options: HandshakeOptions } | null = null;

  /**
   * Connect to a WebSocket server (`ws://`, `wss://`, or `http(s)://` mapped to them).
   * Throws `SyntaxError` for an invalid URL or subprotocol list.
   */
  constructor(address: string | URL, protocols?: string | readonly string[] | ClientOptions, options?: ClientOptions);
  /** @internal the server side: created by `WebSocketServer`. */
  constructor(address: null, protocols: undefined, options: ConnectionOptions);
  constructor(address: string | URL | null, protocols?: string | readonly string[] | ClientOptions, options?: ClientOptions) {
    super();
    if (protocols !== undefined && typeof protocols === 'object' && !Array.isArray(protocols)) {
      options = protocols as ClientOptions;
      protocols = undefined;
    }
    const opts = options ?? {};
    // A server passes its own options object (never changed) to every connection: share the result.
    this.#options = address === null ? normalizeOptions(opts) : normalize(opts);
    if (address === null) {
      this.#isServer = true;
      return;
    }
    const list = protocols === undefined ? [] : typeof protocols === 'string' ? [protocols] : [...(protocols as readonly string[])];
    const reconnectOptions = checkReconnectOptions(opts.reconnect);
    if (reconnectOptions === null) {
      this.#connect(address, list, opts);
      return;
    }
    const { reconnect: _reconnect, ...handshakeOptions } = opts;
    this.#connectArgs = { address, protocols: list, options: handshakeOptions };
    this.#reconnect = new Reconnector(reconnectOptions, this.#reconnectHost());
    this.#connect(address, list, handshakeOptions);
  }

  /** Start an opening handshake (the constructor's, and each reconnect attempt's). */
  #connect(address: string | URL, protocols: string[], options: HandshakeOptions): void {
    const reconnect = this.#reconnect;
    const { url, hooks } = startClientHandshake(this, address, protocols, options, {
      websocket: this,
      attach: (socket, head, protocol, extensions, deflate) => this[kAttach](socket, head, protocol, extensions, deflate),
      start: () => {
        // `reconnected` (and the queue's sends) right after `open`, before the first message: the
        // bytes that came with the 101 response are read in kStart, and would otherwise come first.
        reconnect?.opened();
        this[kStart]();
      },
      fail: (error) => this.#failHandshake(error),
      setUrl: (next) => {
        this.#url = next;
      },
      emit: (event, ...args) => this.#emitSafely(event, ...args),
      // Reconnecting: a refusal read by an `unexpected-response` listener ends the attempt at once
      // (no error: the listener saw it), and its status and Retry-After still decide the next one.
      ...(reconnect !== null && { refusalHandled: (refusal) => this.#failHandshake(refusal, false) }),
    });
    this.#url = url;
    this.#handshake = hooks;
  }

  /** What the reconnector drives (src/node/reconnect.ts). */
  #reconnectHost(): ReconnectHost {
    return {
      connect: () => {
        const args = this.#connectArgs!;
        try {
          this.#connect(args.address, args.protocols, args.options);
        } catch (error) {
          this.#failHandshake(error as Error);
        }
      },
      send: (data, options, callback) => {
        this.send(data, options as SendOptions | undefined, callback);
      },
      reset: () => {
        // The ended connection is forgotten; the next one starts from CONNECTING with the same listeners.
        this.#state = ReadyState.CONNECTING;
        this.#transport = null;
        this.#deflate = null;
        this.#heartbeat = null;
        this.#handshake = null;
        this.#closeAfterQueue = null;
        this.#afterCloseBytes = 0;
        this.#errorEmitted = false;
        // Sends still waiting behind a Blob of the ended connection are lost with it: say so.
        const stale = this.#blobQueue;
        this.#blobQueue = null;
        this.#blobQueueBytes = 0;
        for (const entry of stale ?? []) {
          if (entry.callback !== undefined) process.nextTick(entry.callback, new Error('The WebSocket connection closed before the data was sent'));
        }
      },
      emit: (event, ...args) => (this.#emitSafely as (event: string, ...args: unknown[]) => void)(event, ...args),
      finish: (error) => this.#finish(error),
      sendingFragmented: () => this.#transport?.connection.sendingFragmented ?? false,
    };
  }

  /** close() or terminate() between attempts: CLOSED now, `close` on the next tick (as `ws` emits it). */
  #finishSoon(): void {
    this.#state = ReadyState.CLOSED;
    process.nextTick(() => this.#finish(null));
  }

  /** Reconnecting is over for good: the held error (if any), then the one `close`. */
  #finish(error: Error | null): void {
    this.#state = ReadyState.CLOSED;
    this.#handshake = null;
    if (error !== null && this.listenerCount('error') > 0) this.#emitSafely('error', error);
    const result = (this.#closeResult ??= { code: CloseCode.Abnormal, reason: EMPTY, wasClean: false, failed: false });
    this.#emitSafely('close', result.code, result.reason);
  }

  /**
   * With the `reconnect` option: attempts, queue, drops, and why it ended (`endedBy`); null without it.
   */
  get reconnection(): ReconnectionState | null {
    return this.#reconnect;
  }

  // --- state ---------------------------------------------------------------------------------------

  /** The state: `CONNECTING` (0), `OPEN` (1), `CLOSING` (2) or `CLOSED` (3). */
  get readyState(): ReadyState {
    return this.#state;
  }

  /** The URL this client connected to (after redirects); "" on the server side. */
  get url(): string {
    return this.#url;
  }

  /**
   * How binary messages are given to `message` listeners: `'nodebuffer'` (the default), `'arraybuffer'`,
   * `'fragments'` (an array of the frames' buffers) or `'blob'`, as in `ws`. An unknown value is ignored.
   */
  get binaryType(): BinaryType {
    return this.#binaryType;
  }

  set binaryType(type: BinaryType) {
    if (!BINARY_TYPES.includes(type)) return; // as in browsers and `ws`: an unknown type is ignored
    this.#binaryType = type;
    this.#transport?.connection.setKeepFragments(type === 'fragments');
  }

  /** Bytes accepted by `send` and not yet handed to the operating system. */
  get bufferedAmount(): number {
    return (this.#transport?.bufferedAmount ?? 0) + this.#blobQueueBytes + this.#afterCloseBytes + (this.#reconnect?.queuedBytes ?? 0);
  }

  /** Whether `pause()` stopped the reading (until `resume()`). */
  get isPaused(): boolean {
    return this.#paused;
  }

  /** The underlying socket (`net.Socket` or `tls.TLSSocket`), once connected. */
  get socket(): Duplex | null {
    return this.#transport?.socket ?? null;
  }

  /** How the connection ended (code, reason, wasClean), once closed. */
  get closeResult(): CloseResult | null {
    return this.#closeResult;
  }

  // --- wiring (server and client handshakes) -------------------------------------------------------

  /** @internal Take over an upgraded socket. Events start flowing after `kStart`. */
  [kAttach](socket: Duplex, head: Buffer, protocol: string, extensions: string, deflate: PerMessageDeflate | null = null): void {
    this.protocol = protocol;
    this.extensionsHeader = extensions;
    this.extensions = extensionNames(extensions);
    const options = this.#options;
    const transport = new Transport(
      socket,
      {
        role: this.#isServer ? 'server' : 'client',
        maxPayload: options.maxPayload,
        ...(options.maxFragments !== undefined && { maxFragments: options.maxFragments }),
        ...(options.generateMask !== undefined && !this.#isServer && { maskKey: maskKeyFrom(options.generateMask) }),
        skipUtf8Validation: options.skipUTF8Validation,
        autoPong: options.autoPong,
        keepFragments: this.#binaryType === 'fragments',
        closeTimeout: options.closeTimeout,
        highWaterMark: options.highWaterMark,
      },
      this,
    );
    this.#transport = transport;
    if (deflate !== null) {
      transport.connection.setExtension(deflate, deflate);
      this.#deflate = deflate;
    }
    this.#head = head;
    (socket as { setNoDelay?: (noDelay: boolean) => void }).setNoDelay?.(true);
    (socket as { setTimeout?: (ms: number) => void }).setTimeout?.(0);
    this.#state = ReadyState.OPEN;
  }

  #head: Buffer = EMPTY;
  /** The server's topics (server side only), and this connection's subscriptions (made on first use). */
  #hub: TopicHub | null = null;
  #subscriptions: Set<string> | null = null;

  /** @internal Announced (`open` / `connection` emitted): start reading. */
  [kStart](): void {
    const transport = this.#transport;
    if (transport === null) return;
    const head = this.#head;
    this.#head = EMPTY;
    const heartbeat = this.#options.heartbeat;
    if (heartbeat) {
      this.#heartbeat = heartbeatFor(heartbeat);
      this.#heartbeat.add(transport);
    }
    transport.start(head);
    if (this.#paused) transport.setPausedByUser(true);
  }

  /**
   * The handshake failed with `error`. Reconnecting, `reported` false means the error is only the
   * refusal's status for the policy, not an error to emit (an `unexpected-response` listener had it).
   */
  #failHandshake(error: Error, reported = true): void {
    this.#handshake = null;
    this.#state = ReadyState.CLOSED;
    if (this.#reconnect !== null) {
      // A failed attempt (refused, unreachable, timed out): the policy decides whether another follows.
      this.#closeResult = { code: CloseCode.Abnormal, reason: EMPTY, wasClean: false, failed: false };
      if (reported) this.#reconnect.ended(CloseCode.Abnormal, '', error, 0);
      else this.#reconnect.ended(CloseCode.Abnormal, '', null, 0, error);
      return;
    }
    this.#emitError(error);
    this.#closeResult = { code: CloseCode.Abnormal, reason: EMPTY, wasClean: false, failed: false };
    this.#emitSafely('close', CloseCode.Abnormal, EMPTY);
  }

  // --- sending -------------------------------------------------------------------------------------

  /**
   * Send a message (text for strings, binary for bytes, unless `options.binary` says otherwise).
   * Returns false when `bufferedAmount` is above the high-water mark: wait for `drain` before sending
   * more. `callback` runs once the data is written out (or with an error if it cannot be).
   * Throws while CONNECTING, as `ws` does. With no data (or `undefined`, `null`), sends an empty binary
   * message, as `ws` does.
   */
  send(data?: SendData | null, options?: SendOptions | SendCallback, callback?: SendCallback): boolean {
    if (typeof options === 'function') {
      callback = options;
      options = undefined;
    }
    // Reconnecting, in the middle of a message held in the queue or cut by a lost connection (reconnect.ts).
    if (this.#reconnect?.intercepting === true) return this.#reconnect.enqueue(data, options, callback);
    if (this.#state === ReadyState.CONNECTING) {
      // Reconnecting: kept for the next connection (or refused), see reconnect.ts.
      if (this.#reconnect !== null && !this.#reconnect.stopped) return this.#reconnect.enqueue(data, options, callback);
      throw new Error('WebSocket is not open: readyState 0 (CONNECTING)');
    }
    if (this.#state !== ReadyState.OPEN || this.#transport === null || !this.#transport.connection.canSend) {
      if (this.#reconnect !== null && !this.#reconnect.stopped) return this.#reconnect.enqueue(data, options, callback);
      this.#sendAfterClose(data, callback);
      return false;
    }
    if (this.#blobQueue !== null || isBlob(data)) {
      this.#queueSend(data, options, callback);
      return !this.#transport.checkBackpressure();
    }
    return this.#sendNow(data as Exclude<SendData, Blob>, options, callback);
  }

  /**
   * `send`, telling what became of the message (`SendStatus`): 'sent', 'queued' (over the high-water
   * mark: wait for `drain`), 'dropped' (the slow-consumer policy 'drop', or the reconnect queue, refused
   * it) or 'closed' (not open, or the slow-consumer policy 'close' failed the connection). `send`
   * keeps its boolean (true exactly when this says 'sent'), as `ws` users expect; this costs `send`
   * nothing. Throws where `send` throws.
   */
  sendWithStatus(data?: SendData | null, options?: SendOptions | SendCallback, callback?: SendCallback): SendStatus {
    this.#refusal = null;
    const reconnect = this.#reconnect;
    const droppedBefore = reconnect?.droppedMessages ?? 0;
    if (this.send(data, options, callback)) return 'sent';
    if (this.#refusal !== null) return this.#refusal;
    if (reconnect !== null && reconnect.droppedMessages !== droppedBefore) return 'dropped';
    if (this.#state === ReadyState.OPEN || (reconnect !== null && !reconnect.stopped)) return 'queued';
    return 'closed';
  }

  /** Why the last `send` refused its message ('dropped' or 'closed'), for `sendWithStatus`; set on those paths only. */
  #refusal: SendStatus | null = null;

  /**
   * @internal A server's broadcast: the message framed once (`chunks`, unmasked), written as is unless
   * this connection must treat it as its own send (it compresses the message, or Blob sends wait
   * before it). Returns whether it was accepted for sending.
   */
  // --- pub/sub (server side) ------------------------------------------------------------------------

  /**
   * Subscribe to `topic` (any string, matched exactly): messages published to it (`server.publish`,
   * or another connection's `publish`) are sent to this connection. Returns false if it was subscribed
   * already, or is closing. Subscriptions end by themselves when the connection closes.
   */
  subscribe(topic: string): boolean {
    const hub = this.#requireHub('subscribe');
    if (this.#state !== ReadyState.OPEN) return false;
    const subscriptions = (this.#subscriptions ??= new Set());
    if (subscriptions.has(topic)) return false;
    hub.subscribe(this, topic); // may refuse (throw): a resume connection subscribes with its own messages
    subscriptions.add(topic);
    return true;
  }

  /** Stop receiving `topic`'s messages. Returns false if this connection was not subscribed. */
  unsubscribe(topic: string): boolean {
    const hub = this.#requireHub('unsubscribe');
    if (this.#subscriptions === null || !this.#subscriptions.delete(topic)) return false;
    hub.unsubscribe(this, topic);
    return true;
  }

  /** The topics this connection is subscribed to. */
  get topics(): string[] {
    return this.#subscriptions === null ? [] : [...this.#subscriptions];
  }

  /** Whether this connection is subscribed to `topic`. */
  isSubscribed(topic: string): boolean {
    return this.#subscriptions?.has(topic) ?? false;
  }

  /**
   * Publish to every other subscriber of `topic` (not to this connection, subscribed or not), framed
   * once; see `WebSocketServer.publish`. Returns the number of local subscribers it was written to.
   */
  publish(topic: string, data: Exclude<SendData, Blob>, options: PublishOptions = {}, callback?: PublishCallback): number {
    return this.#requireHub('publish').publish(topic, data, options, this, callback);
  }

  /** @internal What receives this connection's messages instead of `message` listeners (null: they do). */
  [kIntercept]: ((data: Buffer | Buffer[], isBinary: boolean) => void) | null = null;

  /** @internal The server's message-rate limit of this connection (null: none). */
  [kMessageRate]: MessageRateHook | null = null;

  /** @internal The message-rate limit acted: stop reading, or fail the connection (1008); then `rateLimit`. */
  [kRateLimited](event: RateLimitEvent): void {
    const transport = this.#transport;
    if (event.action === 'pause') {
      transport?.setPausedByUser(true);
    } else if (event.action === 'close' && this.#state === ReadyState.OPEN && transport !== null) {
      this.#state = ReadyState.CLOSING;
      transport.connection.fail(CloseCode.PolicyViolation, 'Message rate exceeded');
    }
    this.#emitSafely('rateLimit', event);
  }

  /** @internal The message-rate pause is over: read again, unless the user paused too. */
  [kRateResumed](): void {
    if (!this.#paused && this.#state !== ReadyState.CLOSED) this.#transport?.setPausedByUser(false);
  }

  /** @internal Operator's view (stats.ts): the counters of the server that accepted this connection (null: a client), and when it opened. */
  [kCounters]: ServerCounters | null = null;
  /** @internal When the connection opened (`performance.now()`), for `connection:close`'s duration. */
  [kOpenedAt] = 0;

  /** @internal The server's topics, given to each connection it creates. */
  [kSetTopics](hub: TopicHub): void {
    this.#hub = hub;
  }

  #requireHub(method: string): TopicHub {
    if (this.#hub === null) throw new Error(`${method}() is for connections accepted by a WebSocketServer`);
    return this.#hub;
  }

  #unsubscribeAll(): void {
    const subscriptions = this.#subscriptions;
    if (subscriptions === null || this.#hub === null) return;
    this.#subscriptions = null;
    for (const topic of subscriptions) this.#hub.unsubscribe(this, topic);
  }

  /** @internal Write a message framed once for many connections (publish, broadcast). */
  [kBroadcast](message: FramedMessage, compress: boolean | undefined): boolean {
    const transport = this.#transport;
    if (this.#state !== ReadyState.OPEN || transport === null || !transport.connection.canSend) return false;
    // A fragmented message of this connection's own is in progress: nothing may come between its frames.
    if (transport.connection.sendingFragmented) return false;
    const compresses = this.#compresses(compress, message.size);
    if (this.#blobQueue !== null || (compresses && this.#deflate!.sharedKey === null)) {
      // Behind a Blob being read, or compressed with this connection's own context: as `send` would.
      this.send(message.data, { binary: message.binary, ...(compress !== undefined && { compress }) });
      return true;
    }
    if (this.#overBufferLimit(transport)) {
      this.#slowConsumer(undefined);
      return false;
    }
    if (compresses) transport.connection.sendShared(message.compressedFor(this.#deflate!));
    else transport.connection.sendSerialized(message.frame);
    // Operator's view: count it, and tell diagnostics subscribers (stats.ts, diagnostics.ts).
    const counters = this[kCounters];
    if (counters !== null) counters.messagesOut++;
    if (messageOutChannel.hasSubscribers) publishMessageOut(this, message.size, message.binary, true);
    transport.checkBackpressure();
    return true;
  }

  #sendNow(data: Exclude<SendData, Blob> | null | undefined, options: SendOptions | undefined, callback: SendCallback | undefined): boolean {
    const transport = this.#transport!;
    const { payload, binary } = toPayload(data);
    const isBinary = options?.binary ?? binary;
    // The limit applies to what is already waiting: a single message larger than the limit may still
    // go out, but nothing is added behind a backlog over it. Memory stays under the limit plus one message.
    if (this.#overBufferLimit(transport)) {
      return this.#slowConsumer(callback);
    }
    // Compress (when negotiated) unless asked not to, or the message is under the threshold.
    const compress = this.#compresses(options?.compress, payload);
    const sendOptions = options?.fin === false ? (compress ? FRAGMENT_COMPRESSED : FRAGMENT) : compress ? COMPRESSED : undefined;
    const connection = transport.connection;
    try {
      if (isBinary) connection.sendBinary(typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload, sendOptions);
      else connection.sendText(payload, sendOptions);
    } catch (error) {
      if (callback !== undefined) process.nextTick(callback, error as Error);
      else throw error;
      this.#refusal = 'dropped';
      return false;
    }
    // Operator's view: count it (a fragmented message once, at its last frame), and tell diagnostics subscribers.
    const counters = this[kCounters];
    if (counters !== null && options?.fin !== false) counters.messagesOut++;
    if (messageOutChannel.hasSubscribers) publishMessageOut(this, payload, isBinary, options?.fin !== false);
    if (callback !== undefined) {
      // Behind the extension's queue (compression), the frame is written later: attach the callback
      // to the write that carries it, not to the current one.
      if (!connection.whenWritten((error) => (error === null ? transport.addCallback(callback) : process.nextTick(callback, error)))) {
        transport.addCallback(callback);
      }
    }
    return !transport.checkBackpressure();
  }

  /**
   * Whether a message goes out compressed: negotiated, not refused, and at least the threshold in size
   * (`message` is the payload, or its size in bytes when known; measured only when it matters).
   */
  #compresses(compress: boolean | undefined, message: string | Buffer | number): boolean {
    const deflate = this.#deflate;
    if (deflate === null || compress === false) return false;
    return (typeof message === 'number' ? message : payloadSize(message)) >= deflate.threshold;
  }

  /** Whether the backlog is over `maxBufferedAmount` and the slow-consumer policy applies. */
  #overBufferLimit(transport: Transport): boolean {
    return transport.bufferedAmount > this.#options.maxBufferedAmount && this.#options.slowConsumer !== 'ignore';
  }

  #slowConsumer(callback: SendCallback | undefined): boolean {
    const limit = this.#options.maxBufferedAmount;
    const error = new Error(`Slow consumer: more than ${limit} bytes are waiting to be sent`);
    (error as Error & { code?: string }).code = 'FD_ERR_SLOW_CONSUMER';
    this.#refusal = 'dropped';
    if (slowConsumerChannel.hasSubscribers) {
      slowConsumerChannel.publish({ socket: this, action: this.#options.slowConsumer === 'drop' ? 'drop' : 'close', bufferedAmount: this.bufferedAmount, limit });
    }
    if (this.#options.slowConsumer === 'close') {
      this.#refusal = 'closed';
      this.#state = ReadyState.CLOSING;
      this.#transport?.connection.fail(CloseCode.PolicyViolation, 'Slow consumer');
    }
    if (callback !== undefined) process.nextTick(callback, error);
    return false;
  }

  #queueSend(data: SendData | null | undefined, options: SendOptions | undefined, callback: SendCallback | undefined): void {
    const size = isBlob(data) ? data.size : typeof data === 'string' ? Buffer.byteLength(data) : toPayload(data as Exclude<SendData, Blob>).payload.length;
    const entry: QueuedSend = { data, options, callback, size };
    this.#blobQueueBytes += size;
    if (this.#blobQueue === null) {
      this.#blobQueue = [entry];
      void this.#drainBlobQueue();
    } else {
      this.#blobQueue.push(entry);
    }
  }

  /** Send queued items in order, reading each Blob before sending it. */
  async #drainBlobQueue(): Promise<void> {
    const queue = this.#blobQueue!;
    while (queue.length > 0) {
      const entry = queue[0]!;
      let data: Exclude<SendData, Blob> | null | undefined;
      if (isBlob(entry.data)) {
        try {
          data = Buffer.from(await entry.data.arrayBuffer());
        } catch (error) {
          if (this.#blobQueue !== queue) return; // reconnecting: that connection is gone, its sends were reported
          this.#failBlobRead(error);
          return;
        }
        if (this.#blobQueue !== queue) return;
      } else {
        data = entry.data;
      }
      queue.shift();
      this.#blobQueueBytes -= entry.size;
      const options = isBlob(entry.data) && entry.options?.binary === undefined ? { ...entry.options, binary: true } : entry.options;
      const sending = this.#state === ReadyState.OPEN || (this.#state === ReadyState.CLOSING && this.#closeAfterQueue !== null);
      if (!sending || this.#transport === null || !this.#transport.connection.canSend) {
        this.#sendAfterClose(data, entry.callback);
        continue;
      }
      this.#sendNow(data, options, entry.callback);
    }
    this.#blobQueue = null;
    const pendingClose = this.#closeAfterQueue;
    this.#closeAfterQueue = null;
    if (pendingClose !== null && this.#state === ReadyState.CLOSING && this.#transport !== null && !this.#transport.connection.closeSent) {
      this.#transport.connection.close(pendingClose.code, pendingClose.reason);
      this.#transport.armCloseTimer();
    }
  }

  /**
   * A Blob could not be read (its file is gone, or `arrayBuffer()` rejected): as `ws` does
   * (ws/lib/sender.js `getBlobData`, websocket.js `senderOnError`), every send waiting in the queue gets
   * the error in its callback, `error` is emitted with it, and the connection is closed without a
   * close frame (TCP FIN after what is already written; `close` reports 1006).
   */
  #failBlobRead(error: unknown): void {
    const queue = this.#blobQueue!;
    this.#blobQueue = null;
    this.#blobQueueBytes = 0;
    this.#closeAfterQueue = null;
    for (const entry of queue) entry.callback?.(error as Error);
    if (this.#state === ReadyState.CLOSED) return;
    this.#state = ReadyState.CLOSING;
    this.#transport?.closeTransport();
    this.#emitError(error as Error);
  }

  /** As in `ws` and browsers: data sent after closing counts in `bufferedAmount` and is never sent. */
  #sendAfterClose(data: SendData | null | undefined, callback: SendCallback | undefined): void {
    if (data !== undefined && data !== null && !isBlob(data)) {
      try {
        this.#afterCloseBytes += toPayload(data).payload.length;
      } catch {
        // counted as nothing
      }
    } else if (isBlob(data)) {
      this.#afterCloseBytes += data.size;
    }
    if (callback !== undefined) {
      const state = this.#state;
      const name = state === ReadyState.CLOSING ? 'CLOSING' : 'CLOSED';
      process.nextTick(callback, new Error(`WebSocket is not open: readyState ${state} (${name})`));
    }
  }

  /** Send a ping (at most 125 bytes; numbers are sent as their text). `mask` is ignored (see `send`). */
  ping(data?: unknown, mask?: boolean | SendCallback, callback?: SendCallback): void {
    this.#control('ping', data, mask, callback);
  }

  /** Send an unsolicited pong (at most 125 bytes). */
  pong(data?: unknown, mask?: boolean | SendCallback, callback?: SendCallback): void {
    this.#control('pong', data, mask, callback);
  }

  #control(kind: 'ping' | 'pong', data: unknown, mask: boolean | SendCallback | undefined, callback: SendCallback | undefined): void {
    if (typeof data === 'function') {
      callback = data as SendCallback;
      data = undefined;
    } else if (typeof mask === 'function') {
      callback = mask;
    }
    if (this.#reconnect !== null && this.#state !== ReadyState.OPEN && !this.#reconnect.stopped) {
      // Reconnecting: a ping or pong belongs to one connection and is not queued.
      if (callback !== undefined) process.nextTick(callback, new Error(`WebSocket is not open: reconnecting (readyState ${this.#state})`));
      return;
    }
    if (this.#state === ReadyState.CONNECTING) throw new Error('WebSocket is not open: readyState 0 (CONNECTING)');
    const bytes = toControlBytes(data);
    if (bytes.length > 125) throw new RangeError('The data size must not be greater than 125 bytes');
    const transport = this.#transport;
    if (this.#state !== ReadyState.OPEN || transport === null || transport.connection.closeSent) {
      this.#sendAfterClose(bytes, callback);
      return;
    }
    if (kind === 'ping') transport.connection.ping(bytes);
    else transport.connection.pong(bytes);
    if (callback !== undefined) transport.addCallback(callback);
  }

  // --- closing -------------------------------------------------------------------------------------

  /**
   * Start the closing handshake with an optional code (1000, 1001–1003, 1007–1014, 3000–4999) and
   * reason (at most 123 UTF-8 bytes). While connecting, abort the handshake instead.
   */
  close(code?: number, reason?: string | Buffer): void {
    if (code !== undefined && (typeof code !== 'number' || !Number.isInteger(code) || !isValidCloseCode(code))) {
      throw new TypeError('First argument must be a valid error code number');
    }
    // As in `ws`: a reason without a code is not sent.
    const reasonBytes = code === undefined || reason === undefined ? undefined : toControlBytes(reason);
    if (reasonBytes !== undefined && reasonBytes.length > MAX_CLOSE_REASON_BYTES) {
      throw new RangeError('The message must not be greater than 123 bytes');
    }
    if (this.#state === ReadyState.CLOSED && this.#reconnect?.waiting !== true) return;
    // Reconnecting: no attempt after this; between attempts it is over at once.
    if (this.#reconnect?.stop() === true) return this.#finishSoon();
    if (this.#state === ReadyState.CLOSED) return;
    if (this.#state === ReadyState.CONNECTING) {
      this.#handshake?.abort(new Error('WebSocket was closed before the connection was established'));
      return;
    }
    const transport = this.#transport!;
    this.#state = ReadyState.CLOSING;
    if (transport.connection.closeSent) {
      // Already closing: if the peer's close arrived too, make sure TCP goes away.
      if (transport.connection.closeReceived && this.#isServer) transport.closeTransport();
      return;
    }
    if (this.#blobQueue !== null) {
      // Sends accepted before close() go out first: #drainBlobQueue sends the close frame after them.
      this.#closeAfterQueue ??= { code, reason: reasonBytes };
      return;
    }
    transport.connection.close(code, reasonBytes);
    transport.armCloseTimer();
  }

  /** Close the connection at once, without the closing handshake. `close` reports 1006. */
  terminate(): void {
    if (this.#state === ReadyState.CLOSED && this.#reconnect?.waiting !== true) return;
    if (this.#reconnect?.stop() === true) return this.#finishSoon();
    if (this.#state === ReadyState.CLOSED) return;
    if (this.#state === ReadyState.CONNECTING) {
      this.#handshake?.abort(new Error('WebSocket was closed before the connection was established'));
      return;
    }
    this.#state = ReadyState.CLOSING;
    this.#closeAfterQueue = null;
    this.#transport?.destroy();
  }

  /** Stop reading from the socket (the peer's sends then wait in TCP buffers). */
  pause(): void {
    // Reconnecting, the flag holds between connections too (the next one starts paused).
    if ((this.#state === ReadyState.CONNECTING && this.#reconnect === null) || this.#state === ReadyState.CLOSED) return;
    this.#paused = true;
    this.#transport?.setPausedByUser(true);
  }

  /** Read from the socket again after `pause()`. */
  resume(): void {
    if ((this.#state === ReadyState.CONNECTING && this.#reconnect === null) || this.#state === ReadyState.CLOSED) return;
    this.#paused = false;
    // The message-rate limit may hold the reading stopped still (src/node/limits.ts).
    this.#transport?.setPausedByUser(this[kMessageRate]?.paused === true);
  }

  /** Iterate over incoming messages until the connection closes: `for await (const { data, isBinary } of ws)`. */
  [Symbol.asyncIterator](): AsyncIterableIterator<ReceivedMessage> {
    return new MessageIterator(this);
  }

  // --- the browser-style listener API that `ws` also offers ------------------------------------------

  /** `ws`-compatible: listen with an event object (`event.data`, `event.code`...). */
  addEventListener<K extends WsEventType>(type: K, listener: WsListener<K>, options?: { once?: boolean }): void {
    addEventListener(this, type, listener, options);
  }

  /** `ws`-compatible: remove a listener added with `addEventListener`. */
  removeEventListener<K extends WsEventType>(type: K, listener: WsListener<K>): void {
    removeEventListener(this, type, listener);
  }

  /** `ws`-compatible: the one `open` listener set as a property (an event object), or null. */
  get onopen(): ((event: WsEvent) => void) | null {
    return getHandler(this, 'open');
  }
  set onopen(handler: ((event: WsEvent) => void) | null) {
    setHandler(this, 'open', handler);
  }
  /** `ws`-compatible: the one `message` listener set as a property (`event.data`), or null. */
  get onmessage(): ((event: WsMessageEvent) => void) | null {
    return getHandler(this, 'message');
  }
  set onmessage(handler: ((event: WsMessageEvent) => void) | null) {
    setHandler(this, 'message', handler);
  }
  /** `ws`-compatible: the one `close` listener set as a property (`event.code`, `event.reason`, `event.wasClean`), or null. */
  get onclose(): ((event: WsCloseEvent) => void) | null {
    return getHandler(this, 'close');
  }
  set onclose(handler: ((event: WsCloseEvent) => void) | null) {
    setHandler(this, 'close', handler);
  }
  /** `ws`-compatible: the one `error` listener set as a property (`event.error`), or null. */
  get onerror(): ((event: WsErrorEvent) => void) | null {
    return getHandler(this, 'error');
  }
  set onerror(handler: ((event: WsErrorEvent) => void) | null) {
    setHandler(this, 'error', handler);
  }

  // --- TransportOwner ------------------------------------------------------------------------------

  /** @internal */
  onMessage(data: Buffer | Buffer[], isBinary: boolean): void {
    // Operator's view: count it, and tell diagnostics subscribers (stats.ts, diagnostics.ts).
    const counters = this[kCounters];
    if (counters !== null) counters.messagesIn++;
    if (messageInChannel.hasSubscribers) publishMessageIn(this, data, isBinary);
    const rate = this[kMessageRate];
    if (rate !== null && !rate.admit(data, isBinary)) return;
    const intercept = this[kIntercept];
    if (intercept !== null) return intercept(data, isBinary);
    let message: MessageData;
    if (isBinary) message = toMessageData(data, this.#binaryType);
    else message = Array.isArray(data) ? Buffer.concat(data) : data;
    this.#emitSafely('message', message, isBinary);
  }

  /** @internal */
  onPing(data: Buffer): void {
    this.#emitSafely('ping', data);
  }

  /** @internal */
  onPong(data: Buffer): void {
    this.#emitSafely('pong', data);
  }

  /** @internal */
  onCloseFrame(): void {
    this.#state = ReadyState.CLOSING;
  }

  /** @internal */
  onProtocolError(error: ProtocolError): void {
    this.#state = ReadyState.CLOSING;
    // As `ws` reports it: its error class and `WS_ERR_*` code (ours stays in `fdCode`).
    this.#emitError(toWsError(error));
  }

  /** @internal */
  onDrain(): void {
    this.#emitSafely('drain');
  }

  /** @internal */
  onClosed(result: CloseResult): void {
    this.#state = ReadyState.CLOSED;
    this.#closeResult = result;
    this.#unsubscribeAll();
    if (this.#heartbeat !== null && this.#transport !== null) this.#heartbeat.delete(this.#transport);
    this.#deflate?.close();
    if (this.#reconnect !== null) {
      // Reconnecting: `close` only when it is over for good (reconnect.ts decides, then calls #finish).
      this.#reconnect.ended(result.code, result.reason.toString(), null, this.#transport?.unsentBytes ?? 0);
      return;
    }
    this.#emitSafely('close', result.code, result.reason);
  }

  // --- events --------------------------------------------------------------------------------------

  /**
   * Emit an event; an exception thrown by a listener is reported through `error` (and does not break
   * the connection's parser). With no `error` listener it is rethrown asynchronously, like any
   * exception from an event handler.
   */
  #emitSafely<K extends keyof WebSocketEvents>(event: K, ...args: WebSocketEvents[K]): void {
    try {
      (this.emit as (event: K, ...args: WebSocketEvents[K]) => boolean)(event, ...args);
    } catch (error) {
      if (event !== 'error' && this.listenerCount('error') > 0) {
        this.#emitSafely('error', error instanceof Error ? error : new Error(String(error)));
      } else {
        process.nextTick(() => {
          throw error;
        });
      }
    }
  }

  /**
   * Report a connection error (protocol violation, failed handshake). Only when someone listens: a
   * hostile peer must not be able to crash a server that did not add an `error` listener.
   */
  #emitError(error: Error): void {
    if (this.#reconnect !== null) {
      // Held until the connection has ended: given to `reconnecting`, or emitted before the final `close`.
      this.#reconnect.noteError(error);
      return;
    }
    if (this.#errorEmitted) return;
    this.#errorEmitted = true;
    if (this.listenerCount('error') > 0) this.#emitSafely('error', error);
  }
}

// The ready state constants on the prototype, as `ws` has them (enumerable, read-only).
for (const name of ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'] as const) {
  Object.defineProperty(WebSocket.prototype, name, { value: ReadyState[name], enumerable: true, writable: false, configurable: false });
}

const EMPTY = Buffer.alloc(0);
const FRAGMENT = { fin: false } as const;
const FRAGMENT_COMPRESSED = { fin: false, compress: true } as const;
const COMPRESSED = { compress: true } as const;

/** `permessage-deflate; client_max_window_bits=10, x` → `permessage-deflate,x` (what `ws` shows as `extensions`). */
function extensionNames(header: string): string {
  if (header === '') return '';
  return header
    .split(',')
    .map((extension) => extension.split(';', 1)[0]!.trim())
    .join(',');
}

/** A `maskKey` source over a `ws`-style `generateMask(buffer)`: a fresh 4-byte key per frame. */
function maskKeyFrom(generateMask: (mask: Buffer) => void): () => Uint8Array {
  return () => {
    const key = Buffer.allocUnsafe(4);
    generateMask(key);
    return key;
  };
}

/** Bytes of a payload (for the compression threshold; a string's UTF-16 length is close enough below it). */
function payloadSize(payload: string | Buffer): number {
  return typeof payload === 'string' ? (payload.length < 1 << 20 ? Buffer.byteLength(payload) : payload.length) : payload.length;
}
