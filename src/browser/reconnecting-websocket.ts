/**
 * `ReconnectingWebSocket`: one logical WHATWG-style `WebSocket` (https://websockets.spec.whatwg.org/)
 * across many connections. It wraps a platform `WebSocket` (the browser's own by default, or any class
 * with the same surface, such as fullduplex/web's on Node), and when a connection ends without the
 * application asking for it, it connects again after a delay chosen by `ReconnectPolicy`
 * (src/protocol/reconnect-policy.ts: exponential backoff with full jitter, final closes, 1013).
 *
 * Browser-safe: no Node API (test/layering.test.ts checks), only globals that browsers and Node 20+
 * share (`EventTarget`, `Event`, `CustomEvent`, `MessageEvent`, `DOMException`, `TextEncoder`, timers).
 *
 * Semantics (docs/client.md "In the browser"):
 * - `open` fires for every connection that opens; `reconnected` follows it for every one after the first.
 * - `close` fires once, when it is over for good: the application called `close()`, the server closed
 *   with a final code (1008, 4000–4999 by default), or `maxRetries` attempts in a row failed.
 *   Between connections `readyState` is CONNECTING and `reconnecting` fires before each wait.
 * - `error` fires for every connection or attempt that fails (as the platform `WebSocket` reports it).
 * - A failed opening handshake (the platform reports `error`, then `close` 1006, before `open`) counts
 *   as a failed attempt. Browsers do not expose the HTTP status of a refused handshake, so `status` and
 *   `Retry-After` never reach the policy here: a 403 is retried like a network error (bounded by
 *   `maxRetries` and `shouldReconnect`).
 * - `send` while not open (before the first connection, or between two) queues the message up to the
 *   `reconnect.queue` bounds (the Node client's option, src/protocol/reconnect-queue.ts), and the queue
 *   is sent in order, after the `open` listeners, when a connection opens; past a bound (or with
 *   `reconnect.queue: false`) `send` throws an "InvalidStateError" `DOMException`: never lost
 *   silently. `bufferedAmount` counts the queue. What the platform socket had accepted but not yet
 *   written when its connection dropped is lost, as with any `WebSocket` (there is no acknowledgement).
 */
import { ReconnectPolicy, type ClosedConnection } from '../protocol/reconnect-policy.js';
import { RECONNECT_QUEUE_DEFAULTS, reconnectQueueBound, type QueueingReconnectOptions, type ReconnectQueueBound } from '../protocol/reconnect-queue.js';
import { ABNORMAL_CLOSURE, CLOSED, CLOSING, CONNECTING, MAX_REASON_BYTES, OPEN, type ReadyState } from '../protocol/web-constants.js';
import { closeEvent, ReconnectedEvent, ReconnectingEvent, type CloseEventLike } from './events.js';
import { defineReadyStates, webSocketTarget } from './websocket-target.js';

/** What `send` accepts (WebSockets Standard §3.1: `(BufferSource or Blob or USVString) data`). */
export type SendData = string | ArrayBuffer | ArrayBufferView | Blob;

/** The surface of a platform `WebSocket` that this class drives (the browser's, fullduplex/web's, undici's). */
export interface WebSocketLike extends EventTarget {
  /** The URL connected to. */
  readonly url: string;
  /** 0 (CONNECTING), 1 (OPEN), 2 (CLOSING) or 3 (CLOSED). */
  readonly readyState: number;
  /** The subprotocol the server selected ("" when none). */
  readonly protocol: string;
  /** The extensions the server accepted ("" when none). */
  readonly extensions: string;
  /** Bytes accepted by `send` and not yet sent. */
  readonly bufferedAmount: number;
  /** How binary messages are delivered (`'blob'` or `'arraybuffer'`). */
  binaryType: string;
  /** Send a message. */
  send(data: SendData): void;
  /** Start the closing handshake. */
  close(code?: number, reason?: string): void;
}

/** A `WebSocket` class: `new (url, protocols)`. */
export type WebSocketConstructorLike = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** The options of `new ReconnectingWebSocket(url, protocols, options)`. */
export interface ReconnectingWebSocketOptions {
  /**
   * The backoff (`ReconnectOptions`) and `queue` — `{ maxMessages, maxBytes }` (default 1,000 messages,
   * 1 MiB) or `false` to refuse sends while not connected (`send` throws) — exactly as the Node client
   * takes them; `true` for the defaults (the default); `false` for a single connection (sends before it
   * opens use the default queue; `{ maxRetries: 0, queue }` is a single connection with another queue).
   */
  readonly reconnect?: boolean | QueueingReconnectOptions;
  /** The `WebSocket` class to connect with. Default `globalThis.WebSocket`. */
  readonly WebSocket?: WebSocketConstructorLike;
}

/** How binary messages are delivered: as a `Blob` (the default) or an `ArrayBuffer` (WebSockets Standard §3.1). */
export type BinaryType = 'blob' | 'arraybuffer';

/** The events, by type. */
export interface ReconnectingWebSocketEventMap {
  /** A connection opened (every one; `reconnected` follows it for every one after the first). */
  open: Event;
  /** A message arrived on the current connection (`event.data`: a string, `Blob` or `ArrayBuffer`). */
  message: MessageEvent;
  /** A connection or an attempt failed (as the platform `WebSocket` reports it); reconnecting goes on. */
  error: Event;
  /**
   * Once, when it is over for good: `close()` was called, the server closed with a final code (1008, 4000–4999 by default), or `maxRetries` attempts in a row failed.
   */
  close: CloseEventLike;
  /**
   * A connection (or an attempt) ended and another attempt is scheduled: `event.detail` is a {@link ReconnectingDetail}.
   */
  reconnecting: ReconnectingEvent;
  /** A connection other than the first opened, after its `open`: `event.detail` is a {@link ReconnectedDetail}. */
  reconnected: ReconnectedEvent;
}

type Handler<E extends Event> = ((this: ReconnectingWebSocket, event: E) => unknown) | null;

const encoder = new TextEncoder();

interface Queued {
  readonly data: SendData;
  readonly bytes: number;
}

/**
 * One logical WHATWG-style `WebSocket` across many connections: it wraps a platform `WebSocket` (the
 * browser's by default) and, when a connection ends without the application asking for it, connects again
 * after a delay chosen by `ReconnectPolicy` (exponential backoff with full jitter; final close codes end it).
 * `send` while not connected queues, up to `reconnect.queue`. Events: {@link ReconnectingWebSocketEventMap}.
 */
export class ReconnectingWebSocket extends webSocketTarget<ReconnectingWebSocketEventMap>() {
  readonly #Socket: WebSocketConstructorLike;
  readonly #url: string;
  readonly #protocols: string | string[] | undefined;
  readonly #policy: ReconnectPolicy | null;
  /** The queue's bounds, or null when sends while not connected are refused. */
  readonly #bound: ReconnectQueueBound | null;
  #inner: WebSocketLike | null = null;
  #state: ReadyState = CONNECTING;
  #binaryType: BinaryType = 'blob';
  #protocol = '';
  #extensions = '';
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** The application called `close()`: nothing reconnects any more. */
  #closeRequested = false;
  #everOpened = false;
  /** The attempt in progress since the last open (0 for the first connection). */
  #attempt = 0;
  #openedAt = 0;
  #lostAt = 0;
  readonly #queue: Queued[] = [];
  #queuedBytes = 0;
  /** Bytes given to `send` after the final close (WebSockets Standard §3.1: still counted). */
  #discardedBytes = 0;
  readonly #handlers = new Map<string, { value: Handler<Event>; readonly listener: (event: Event) => void }>();

  /**
   * @param url - as for `new WebSocket(url)` (checked by the platform class, which throws its "SyntaxError").
   * @param protocols - as for `new WebSocket(url, protocols)`, offered on every connection.
   */
  constructor(url: string | URL, protocols?: string | string[], options: ReconnectingWebSocketOptions = {}) {
    super();
    const Socket = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructorLike }).WebSocket;
    if (typeof Socket !== 'function') throw new TypeError('ReconnectingWebSocket: there is no global WebSocket here; pass the class as options.WebSocket');
    this.#Socket = Socket;
    this.#protocols = protocols;
    if ((options as { queue?: unknown }).queue !== undefined) {
      // The spelling before the Node client's and this class's options were made one (never released).
      throw new TypeError('ReconnectingWebSocket: the queue option goes inside reconnect, as in the Node client: { reconnect: { queue: { maxMessages, maxBytes } | false } }');
    }
    const reconnect = options.reconnect ?? true;
    this.#policy = reconnect === false ? null : new ReconnectPolicy(reconnect);
    this.#bound = typeof reconnect === 'object' ? reconnectQueueBound(reconnect.queue) : RECONNECT_QUEUE_DEFAULTS;
    const first = this.#open(String(url));
    this.#url = first.url;
  }

  /** The URL given to the constructor (as the platform `WebSocket` parsed it). */
  get url(): string {
    return this.#url;
  }
  /** CONNECTING before the first open and between connections; CLOSED only when it is over for good. */
  get readyState(): number {
    return this.#state;
  }
  /** The current (or last) connection's subprotocol. */
  get protocol(): string {
    return this.#protocol;
  }
  /** The current (or last) connection's extensions. */
  get extensions(): string {
    return this.#extensions;
  }
  /** The platform socket's buffered bytes, plus the queue of messages waiting for a connection. */
  get bufferedAmount(): number {
    return (this.#inner?.bufferedAmount ?? 0) + this.#queuedBytes + this.#discardedBytes;
  }
  /**
   * How binary messages are delivered (`'blob'`, the default, or `'arraybuffer'`), on every connection; other values are ignored.
   */
  get binaryType(): BinaryType {
    return this.#binaryType;
  }
  set binaryType(value: BinaryType) {
    // Web IDL: an assignment that is not a value of the enumeration is ignored.
    if (value !== 'blob' && value !== 'arraybuffer') return;
    this.#binaryType = value;
    if (this.#inner !== null) this.#inner.binaryType = value;
  }
  /** Messages queued while not connected and not yet handed to a connection (after the final close: never sent). */
  get unsent(): SendData[] {
    return this.#queue.map((item) => item.data);
  }

  /** The `open` event handler (WebSockets Standard §3.1 event handler attributes). */
  get onopen(): Handler<Event> {
    return this.#handler('open');
  }
  set onopen(value: Handler<Event>) {
    this.#setHandler('open', value);
  }
  /** The `message` event handler. */
  get onmessage(): Handler<MessageEvent> {
    return this.#handler('message') as Handler<MessageEvent>;
  }
  set onmessage(value: Handler<MessageEvent>) {
    this.#setHandler('message', value as Handler<Event>);
  }
  /** The `error` event handler. */
  get onerror(): Handler<Event> {
    return this.#handler('error');
  }
  set onerror(value: Handler<Event>) {
    this.#setHandler('error', value);
  }
  /** The `close` event handler. */
  get onclose(): Handler<CloseEventLike> {
    return this.#handler('close') as Handler<CloseEventLike>;
  }
  set onclose(value: Handler<CloseEventLike>) {
    this.#setHandler('close', value as Handler<Event>);
  }

  /**
   * Send now when open; while connecting or reconnecting, queue (or throw an "InvalidStateError"
   * `DOMException` when the queue is full or refused). After `close()`, as a closed `WebSocket` does:
   * the data is discarded and counted in `bufferedAmount`.
   */
  send(data: SendData): void {
    if (this.#state === OPEN) {
      this.#inner!.send(data);
      return;
    }
    const item = snapshot(data);
    if (this.#state !== CONNECTING) {
      if (this.#inner !== null) this.#inner.send(item.data);
      else this.#discardedBytes += item.bytes;
      return;
    }
    const bound = this.#bound;
    if (bound === null) throw new DOMException('ReconnectingWebSocket: not connected, and sends while not connected are refused (reconnect.queue is false)', 'InvalidStateError');
    if (this.#queue.length + 1 > bound.maxMessages || this.#queuedBytes + item.bytes > bound.maxBytes) {
      throw new DOMException(
        `ReconnectingWebSocket: not connected, and the queue is full (${this.#queue.length} messages, ${this.#queuedBytes} bytes; bound ${bound.maxMessages} messages, ${bound.maxBytes} bytes)`,
        'InvalidStateError',
      );
    }
    this.#queue.push(item);
    this.#queuedBytes += item.bytes;
  }

  /**
   * Close for good: the open connection with a closing handshake, an attempt in progress by failing it,
   * a wait by ending it (then `close` has code 1006: no connection, no close frame). Arguments are
   * checked as `WebSocket.close` checks them (§3.1).
   */
  close(code?: number, reason?: string): void {
    if (code !== undefined && code !== 1000 && !(Number.isInteger(code) && code >= 3000 && code <= 4999)) {
      throw new DOMException(`ReconnectingWebSocket: the close code must be 1000 or between 3000 and 4999 (got ${code})`, 'InvalidAccessError');
    }
    if (reason !== undefined && encoder.encode(reason).length > MAX_REASON_BYTES) {
      throw new DOMException(`ReconnectingWebSocket: the close reason must be at most ${MAX_REASON_BYTES} bytes of UTF-8`, 'SyntaxError');
    }
    if (this.#closeRequested || this.#state === CLOSED) return;
    this.#closeRequested = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#state = CLOSING;
    if (this.#inner !== null) {
      this.#inner.close(code, reason);
    } else {
      // Between two connections: nothing to close; the event comes as a task, as events do.
      setTimeout(() => this.#finish({ code: ABNORMAL_CLOSURE, reason: '', wasClean: false }), 0);
    }
  }

  /** Start one connection (the first throws what the platform class throws; later ones count as failed). */
  #open(url: string): WebSocketLike {
    const inner = this.#protocols === undefined ? new this.#Socket(url) : new this.#Socket(url, this.#protocols);
    inner.binaryType = this.#binaryType;
    this.#inner = inner;
    inner.addEventListener('open', () => this.#onOpen(inner));
    inner.addEventListener('message', (event) => this.#onMessage(inner, event as MessageEvent));
    inner.addEventListener('error', () => {
      if (this.#inner === inner) this.dispatchEvent(new Event('error'));
    });
    inner.addEventListener('close', (event) => this.#onClose(inner, event as CloseEventLike));
    return inner;
  }

  #onOpen(inner: WebSocketLike): void {
    if (this.#inner !== inner) return;
    this.#state = OPEN;
    this.#openedAt = Date.now();
    this.#protocol = inner.protocol;
    this.#extensions = inner.extensions;
    // `open` listeners go first, so that what they send (a login, the subscriptions) precedes the
    // messages queued while disconnected, as in the Node client (src/node/reconnect.ts); the queue then
    // follows in order, unless a listener closed the connection (the queue then stays, for `unsent`).
    this.dispatchEvent(new Event('open'));
    const stillOpen = this.#inner === inner && this.#state === OPEN;
    if (stillOpen) {
      for (const item of this.#queue) inner.send(item.data);
      this.#queue.length = 0;
      this.#queuedBytes = 0;
    }
    if (stillOpen && this.#everOpened) {
      this.dispatchEvent(new ReconnectedEvent({ attempt: this.#attempt, downtime: this.#openedAt - this.#lostAt }));
    }
    this.#everOpened = true;
    this.#attempt = 0;
  }

  #onMessage(inner: WebSocketLike, event: MessageEvent): void {
    if (this.#inner !== inner) return;
    this.dispatchEvent(new MessageEvent('message', { data: event.data as unknown, origin: event.origin, lastEventId: event.lastEventId }));
  }

  #onClose(inner: WebSocketLike, event: CloseEventLike): void {
    if (this.#inner === inner) this.#ended(event);
  }

  /** The current connection (or attempt) ended: reconnect after a wait, or finish. */
  #ended(event: { readonly code: number; readonly reason: string; readonly wasClean: boolean }): void {
    this.#inner = null;
    const wasOpen = this.#state === OPEN;
    const now = Date.now();
    if (wasOpen) this.#lostAt = now;
    if (this.#closeRequested || this.#policy === null) {
      this.#finish(event);
      return;
    }
    const closed: ClosedConnection = { code: event.code, reason: event.reason, openFor: wasOpen ? now - this.#openedAt : 0 };
    const decision = this.#policy.closed(closed, now);
    if (!decision.reconnect) {
      this.#finish(event);
      return;
    }
    this.#state = CONNECTING;
    this.#attempt = decision.attempt;
    this.#timer = setTimeout(() => this.#retry(), decision.delay);
    this.dispatchEvent(new ReconnectingEvent({ attempt: decision.attempt, delay: decision.delay, code: event.code, reason: event.reason }));
  }

  #retry(): void {
    this.#timer = undefined;
    if (this.#closeRequested) return;
    try {
      this.#open(this.#url);
    } catch {
      // The platform refused to start this attempt (it accepted the same URL before): a failed attempt.
      this.#ended({ code: ABNORMAL_CLOSURE, reason: '', wasClean: false });
    }
  }

  #finish(event: { readonly code: number; readonly reason: string; readonly wasClean: boolean }): void {
    if (this.#state === CLOSED) return;
    this.#state = CLOSED;
    this.#inner = null;
    // What is still queued stays readable through `unsent`, and counted in `bufferedAmount`.
    this.dispatchEvent(closeEvent({ code: event.code, reason: event.reason, wasClean: event.wasClean }));
  }

  #handler(type: string): Handler<Event> {
    return this.#handlers.get(type)?.value ?? null;
  }

  /** HTML §8.1.8.1 event handler attributes: one listener, registered when first set, calling the current value. */
  #setHandler(type: string, value: Handler<Event>): void {
    const slot = this.#handlers.get(type);
    const callable = typeof value === 'function' ? value : null;
    if (slot !== undefined) {
      slot.value = callable;
      return;
    }
    if (callable === null) return;
    const entry = {
      value: callable as Handler<Event>,
      listener: (event: Event): void => {
        const current = entry.value;
        if (current !== null) Reflect.apply(current, this, [event]);
      },
    };
    this.#handlers.set(type, entry);
    this.addEventListener(type, entry.listener);
  }
}

defineReadyStates(ReconnectingWebSocket);

/**
 * A queued message and its size: bytes are copied now (as `WebSocket.send` takes them at the call), and
 * anything that is not a buffer or a Blob becomes a string, as Web IDL converts it to `USVString`.
 */
function snapshot(data: SendData): Queued {
  if (typeof data === 'string') return { data, bytes: encoder.encode(data).length };
  if (data instanceof ArrayBuffer) return { data: data.slice(0), bytes: data.byteLength };
  if (ArrayBuffer.isView(data)) {
    const copy = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
    return { data: copy, bytes: copy.byteLength };
  }
  if (typeof Blob === 'function' && data instanceof Blob) return { data, bytes: data.size };
  const text = String(data);
  return { data: text, bytes: encoder.encode(text).length };
}
