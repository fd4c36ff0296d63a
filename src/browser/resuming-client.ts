/**
 * `ResumingWebSocket`: the browser client of the resume subprotocol `fullduplex.resume.v1` (issue 19,
 * docs/recovery.md "## Client"), the same semantics as the Node `ResumingClient` with EventTarget-style
 * events. It runs on `ReconnectingWebSocket` (src/browser/reconnecting-websocket.ts: the backoff policy,
 * final closes, `reconnecting`/`reconnected`) and the sans-I/O client state (src/protocol/resume-state.ts):
 *
 *  - every connection offers `fullduplex.resume.v1`; when it opens, the client says hello, subscribes
 *    to every wanted topic from its last position, and re-sends the unacked sends with their seq;
 *  - `message` fires once per offset; every hole the server reports fires `gap`; a hole it does not
 *    report, or any other violation, fires `error` (with the `ResumeError`) and closes that connection:
 *    the next one resumes from the last position seen. Browsers may only close with 1000 or 3000–4999,
 *    so the connection is closed with 1000 and the error's code as the reason (the Node client sends
 *    the error's own close code);
 *  - a server that does not select the subprotocol: a browser's `WebSocket` fails that handshake itself
 *    (WHATWG WebSockets, Fetch "establish a WebSocket connection": protocols offered, none in the
 *    response), which looks like any failed attempt (`error`, then `reconnecting` with 1006): browsers
 *    do not tell why, so it is retried per the policy (`maxRetries` bounds it). With a `WebSocket` class
 *    that lets such a handshake through: `error` (FD_ERR_RESUME_NOT_SELECTED), then `close`, no retry.
 *
 * Browser-safe: no Node API (test/layering.test.ts checks).
 */
import type { ReconnectOptions } from '../protocol/reconnect-policy.js';
import { resumePositions } from '../protocol/resume-positions.js';
import { ResumeState, type ResumeEvent, type ResumeStateOptions, type ResumeSubscribeOptions } from '../protocol/resume-state.js';
import { RESUME_SUBPROTOCOL, ResumeError, type ResumePosition } from '../protocol/resume-wire.js';
import { CLOSED, CLOSING, CONNECTING, OPEN } from '../protocol/web-constants.js';
import { closeEvent, ReconnectedEvent, ReconnectingEvent, type CloseEventLike } from './events.js';
import { ReconnectingWebSocket, type WebSocketConstructorLike, type WebSocketLike } from './reconnecting-websocket.js';
import {
  ResumeAckedEvent,
  ResumeErrorEvent,
  ResumeGapEvent,
  ResumeMessageEvent,
  ResumeRefusedEvent,
  ResumeSubscribedEvent,
  ResumeUnsubscribedEvent,
} from './resume-events.js';
import { defineReadyStates, webSocketTarget } from './websocket-target.js';

/**
 * The options of `new ResumingWebSocket(url, options)`: the resume state's (`session`, `maxUnacked`, `maxUnackedBytes`), `reconnect` and `WebSocket`.
 */
export interface ResumingWebSocketOptions extends ResumeStateOptions {
  /**
   * The backoff (`ReconnectOptions`, as `ReconnectingWebSocket` and the Node client take it); `true`
   * (the default) for the defaults; `false` for a single connection. No `queue`: what is sent while
   * disconnected is kept as unacked sends (bounded by `maxUnacked` and `maxUnackedBytes`).
   */
  readonly reconnect?: boolean | ReconnectOptions;
  /** The `WebSocket` class to connect with. Default `globalThis.WebSocket`. */
  readonly WebSocket?: WebSocketConstructorLike;
}

/** The events, by type. */
export interface ResumingWebSocketEventMap {
  /** A connection opened with the subprotocol (the hello and the subscriptions are sent). */
  open: Event;
  /** A connection (or an attempt) ended and another attempt is scheduled (`detail`: {@link ReconnectingDetail}). */
  reconnecting: ReconnectingEvent;
  /** A connection other than the first opened (`detail`: {@link ReconnectedDetail}). */
  reconnected: ReconnectedEvent;
  /** A message of a subscribed topic, exactly once per offset (`detail`: `ResumeMessageDetail`). */
  message: ResumeMessageEvent;
  /**
   * The server took a subscription, on every connection for every wanted topic (`detail`: `ResumeSubscribedDetail`).
   */
  subscribed: ResumeSubscribedEvent;
  /** Messages of a topic were lost (history replaced or trimmed; `detail`: `ResumeGapDetail`). */
  gap: ResumeGapEvent;
  /** The server confirmed an `unsubscribe` (`detail.topic`). */
  unsubscribed: ResumeUnsubscribedEvent;
  /** The server refused a request, e.g. a subscription `authorize` denied (`detail`: `ResumeRefusedDetail`). */
  refused: ResumeRefusedEvent;
  /** Every send with a seq up to `detail.seq` was applied by the server. */
  acked: ResumeAckedEvent;
  /**
   * A protocol violation (`error` is its {@link ResumeError}; that connection is closed and the next resumes), or a failed connection or attempt (`error` null).
   */
  error: ResumeErrorEvent;
  /**
   * Once, when it is over for good (`close()`, a final close code, `maxRetries` reached, or the subprotocol not selected).
   */
  close: CloseEventLike;
}

/** What `send` accepts: text, or bytes (a Blob would need an asynchronous read: read it first). */
export type ResumeSendData = string | ArrayBuffer | ArrayBufferView;

/**
 * The browser client of the resume subprotocol `fullduplex.resume.v1` (docs/recovery.md "Client"), on
 * {@link ReconnectingWebSocket}: on every connection it subscribes to each wanted topic from its last
 * position, so that each message arrives once (`message`) and every hole is reported (`gap`); `send`s are
 * kept until the server acknowledges them and re-sent with their seq (applied once). Events:
 * {@link ResumingWebSocketEventMap}.
 */
export class ResumingWebSocket extends webSocketTarget<ResumingWebSocketEventMap>() {
  readonly #state: ResumeState;
  readonly #rws: ReconnectingWebSocket;
  /** The platform socket of the current connection (null between connections). */
  #socket: WebSocketLike | null = null;
  /** The current connection is open with the subprotocol. */
  #open = false;
  /** `close()` was called, or the client gave up on its own (the subprotocol not selected). */
  #stopping = false;

  /**
   * @param url - as for `new WebSocket(url)` (checked by the platform class, which throws its "SyntaxError").
   */
  constructor(url: string | URL, options: ResumingWebSocketOptions = {}) {
    super();
    const { session, maxUnacked, maxUnackedBytes, reconnect } = options;
    this.#state = new ResumeState({
      ...(session !== undefined && { session }),
      ...(maxUnacked !== undefined && { maxUnacked }),
      ...(maxUnackedBytes !== undefined && { maxUnackedBytes }),
    });
    const Platform = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructorLike }).WebSocket;
    if (typeof Platform !== 'function') throw new TypeError('ResumingWebSocket: there is no global WebSocket here; pass the class as options.WebSocket');
    // The platform socket of each connection is seen here first: its `close` ends the resume state's
    // connection before ReconnectingWebSocket reacts, and a protocol error closes it (and only it).
    const capture = (socket: WebSocketLike): void => {
      this.#socket = socket;
      socket.addEventListener('close', () => {
        if (this.#socket !== socket) return;
        this.#socket = null;
        this.#open = false;
        this.#state.onClose();
      });
    };
    const Capturing = function (socketUrl: string, protocols?: string | string[]): WebSocketLike {
      const socket = protocols === undefined ? new Platform(socketUrl) : new Platform(socketUrl, protocols);
      capture(socket);
      return socket;
    } as unknown as WebSocketConstructorLike;
    const rws = new ReconnectingWebSocket(url, RESUME_SUBPROTOCOL, { reconnect: reconnectOption(reconnect), WebSocket: Capturing });
    this.#rws = rws;
    rws.binaryType = 'arraybuffer';
    rws.addEventListener('open', () => this.#onOpen());
    rws.addEventListener('message', (event) => {
      const events = this.#state.onMessage(event.data as string | ArrayBuffer);
      for (const item of events) this.#deliver(item);
    });
    rws.addEventListener('error', () => this.dispatchEvent(new ResumeErrorEvent({ error: null })));
    rws.addEventListener('reconnecting', (event) => this.dispatchEvent(new ReconnectingEvent(event.detail)));
    rws.addEventListener('reconnected', (event) => this.dispatchEvent(new ReconnectedEvent(event.detail)));
    rws.addEventListener('close', (event) => {
      this.#open = false;
      this.#state.onClose();
      this.dispatchEvent(closeEvent({ code: event.code, reason: event.reason, wasClean: event.wasClean }));
    });
  }

  /** The URL given to the constructor. */
  get url(): string {
    return this.#rws.url;
  }
  /** CONNECTING before each connection opens (and between them), OPEN, CLOSING after `close()`, CLOSED at the end. */
  get readyState(): number {
    const state = this.#rws.readyState;
    if (state === CLOSED) return CLOSED;
    if (this.#stopping) return CLOSING;
    return this.#open ? OPEN : CONNECTING;
  }
  /** The session id: the scope of the sends' seqs. */
  get session(): string {
    return this.#state.session;
  }
  /** How many sends wait for their ack. */
  get unacked(): number {
    return this.#state.unackedCount;
  }
  /** The topics wanted. */
  get topics(): string[] {
    return this.#state.subscriptions();
  }

  /** The last position seen of `topic` (null: none yet, or not subscribed). */
  position(topic: string): ResumePosition | null {
    return this.#state.position(topic);
  }

  /** Every wanted topic with its last position: what to keep (localStorage) to resume after a reload. */
  positions(): Record<string, ResumePosition | null> {
    return resumePositions(this.#state);
  }

  /**
   * Want `topic` from now on (no-op if wanted already). `from`: a position seen before (resume after
   * it), `'start'` (all the topic still keeps), or absent (live from now on). A TypeError for a bad topic
   * or position; an "InvalidStateError" DOMException after `close()`.
   */
  subscribe(topic: string, options: ResumeSubscribeOptions = {}): void {
    this.#checkNotClosed('subscribe');
    this.#sendAll(this.#state.subscribe(topic, options));
  }

  /** Stop wanting `topic` and forget its position. */
  unsubscribe(topic: string): void {
    this.#checkNotClosed('unsubscribe');
    this.#sendAll(this.#state.unsubscribe(topic));
  }

  /**
   * Send an application message at most once: returns its seq; it is kept until the server acks it
   * (`acked` event with a seq ≥ it), re-sent with the same seq on every new connection meanwhile.
   * Throws a `ResumeError` FD_ERR_RESUME_UNACKED_FULL (nothing taken) at `maxUnacked` or
   * `maxUnackedBytes`; an "InvalidStateError" DOMException after `close()`.
   */
  send(data: ResumeSendData): number {
    this.#checkNotClosed('send');
    const { seq, frame } = this.#state.send(toSendable(data));
    if (frame !== null) this.#rws.send(frame);
    return seq;
  }

  /** Close for good (code and reason as `WebSocket.close` checks them). Sends not acked stay unacked. */
  close(code?: number, reason?: string): void {
    this.#rws.close(code, reason);
    this.#stopping = true;
  }

  #onOpen(): void {
    if (this.#rws.protocol !== RESUME_SUBPROTOCOL) {
      // RFC 6455 §4.2.2: a server that does not speak it selects none; retrying would not change that.
      const error = new ResumeError(
        'FD_ERR_RESUME_NOT_SELECTED',
        `The server at ${this.#rws.url} did not select the subprotocol ${RESUME_SUBPROTOCOL} (it selected ${this.#rws.protocol === '' ? 'none' : JSON.stringify(this.#rws.protocol)}): it does not resume; use a plain WebSocket`,
      );
      this.#stopping = true;
      this.dispatchEvent(new ResumeErrorEvent({ error }));
      this.#rws.close(1000, error.code);
      return;
    }
    this.#open = true;
    // Hello, subs, unacked sends first: what `open` listeners subscribe or send follows.
    this.#sendAll(this.#state.onOpen());
    this.dispatchEvent(new Event('open'));
  }

  #deliver(event: ResumeEvent): void {
    switch (event.type) {
      case 'message':
        this.dispatchEvent(new ResumeMessageEvent({ topic: event.topic, data: event.data, epoch: event.position.epoch, offset: event.position.offset, replayed: event.replayed }));
        return;
      case 'subscribed':
        this.dispatchEvent(new ResumeSubscribedEvent({ topic: event.topic, epoch: event.position.epoch, offset: event.position.offset, replay: event.replay, gap: event.gap }));
        return;
      case 'gap':
        this.dispatchEvent(new ResumeGapEvent({ topic: event.topic, reason: event.reason, epoch: event.position.epoch, offset: event.position.offset }));
        return;
      case 'unsubscribed':
        this.dispatchEvent(new ResumeUnsubscribedEvent({ topic: event.topic }));
        return;
      case 'refused':
        this.dispatchEvent(new ResumeRefusedEvent({ topic: event.topic, code: event.code, message: event.message }));
        return;
      case 'acked':
        this.dispatchEvent(new ResumeAckedEvent({ seq: event.seq }));
        return;
      case 'error': {
        // The server broke the protocol: close this connection (only it; ReconnectingWebSocket then
        // reconnects per its policy) and resume from the last position on the next one.
        this.#open = false;
        this.dispatchEvent(new ResumeErrorEvent({ error: event.error }));
        this.#socket?.close(1000, event.error.code);
        return;
      }
    }
  }

  #sendAll(frames: readonly (string | Uint8Array)[]): void {
    for (const frame of frames) this.#rws.send(frame);
  }

  #checkNotClosed(what: string): void {
    if (this.#stopping || this.#rws.readyState === CLOSED) throw new DOMException(`ResumingWebSocket: ${what}() after close()`, 'InvalidStateError');
  }
}

defineReadyStates(ResumingWebSocket);

/** ReconnectingWebSocket's `reconnect` option: the backoff, never a queue (sends are kept as unacked). */
function reconnectOption(option: boolean | ReconnectOptions | undefined): { readonly queue: false } & ReconnectOptions {
  if (option === undefined || option === true) return { queue: false };
  if (option === false) return { maxRetries: 0, queue: false };
  if (typeof option !== 'object' || option === null) throw new TypeError('ResumingWebSocket: the reconnect option must be a boolean or an object');
  if ('queue' in option) {
    throw new TypeError(
      'ResumingWebSocket: reconnect.queue does not apply: sends made while disconnected are kept as unacked sends (bounded by the maxUnacked and maxUnackedBytes options) and re-sent on the next connection',
    );
  }
  return { ...option, queue: false };
}

/** Text stays text; bytes become a Uint8Array view (the resume state copies them into the frame). */
function toSendable(data: ResumeSendData): string | Uint8Array {
  if (typeof data === 'string') return data;
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw new TypeError(`ResumingWebSocket: send takes a string (text) or bytes (ArrayBuffer, TypedArray, DataView); got ${data === null ? 'null' : typeof data}`);
}
