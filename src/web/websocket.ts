/**
 * The WHATWG `WebSocket` interface (https://websockets.spec.whatwg.org/), for code written for
 * browsers to run unchanged on Node. It is an `EventTarget` over the Node-layer client
 * (`src/node/websocket.ts`), which does the I/O and the protocol; this class adds what the standard
 * specifies on top: its argument conversions and exceptions (`DOMException`s), its states, its events
 * (`open`, `message` as `MessageEvent`, `error`, `close` as `CloseEvent`), the `onopen`-style event
 * handler attributes, `binaryType` "blob" by default, and the rule that a failed connection is
 * reported as `error` then `close` with code 1006.
 *
 * Section numbers (§) refer to the WebSockets Standard unless another document is named.
 */
import { types } from 'node:util';
import { WebSocket as NodeWebSocket, type ClientOptions } from '../node/websocket.js';
import { browserLikeClientOptions } from './connect-options.js';
import { CloseEvent } from './close-event.js';
import { messageBytes, toArrayBuffer } from './message-bytes.js';
import { apiBaseURL, checkSubprotocols, getWebSocketURLRecord } from './url.js';
import { defineInterfaceShape, illegalInvocation } from './interface.js';
import { MessageEvent } from './message-event.js';
import { toClampedUnsignedShort, toDOMString, toUSVString } from './webidl.js';
import { ABNORMAL_CLOSURE, CLOSED, CLOSING, CONNECTING, MAX_REASON_BYTES, OPEN, READY_STATES, type ReadyState } from '../protocol/web-constants.js';

/** §3.1 `enum BinaryType { "blob", "arraybuffer" }`. */
export type BinaryType = 'blob' | 'arraybuffer';

/** What a `message` event's `data` holds: a string for text, a Blob or an ArrayBuffer for binary. */
export type MessageEventData = string | Blob | ArrayBuffer;

/** The `message` event: a `MessageEvent` whose `data` is typed (§4 "handle a WebSocket message"). */
export interface WebSocketMessageEvent extends MessageEvent {
  /** The message: a string for text; for binary, a `Blob` or an `ArrayBuffer` as `binaryType` says. */
  readonly data: MessageEventData;
}

/** The events a `WebSocket` fires, by type (§3.1 event handlers, §4). */
export interface WebSocketEventMap {
  /** The connection is established (§4: after the 101 response). */
  open: Event;
  /** A message arrived ({@link WebSocketMessageEvent}). */
  message: WebSocketMessageEvent;
  /**
   * The connection failed (RFC 6455 §7.1.7 "fail the WebSocket connection", or the handshake failed); `close` follows.
   */
  error: Event;
  /** The connection is closed (always the last event): a {@link (CloseEvent:interface)} with `code`, `reason`, `wasClean`. */
  close: CloseEvent;
}

/** What `send` accepts (§3.1: `(BufferSource or Blob or USVString) data`). */
export type WebSocketSendData = string | ArrayBuffer | ArrayBufferView | Blob;

/**
 * The non-standard third constructor argument: any Node-layer client option (see `ClientOptions` in
 * `src/node/client.ts`), passed through unchanged. For example `headers` (extra request headers,
 * such as `Authorization` or `Cookie`), `origin` (browsers always send an `Origin` header; a Node
 * client sends one only when asked), TLS options (`ca`, `cert`, `key`, `rejectUnauthorized`,
 * `servername`...), `agent`, `handshakeTimeout`, `maxPayload`, `closeTimeout`. With
 * `followRedirects` (the standard forbids redirects, §2), `url` still returns the URL given to the
 * constructor. `queueConnecting` is on by default here (RFC 6455 §4.1, as browsers do; `false` turns
 * it off). One option is our own: `baseURL`, the base against which a relative `url` resolves
 * (the standard resolves it against the page's API base URL; Node has none, so without this option
 * or a `globalThis.location`, a relative URL is a "SyntaxError").
 */
export interface WebSocketOptions extends ClientOptions {
  /** Non-standard: the base URL for a relative `url` (default: `globalThis.location.href` where defined). */
  baseURL?: string | URL;
}

type EventHandler<E extends Event> = ((this: WebSocket, event: E) => unknown) | null;
type ListenerArgument = Parameters<EventTarget['addEventListener']>[1];
type AddListenerOptions = Parameters<EventTarget['addEventListener']>[2];
type RemoveListenerOptions = Parameters<EventTarget['removeEventListener']>[2];

/** An event handler attribute's state (HTML §8.1.8.1 "event handlers"). */
interface HandlerSlot {
  /** The event handler's value: a callback object, or null (then the slot is removed). */
  value: object;
  /** The listener registered when the handler was first set to non-null. */
  readonly listener: (event: Event) => void;
}

/**
 * The typed `addEventListener`/`removeEventListener` of {@link (WebSocket:class)} (declaration merging), by {@link WebSocketEventMap}.
 */
export interface WebSocket {
  /**
   * Add a listener for one of the WebSocket's events (typed by {@link WebSocketEventMap}); as `EventTarget.addEventListener`.
   */
  addEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: ((this: WebSocket, event: WebSocketEventMap[K]) => unknown) | { handleEvent(event: WebSocketEventMap[K]): unknown } | null,
    options?: AddListenerOptions,
  ): void;
  /** Add a listener for any event type, as `EventTarget.addEventListener`. */
  addEventListener(type: string, listener: ListenerArgument | null, options?: AddListenerOptions): void;
  /** Remove a listener added with `addEventListener`; as `EventTarget.removeEventListener`. */
  removeEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: ((this: WebSocket, event: WebSocketEventMap[K]) => unknown) | { handleEvent(event: WebSocketEventMap[K]): unknown } | null,
    options?: RemoveListenerOptions,
  ): void;
  /** Remove a listener for any event type, as `EventTarget.removeEventListener`. */
  removeEventListener(type: string, listener: ListenerArgument | null, options?: RemoveListenerOptions): void;
}

/**
 * The WHATWG `WebSocket` (https://websockets.spec.whatwg.org/ §3.1) on Node, so that code written for
 * browsers runs unchanged: `new WebSocket(url, protocols?)`, `send`, `close`, `binaryType`, events
 * `open`, `message`, `error`, `close` ({@link WebSocketEventMap}). A non-standard third argument takes
 * Node client options ({@link WebSocketOptions}).
 */
export class WebSocket extends EventTarget {
  // §3.1 ready state constants (also on the prototype; defined below as Web IDL constants are).
  /** `readyState` while connecting: 0. */
  declare static readonly CONNECTING: 0;
  /** `readyState` while open: 1. */
  declare static readonly OPEN: 1;
  /** `readyState` during the closing handshake: 2. */
  declare static readonly CLOSING: 2;
  /** `readyState` once closed: 3. */
  declare static readonly CLOSED: 3;
  /** 0, as `WebSocket.CONNECTING`. */
  declare readonly CONNECTING: 0;
  /** 1, as `WebSocket.OPEN`. */
  declare readonly OPEN: 1;
  /** 2, as `WebSocket.CLOSING`. */
  declare readonly CLOSING: 2;
  /** 3, as `WebSocket.CLOSED`. */
  declare readonly CLOSED: 3;

  readonly #inner: NodeWebSocket;
  readonly #url: string;
  readonly #origin: string;
  readonly #protocols: readonly string[];
  #state: ReadyState = CONNECTING;
  #binaryType: BinaryType = 'blob';
  #protocol = '';
  #extensions = '';
  /** Bytes of application data given to `send` and not yet written out (§3.1 bufferedAmount). */
  #bufferedAmount = 0;
  /** Blobs handed to the Node layer and not yet sent: data sent after them must be copied now. */
  #blobsInFlight = 0;
  /** The connection was failed (RFC 6455 §7.1.7): report `error`, then `close` with 1006. */
  #failed = false;
  /** Inside one of our methods: events the Node layer emits synchronously are queued as tasks. */
  #inCall = false;
  readonly #handlers = new Map<string, HandlerSlot>();

  /** Web IDL §3.7.6, §3.7.7: attributes and operations called on anything but a WebSocket throw. */
  static #check(value: unknown): WebSocket {
    if (typeof value !== 'object' || value === null || !(#inner in value)) throw illegalInvocation();
    return value as WebSocket;
  }

  /**
   * §3.1 `new WebSocket(url, protocols)`: checks its arguments (throwing a "SyntaxError"
   * `DOMException`), then connects in the background.
   *
   * @param url - `ws:`, `wss:`, `http:` or `https:` (mapped to the first two), without a fragment;
   *   relative only with a base URL (`options.baseURL`, else `globalThis.location` where defined).
   *   A bad port (fetch standard) does not throw: the connection fails (`error`, `close` 1006).
   * @param protocols - one subprotocol or a list of them, distinct HTTP tokens.
   * @param options - non-standard: Node client options, passed through (see `WebSocketOptions`).
   */
  constructor(url: string | URL, protocols?: string | Iterable<string>, options?: WebSocketOptions) {
    super();
    if (arguments.length === 0) throw new TypeError("Failed to construct 'WebSocket': 1 argument required, but only 0 present.");
    // Web IDL: `USVString url` and `optional (DOMString or sequence<DOMString>) protocols = []`.
    const urlString = toUSVString(url, "Failed to construct 'WebSocket': url");
    const protocolList = toProtocolList(protocols);

    // §3.1 constructor steps 1–9: the URL record (against the API base URL, see apiBaseURL), and
    // the subprotocols (distinct tokens).
    const context = "Failed to construct 'WebSocket'";
    const { baseURL, ...clientOptions } = typeof options === 'object' && options !== null ? options : ({} as WebSocketOptions);
    const urlRecord = getWebSocketURLRecord(urlString, context, apiBaseURL(baseURL, context));
    checkSubprotocols(protocolList, context);

    this.#url = urlRecord.href;
    this.#origin = urlRecord.origin;
    this.#protocols = protocolList;

    // §3.1 constructor step 12: establish the connection in parallel (the Node layer's handshake).
    this.#inCall = true;
    try {
      this.#inner = new NodeWebSocket(this.#url, protocolList, browserLikeClientOptions(urlRecord, clientOptions));
    } finally {
      this.#inCall = false;
    }
    const inner = this.#inner;
    // The Node layer's errors are never unhandled: each one means the connection failed.
    inner.on('error', this.#onInnerError);
    inner.on('open', this.#onInnerOpen);
    inner.on('message', this.#onInnerMessage);
    inner.on('close', this.#onInnerClose);
  }

  // --- attributes (§3.1) ---------------------------------------------------------------------------

  /** §3.1: the URL, serialized (after http/https were mapped to ws/wss). */
  get url(): string {
    return WebSocket.#check(this).#url;
  }

  /**
   * §3.1 ready state. It becomes CLOSING as soon as the closing handshake has started, whichever side
   * started it (§4: "When the WebSocket closing handshake is started...").
   */
  get readyState(): number {
    WebSocket.#check(this);
    if (this.#state === OPEN && this.#inner.readyState >= CLOSING) return CLOSING;
    return this.#state;
  }

  /**
   * §3.1: bytes of application data (UTF-8 text and binary, without framing) queued by `send` and not
   * yet written to the network. Once the connection is closing or closed, every `send` only adds to it.
   */
  get bufferedAmount(): number {
    return WebSocket.#check(this).#bufferedAmount;
  }

  /** §3.1: the extensions the server selected ("" before `open`, or when none). */
  get extensions(): string {
    return WebSocket.#check(this).#extensions;
  }

  /** §3.1: the subprotocol the server selected ("" before `open`, or when none). */
  get protocol(): string {
    return WebSocket.#check(this).#protocol;
  }

  /** §3.1: how binary messages are delivered: "blob" (the default) or "arraybuffer"; other values are ignored. */
  get binaryType(): BinaryType {
    return WebSocket.#check(this).#binaryType;
  }

  // §3.1 sets the binary type to the given value; since the attribute is a Web IDL enumeration, a
  // value that is not one of its strings is ignored without an exception (Web IDL §3.7.6, attribute
  // setter steps for enumeration types).
  set binaryType(value: BinaryType) {
    WebSocket.#check(this);
    const type = toDOMString(value, "Failed to set 'binaryType'");
    if (type === 'blob' || type === 'arraybuffer') this.#binaryType = type;
  }

  // --- event handler attributes (§3.1 table; HTML §8.1.8.1) -----------------------------------------

  /** The `open` event handler attribute (§3.1; HTML "event handlers"). */
  get onopen(): EventHandler<Event> {
    return WebSocket.#check(this).#getHandler('open') as EventHandler<Event>;
  }
  set onopen(value: EventHandler<Event>) {
    WebSocket.#check(this).#setHandler('open', value);
  }

  /** The `message` event handler attribute. */
  get onmessage(): EventHandler<WebSocketMessageEvent> {
    return WebSocket.#check(this).#getHandler('message') as EventHandler<WebSocketMessageEvent>;
  }
  set onmessage(value: EventHandler<WebSocketMessageEvent>) {
    WebSocket.#check(this).#setHandler('message', value);
  }

  /** The `error` event handler attribute. */
  get onerror(): EventHandler<Event> {
    return WebSocket.#check(this).#getHandler('error') as EventHandler<Event>;
  }
  set onerror(value: EventHandler<Event>) {
    WebSocket.#check(this).#setHandler('error', value);
  }

  /** The `close` event handler attribute. */
  get onclose(): EventHandler<CloseEvent> {
    return WebSocket.#check(this).#getHandler('close') as EventHandler<CloseEvent>;
  }
  set onclose(value: EventHandler<CloseEvent>) {
    WebSocket.#check(this).#setHandler('close', value);
  }

  #getHandler(type: string): object | null {
    return this.#handlers.get(type)?.value ?? null;
  }

  /**
   * HTML §8.1.8.1: setting a handler to an object registers one event listener, the first time only,
   * so the handler keeps the place in the listener list where it was first set; setting another
   * value replaces the callback in that place; setting null removes the listener (a later handler
   * goes to the end). `EventHandler` is `[LegacyTreatNonObjectAsNull]`: a non-object is null.
   */
  #setHandler(type: string, value: unknown): void {
    const slot = this.#handlers.get(type);
    if ((typeof value !== 'object' && typeof value !== 'function') || value === null) {
      if (slot !== undefined) {
        this.#handlers.delete(type);
        this.removeEventListener(type, slot.listener);
      }
      return;
    }
    if (slot !== undefined) {
      slot.value = value;
      return;
    }
    const created: HandlerSlot = {
      value,
      // HTML §8.1.8.1 "the event handler processing algorithm": call the callback with the event's
      // currentTarget as `this`; a return value of false cancels the event. A callback object that is
      // not callable is ignored (Web IDL §3.12 "invoke a callback function", LegacyTreatNonObjectAsNull).
      listener: (event: Event): void => {
        const callback = created.value;
        if (typeof callback !== 'function') return;
        const result: unknown = Reflect.apply(callback, event.currentTarget ?? this, [event]);
        if (result === false) event.preventDefault();
      },
    };
    this.#handlers.set(type, created);
    this.addEventListener(type, created.listener);
  }

  // --- methods (§3.1) ------------------------------------------------------------------------------

  /**
   * §3.1 `send(data)`: throws an "InvalidStateError" `DOMException` while CONNECTING. When the
   * connection is closing or closed, the data is not sent but still counts in `bufferedAmount`.
   */
  send(data: WebSocketSendData): void {
    WebSocket.#check(this);
    if (arguments.length === 0) throw new TypeError("Failed to execute 'send' on 'WebSocket': 1 argument required, but only 0 present.");
    // Web IDL union conversion of `(BufferSource or Blob or USVString)` (§3.2.24): a Blob, then an
    // ArrayBuffer or a view (not backed by a SharedArrayBuffer: BufferSource has no [AllowShared]),
    // anything else as a string.
    let payload: string | Uint8Array | Blob;
    let size: number;
    if (data instanceof Blob) {
      payload = data;
      size = data.size;
    } else if (types.isAnyArrayBuffer(data)) {
      if (types.isSharedArrayBuffer(data)) throw new TypeError("Failed to execute 'send' on 'WebSocket': a SharedArrayBuffer is not allowed.");
      size = data.byteLength;
      payload = size === 0 ? new Uint8Array(0) : new Uint8Array(data);
    } else if (ArrayBuffer.isView(data)) {
      if (types.isSharedArrayBuffer(data.buffer)) {
        throw new TypeError("Failed to execute 'send' on 'WebSocket': a view on a SharedArrayBuffer is not allowed.");
      }
      // The standard says "the length of data's buffer"; browsers count (and send) the view's bytes.
      size = data.byteLength;
      payload = size === 0 ? new Uint8Array(0) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    } else {
      payload = toUSVString(data, "Failed to execute 'send' on 'WebSocket'");
      size = Buffer.byteLength(payload, 'utf8');
    }

    const state = this.readyState;
    if (state === CONNECTING) throw new DOMException("Failed to execute 'send' on 'WebSocket': still in CONNECTING state.", 'InvalidStateError');
    // Every send that does not throw adds to bufferedAmount; only an OPEN connection sends.
    this.#bufferedAmount += size;
    if (state !== OPEN) return;

    const isBlob = payload instanceof Blob;
    if (!isBlob && typeof payload !== 'string' && this.#blobsInFlight > 0) {
      // The Node layer keeps this send (a view of the caller's memory) behind a Blob it is still
      // reading; the standard sends the bytes as they are now, so take a copy.
      payload = Uint8Array.prototype.slice.call(payload);
    }
    if (isBlob) this.#blobsInFlight++;
    this.#inCall = true;
    try {
      this.#inner.send(payload, (error) => {
        if (isBlob) this.#blobsInFlight--;
        // Written out: no longer buffered. Not written (the connection went away): it stays counted,
        // as the standard's bufferedAmount never goes down once the connection is closed.
        if (error === undefined || error === null) this.#bufferedAmount -= size;
      });
    } finally {
      this.#inCall = false;
    }
  }

  /**
   * §3.1 `close(code, reason)`: `code` must be 1000 or 3000–4999 (else an "InvalidAccessError"
   * `DOMException`), `reason` at most 123 bytes of UTF-8 (else a "SyntaxError" `DOMException`).
   * While connecting, the connection is failed (`error`, then `close` with 1006); while closing or
   * closed, nothing happens.
   */
  close(code?: number, reason?: string): void {
    WebSocket.#check(this);
    // Web IDL: `optional [Clamp] unsigned short code, optional USVString reason`.
    const closeCode = code === undefined ? undefined : toClampedUnsignedShort(code, "Failed to execute 'close' on 'WebSocket': code");
    const closeReason = reason === undefined ? undefined : toUSVString(reason, "Failed to execute 'close' on 'WebSocket': reason");
    // §3.1 close() step 1.
    if (closeCode !== undefined && closeCode !== 1000 && !(closeCode >= 3000 && closeCode <= 4999)) {
      throw new DOMException(
        `Failed to execute 'close' on 'WebSocket': the code must be either 1000, or between 3000 and 4999. ${closeCode} is neither.`,
        'InvalidAccessError',
      );
    }
    // §3.1 close() step 2.
    if (closeReason !== undefined && Buffer.byteLength(closeReason, 'utf8') > MAX_REASON_BYTES) {
      throw new DOMException(`Failed to execute 'close' on 'WebSocket': the reason must not be longer than ${MAX_REASON_BYTES} UTF-8 bytes.`, 'SyntaxError');
    }
    // §3.1 close() step 3.
    const state = this.readyState;
    if (state === CLOSING || state === CLOSED) return;
    this.#state = CLOSING;
    this.#inCall = true;
    try {
      if (state === CONNECTING) {
        // Not yet established: fail the WebSocket connection (the Node layer abandons the handshake).
        this.#failed = true;
        this.#inner.close();
      } else {
        // Start the closing handshake. Without a code the close frame has no body (a reason alone
        // cannot be sent: the code comes first in the frame).
        this.#inner.close(closeCode, closeReason);
      }
    } finally {
      this.#inCall = false;
    }
  }

  /** Web IDL §3.7.3: a data property of the prototype (defined below). */
  declare readonly [Symbol.toStringTag]: string;

  // --- feedback from the protocol (§4) --------------------------------------------------------------

  readonly #onInnerError = (): void => {
    // The Node layer reports a failed handshake or a protocol violation, always followed by `close`.
    // The standard gives scripts no detail about failures (§4, the warning in "handle connection close").
    this.#failed = true;
  };

  /** §4 "handle connection establishment". */
  readonly #onInnerOpen = (): void => {
    const inner = this.#inner;
    if (this.#state !== CONNECTING) {
      // close() was called first (it abandons the handshake, so this should not happen): do not leak it.
      inner.terminate();
      return;
    }
    // §2 "establish a WebSocket connection": subprotocols were requested but the server's response
    // selected none, so fail the WebSocket connection (the Node layer accepts that, as RFC 6455 does).
    if (this.#protocols.length > 0 && inner.protocol === '') {
      this.#failed = true;
      inner.terminate();
      return;
    }
    this.#state = OPEN;
    this.#extensions = inner.extensionsHeader;
    this.#protocol = inner.protocol;
    this.dispatchEvent(new Event('open'));
  };

  /** §4 "handle a WebSocket message". */
  readonly #onInnerMessage = (data: unknown, isBinary: boolean): void => {
    // Step 1: a message that arrives once close() was called (or the closing handshake started) is dropped.
    if (this.readyState !== OPEN) return;
    const bytes = messageBytes(data);
    let dataForEvent: MessageEventData;
    if (!isBinary) dataForEvent = bytes.toString('utf8');
    else if (this.#binaryType === 'blob') dataForEvent = new Blob([bytes]);
    else dataForEvent = toArrayBuffer(bytes);
    // Step 3: origin is the serialization of the URL's origin.
    this.dispatchEvent(new MessageEvent('message', { data: dataForEvent, origin: this.#origin }));
  };

  /** §4 "handle connection close", queued as a task when the Node layer reports it synchronously. */
  readonly #onInnerClose = (): void => {
    if (this.#inCall) setImmediate(this.#closed);
    else this.#closed();
  };

  readonly #closed = (): void => {
    if (this.#state === CLOSED) return;
    const result = this.#inner.closeResult;
    // "Fail the WebSocket connection" (RFC 6455 §7.1.7): a refused or broken handshake, close() while
    // connecting, a protocol violation by the server, a transport error. No close frame was received
    // then (or it was ignored), so the close code is 1006 (RFC 6455 §7.1.5) whatever code we sent.
    const failed = this.#failed || result === null || result.failed;
    // A connection that was only lost (a TCP FIN without a close frame, or our close frame never
    // answered) is closed, not failed: 1006 and wasClean false, but no `error` event (§4 step 2 fires
    // it only when the connection was failed; Chromium does the same, undici fires one).
    const closeFrameReceived = !failed && result.code !== ABNORMAL_CLOSURE;
    // Step 1.
    this.#state = CLOSED;
    // Step 2.
    if (failed) this.dispatchEvent(new Event('error'));
    // Step 3: wasClean is true when the closing handshake completed (RFC 6455 §7.1.4); the reason is
    // decoded as UTF-8 without BOM handling (a BOM stays in the string).
    const code = closeFrameReceived ? result.code : ABNORMAL_CLOSURE;
    const reason = closeFrameReceived ? result.reason.toString('utf8') : '';
    const wasClean = closeFrameReceived && result.wasClean;
    this.dispatchEvent(new CloseEvent('close', { wasClean, code, reason }));
  };
}

// §3.1: the ready state constants, on the interface object and its prototype, as Web IDL defines
// constants (§3.7.3: not writable, enumerable, not configurable).
for (const [name, value] of READY_STATES) {
  const descriptor = { value, writable: false, enumerable: true, configurable: false };
  Object.defineProperty(WebSocket, name, descriptor);
  Object.defineProperty(WebSocket.prototype, name, descriptor);
}

// Web IDL §3.7: attributes and operations enumerable, `length` the count of required arguments
// (`new WebSocket(url)`: 1; `close()`: 0), `Symbol.toStringTag` a data property of the prototype.
defineInterfaceShape(WebSocket, {
  name: 'WebSocket',
  length: 1,
  attributes: ['url', 'readyState', 'bufferedAmount', 'onopen', 'onerror', 'onclose', 'extensions', 'protocol', 'onmessage', 'binaryType'],
  operations: { close: 0, send: 1 },
});

/** Web IDL `optional (DOMString or sequence<DOMString>) protocols = []` (§3.2.24 union conversion). */
function toProtocolList(protocols: unknown): string[] {
  if (protocols === undefined) return [];
  const what = "Failed to construct 'WebSocket': protocols";
  if ((typeof protocols === 'object' && protocols !== null) || typeof protocols === 'function') {
    const iterator = (protocols as { [Symbol.iterator]?: unknown })[Symbol.iterator];
    if (iterator !== undefined && iterator !== null) {
      if (typeof iterator !== 'function') throw new TypeError(`${what}: the value is not iterable.`);
      return Array.from(protocols as Iterable<unknown>, (protocol) => toDOMString(protocol, what));
    }
  }
  return [toDOMString(protocols, what)];
}
