/**
 * `ResumingClient`: the Node client of the resume subprotocol `fullduplex.resume.v1` (issue 19,
 * docs/recovery.md "## Client"). One object stands for a logical session across connections:
 *
 *  - it connects with `Sec-WebSocket-Protocol: fullduplex.resume.v1` and reconnects by itself, with the
 *    backoff of the `ws`-shaped client's `reconnect` option (src/node/reconnect.ts: the same
 *    `Reconnector`, policy, final closes, refused handshakes and `Retry-After`), on by default here;
 *  - per topic it keeps the last position seen (src/protocol/resume-state.ts) and subscribes again from
 *    it on every connection, so the server replays what was missed; each offset reaches `message` once,
 *    and every hole the server reports reaches `gap` (an unreported one is a protocol error);
 *  - `send` is idempotent: each message gets a seq, is kept until the server acks it, and is re-sent with
 *    the same seq on the next connection (the server applies (session, seq) once).
 *
 * Each connection is a plain `WebSocket` (no `reconnect` option of its own): this class owns the loop, so
 * that it can fail one connection with the close code of a protocol error (1002, 1003, 1007) and still
 * reconnect, which `WebSocket.close()` on a reconnecting client would end for good. Nothing is queued at
 * the WebSocket level: the subscriptions and the unacked sends are the state that each connection
 * replays, bounded by `maxUnacked` and `maxUnackedBytes`.
 */
import { EventEmitter } from 'node:events';
import { Buffer } from 'node:buffer';
import type { IncomingHttpHeaders } from 'node:http';
import { CloseCode, isValidCloseCode } from '../protocol/close-codes.js';
import { MAX_CLOSE_REASON_BYTES } from '../protocol/constants.js';
import type { ReconnectOptions } from '../protocol/reconnect-policy.js';
import { ReadyState } from '../protocol/close-handshake.js';
import { resumePositions } from '../protocol/resume-positions.js';
import { ResumeState, type ResumeEvent, type ResumeOutgoing, type ResumeStateOptions, type ResumeSubscribeOptions } from '../protocol/resume-state.js';
import { RESUME_SUBPROTOCOL, ResumeError, type ResumeGapReason, type ResumePosition } from '../protocol/resume-wire.js';
import { HandshakeError } from '../protocol/errors.js';
import { Reconnector, type ReconnectHost, type ReconnectingEvent } from './reconnect.js';
import { WebSocket, type ClientOptions } from './websocket.js';

export type { ResumePosition, ResumeGapReason } from '../protocol/resume-wire.js';
export type { ResumeSubscribeOptions } from '../protocol/resume-state.js';

/**
 * Options of `ResumingClient`: a client's handshake and connection options (headers, proxy, TLS,
 * `heartbeat`...), the resume state's (`session`, `maxUnacked`, `maxUnackedBytes`) and `reconnect`.
 */
export interface ResumingClientOptions extends Omit<ClientOptions, 'reconnect'>, ResumeStateOptions {
  /**
   * The backoff (`ReconnectOptions`, as the `ws`-shaped client's `reconnect` option takes it); `true`
   * (the default) for the defaults; `false` for a single connection. No `queue`: what is sent while
   * disconnected is kept as unacked sends (bounded by `maxUnacked` and `maxUnackedBytes`).
   */
  readonly reconnect?: boolean | ReconnectOptions;
}

/** Where a message sits in its topic, and whether it was replayed from history. */
export interface ResumeMessageInfo {
  /** The epoch of the topic's history (opaque; a new epoch means the history was replaced). */
  readonly epoch: string;
  /** The message's offset in the epoch (1 for the first): with `epoch`, the position to resume after. */
  readonly offset: number;
  /** It came from history (the server's replay after `subscribed`), not live. */
  readonly replayed: boolean;
}

/** The server took a subscription: messages continue after (`epoch`, `offset`); `replay` come from history. */
export interface ResumeSubscribedInfo {
  /** The epoch of the topic's history (opaque; a new epoch means the history was replaced). */
  readonly epoch: string;
  /** The offset the stream continues after (0: before the first message). */
  readonly offset: number;
  /** How many messages the server replays from history before live ones. */
  readonly replay: number;
  /** Not null when messages were lost since the position asked for (a `gap` event says it too). */
  readonly gap: ResumeGapReason | null;
}

/** Messages of a topic were lost: why, and the position the stream continues after. */
export interface ResumeGapInfo {
  /** `epoch`: the history was replaced (everything before is gone); `trimmed`: the oldest were dropped. */
  readonly reason: ResumeGapReason;
  /** The epoch of the topic's history (opaque; a new epoch means the history was replaced). */
  readonly epoch: string;
  /** The offset the stream continues after. */
  readonly offset: number;
}

/** The server refused a request (an `error` message): its code and message. */
export interface ResumeRefusal {
  /** The server's error code (e.g. `FD_ERR_RESUME_FORBIDDEN` when `authorize` refused the topic). */
  readonly code: string;
  /** The server's explanation. */
  readonly message: string;
}

/** What `send` accepts: text (sent as text), or bytes (sent as binary). */
export type ResumeSendData = string | Buffer | ArrayBuffer | ArrayBufferView;

/** Told when the server acked the send (null), or that the client closed for good first (an Error). */
export type ResumeSendCallback = (error: Error | null) => void;

/** The events of a `ResumingClient`. */
export interface ResumingClientEvents {
  /** A connection opened with the subprotocol (the hello, the subs and the unacked sends are on their way). */
  open: [];
  /** A connection (or an attempt) ended; the next attempt starts after `event.delay` ms. */
  reconnecting: [event: ReconnectingEvent];
  /** A connection other than the first opened (after its `open`). */
  reconnected: [attempt: number];
  /** A message of `topic`, exactly once: text as a string, binary as a Buffer. */
  message: [topic: string, data: string | Buffer, info: ResumeMessageInfo];
  /** The server took the subscription of `topic` (on every connection). */
  subscribed: [topic: string, info: ResumeSubscribedInfo];
  /** Messages of `topic` were lost: reload what depends on them (docs/recovery.md "## Client"). */
  gap: [topic: string, info: ResumeGapInfo];
  /** The server confirmed an `unsubscribe`. */
  unsubscribed: [topic: string];
  /** The server refused a subscription (`topic`; then it is no longer wanted) or another request (null). */
  refused: [topic: string | null, refusal: ResumeRefusal];
  /** Every send with a seq up to `seq` was applied by the server. */
  acked: [seq: number];
  /**
   * It stopped for good because of this error (emitted only when listened to, just before `close`):
   * FD_ERR_RESUME_NOT_SELECTED, or the error of the last connection or attempt. Errors of connections
   * that are followed by another attempt are in `reconnecting`'s `event.error`.
   */
  error: [error: Error];
  /** It is over for good (`close()`, a final close, `maxRetries`, or the subprotocol not selected). */
  close: [code: number, reason: Buffer];
}

const EMPTY = Buffer.alloc(0);

/**
 * The Node client of the resume subprotocol `fullduplex.resume.v1` (docs/recovery.md "Client"), on the
 * reconnecting client: on every connection it subscribes to each wanted topic from its last position, so
 * that each message arrives once (`message`) and every hole is reported (`gap`); `send`s are kept until
 * the server acknowledges them and re-sent with their seq (applied once). Events: {@link ResumingClientEvents}.
 */
export class ResumingClient extends EventEmitter<ResumingClientEvents> {
  readonly #state: ResumeState;
  readonly #reconnector: Reconnector;
  readonly #address: string | URL;
  readonly #connection: ClientOptions;
  #url = '';
  /** The current connection (or attempt); null between attempts and at the end. */
  #ws: WebSocket | null = null;
  /** The current connection is open with the subprotocol. */
  #open = false;
  /** `close()` was called, or the client gave up on its own (the subprotocol not selected). */
  #stopping = false;
  #closed = false;
  #lastClose: { code: number; reason: Buffer } = { code: CloseCode.Abnormal, reason: EMPTY };
  /** The `send` callbacks waiting for their ack, in seq order (`#pending[#pendingHead]` is the oldest). */
  #pending: Array<{ readonly seq: number; readonly callback: ResumeSendCallback }> = [];
  #pendingHead = 0;

  /**
   * Connect to `address` (`ws://`, `wss://`) offering `fullduplex.resume.v1`. Throws what
   * `new WebSocket` throws for a bad URL, a RangeError or TypeError for a bad option.
   */
  constructor(address: string | URL, options: ResumingClientOptions = {}) {
    super();
    const { session, maxUnacked, maxUnackedBytes, reconnect, ...connection } = options;
    this.#state = new ResumeState({
      ...(session !== undefined && { session }),
      ...(maxUnacked !== undefined && { maxUnacked }),
      ...(maxUnackedBytes !== undefined && { maxUnackedBytes }),
    });
    this.#address = address;
    this.#connection = connection;
    this.#reconnector = new Reconnector({ ...reconnectPolicy(reconnect), queue: false }, this.#host());
    this.#connect();
  }

  // --- state --------------------------------------------------------------------------------------

  /** The URL connected to (after redirects). */
  get url(): string {
    return this.#url;
  }

  /** CONNECTING before each connection opens (and between them), OPEN, CLOSING after `close()`, CLOSED at the end. */
  get readyState(): ReadyState {
    if (this.#closed) return ReadyState.CLOSED;
    if (this.#stopping) return ReadyState.CLOSING;
    return this.#open ? ReadyState.OPEN : ReadyState.CONNECTING;
  }

  /** The session id: the scope of the sends' seqs (pass it as `session` to keep it across restarts). */
  get session(): string {
    return this.#state.session;
  }

  /** How many sends wait for their ack. */
  get unacked(): number {
    return this.#state.unackedCount;
  }

  /** The last position seen of `topic` (null: none yet, or not subscribed). */
  position(topic: string): ResumePosition | null {
    return this.#state.position(topic);
  }

  /** Every wanted topic with its last position (null: none yet): what to save to resume after a restart. */
  positions(): Record<string, ResumePosition | null> {
    return resumePositions(this.#state);
  }

  /** The topics wanted. */
  get topics(): string[] {
    return this.#state.subscriptions();
  }

  // --- what the application does --------------------------------------------------------------------

  /**
   * Want `topic` from now on, on this connection and every next one (no-op if wanted already).
   * `from`: a position seen before (saved from `message` or `positions()`: resume after it),
   * `'start'` (all the topic still keeps), or absent (live from now on). Throws a TypeError for a bad
   * topic or position, an Error after `close()`.
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
   * Send an application message at most once: it gets the next seq (returned), goes out now if a
   * connection is open, and is kept until the server acks it, re-sent with the same seq on every new
   * connection meanwhile. `callback(null)` when acked; `callback(error)` when the client closes for good
   * first (the server may or may not have applied it). Throws a `ResumeError` FD_ERR_RESUME_UNACKED_FULL
   * (nothing taken) when `maxUnacked` sends or `maxUnackedBytes` bytes wait for acks already: wait for
   * `acked`. Throws an Error after `close()`.
   */
  send(data: ResumeSendData, callback?: ResumeSendCallback): number {
    this.#checkNotClosed('send');
    if (callback !== undefined && typeof callback !== 'function') throw new TypeError('The send callback must be a function');
    const { seq, frame } = this.#state.send(toSendable(data));
    if (callback !== undefined) this.#pending.push({ seq, callback });
    if (frame !== null) this.#ws?.send(frame);
    return seq;
  }

  /**
   * Close for good (code and reason as `WebSocket.close` takes them): the open connection with a closing
   * handshake, an attempt by aborting it, a wait at once. Sends not acked yet get an error in their callback.
   */
  close(code?: number, reason?: string): void {
    if (code !== undefined && !(typeof code === 'number' && Number.isInteger(code) && isValidCloseCode(code))) {
      throw new TypeError('The close code must be 1000-1003, 1007-1014 or 3000-4999');
    }
    if (reason !== undefined && Buffer.byteLength(reason) > MAX_CLOSE_REASON_BYTES) throw new RangeError('The close reason must not be greater than 123 bytes');
    if (this.#closed || this.#stopping) return;
    this.#stopping = true;
    if (this.#reconnector.stop() || this.#ws === null) {
      // Waiting for the next attempt: nothing is connected, it is over now (`close` on the next tick).
      this.#lastClose = { code: CloseCode.Abnormal, reason: EMPTY };
      process.nextTick(() => this.#finish(null));
      return;
    }
    this.#ws.close(code, reason);
  }

  // --- connections ----------------------------------------------------------------------------------

  /** Start one connection (the constructor's throws what `new WebSocket` throws). */
  #connect(): void {
    const ws = new WebSocket(this.#address, RESUME_SUBPROTOCOL, this.#connection);
    this.#ws = ws;
    this.#url = ws.url;
    ws.on('open', () => this.#onOpen(ws));
    ws.on('message', (data, isBinary) => {
      if (this.#ws !== ws) return;
      // Text frames are control messages (JSON); binary ones data and acks (default binaryType: Buffer).
      const events = this.#state.onMessage(isBinary ? (data as Buffer) : (data as Buffer).toString());
      for (const event of events) this.#deliver(ws, event);
    });
    ws.on('error', (error) => {
      if (this.#ws === ws) this.#reconnector.noteError(error);
    });
    ws.on('unexpected-response', (_request, response) => {
      // A refused handshake: its status and `Retry-After` decide the next attempt (RFC 9110 §15,
      // §10.2.3), as for the reconnecting client; the refusal is the error of this attempt.
      if (this.#ws !== ws) return;
      const status = response.statusCode ?? 0;
      this.#reconnector.noteError(new HandshakeError('FD_ERR_HANDSHAKE_STATUS', status, `Unexpected server response: ${status}`, headerStrings(response.headers)));
      response.resume();
      ws.terminate();
    });
    ws.on('close', (code, reason) => {
      if (this.#ws !== ws) return;
      this.#ws = null;
      this.#open = false;
      this.#state.onClose();
      this.#lastClose = { code, reason };
      this.#reconnector.ended(code, reason.toString(), null, 0);
    });
  }

  #onOpen(ws: WebSocket): void {
    if (this.#ws !== ws) return;
    if (ws.protocol !== RESUME_SUBPROTOCOL) {
      // RFC 6455 §4.2.2: a server that does not speak it selects none; retrying would not change that.
      const error = new ResumeError(
        'FD_ERR_RESUME_NOT_SELECTED',
        `The server at ${ws.url} did not select the subprotocol ${RESUME_SUBPROTOCOL} (it selected ${ws.protocol === '' ? 'none' : JSON.stringify(ws.protocol)}): it does not resume; use the plain WebSocket client`,
      );
      this.#stopping = true;
      this.#reconnector.stop();
      this.#reconnector.noteError(error);
      ws.close(error.closeCode, error.code);
      return;
    }
    this.#open = true;
    // The hello, a sub per wanted topic from its last position, the unacked sends: before `open`
    // listeners run, so that what they subscribe or send follows.
    this.#sendAll(this.#state.onOpen());
    this.#emitSafely('open');
    this.#reconnector.opened();
  }

  #deliver(ws: WebSocket, event: ResumeEvent): void {
    switch (event.type) {
      case 'message': {
        const data = typeof event.data === 'string' ? event.data : Buffer.from(event.data.buffer, event.data.byteOffset, event.data.byteLength);
        this.#emitSafely('message', event.topic, data, { epoch: event.position.epoch, offset: event.position.offset, replayed: event.replayed });
        return;
      }
      case 'subscribed':
        this.#emitSafely('subscribed', event.topic, { epoch: event.position.epoch, offset: event.position.offset, replay: event.replay, gap: event.gap });
        return;
      case 'gap':
        this.#emitSafely('gap', event.topic, { reason: event.reason, epoch: event.position.epoch, offset: event.position.offset });
        return;
      case 'unsubscribed':
        this.#emitSafely('unsubscribed', event.topic);
        return;
      case 'refused':
        this.#emitSafely('refused', event.topic, { code: event.code, message: event.message });
        return;
      case 'acked':
        this.#settle(event.seq);
        this.#emitSafely('acked', event.seq);
        return;
      case 'error': {
        // The server broke the protocol: fail this connection with the error's code (RFC 6455 §7.4.1);
        // the next one resumes from the last position seen. The error goes to `reconnecting`.
        this.#open = false;
        this.#reconnector.noteError(event.error);
        ws.close(event.error.closeCode ?? CloseCode.ProtocolError, event.error.code);
        return;
      }
    }
  }

  #sendAll(frames: readonly ResumeOutgoing[]): void {
    const ws = this.#ws;
    if (ws === null) return;
    for (const frame of frames) ws.send(frame);
  }

  #checkNotClosed(what: string): void {
    if (this.#closed || this.#stopping) throw new Error(`ResumingClient: ${what}() after close()`);
  }

  /** Acked up to `seq`: the callbacks of those sends, in order. */
  #settle(seq: number): void {
    const pending = this.#pending;
    while (this.#pendingHead < pending.length && pending[this.#pendingHead]!.seq <= seq) {
      const { callback } = pending[this.#pendingHead++]!;
      this.#call(callback, null);
    }
    if (this.#pendingHead === pending.length) {
      this.#pending = [];
      this.#pendingHead = 0;
    } else if (this.#pendingHead >= 1024 && this.#pendingHead * 2 >= pending.length) {
      this.#pending = pending.slice(this.#pendingHead);
      this.#pendingHead = 0;
    }
  }

  /** What the reconnect loop drives (src/node/reconnect.ts). */
  #host(): ReconnectHost {
    return {
      // Sends are whole messages (no fragments of the application's), so none can be cut by a lost connection.
      sendingFragmented: () => false,
      connect: () => {
        try {
          this.#connect();
        } catch (error) {
          // The URL was accepted before: anything thrown now is a failed attempt.
          this.#ws = null;
          this.#reconnector.ended(CloseCode.Abnormal, '', error instanceof Error ? error : new Error(String(error)), 0);
        }
      },
      // Nothing is ever queued there (queue: false, and this class sends only while open).
      send: () => {},
      reset: () => {},
      emit: (event, ...args) => {
        if (event === 'reconnecting') this.#emitSafely('reconnecting', args[0] as ReconnectingEvent);
        else if (event === 'reconnected') this.#emitSafely('reconnected', args[0] as number);
      },
      finish: (error) => this.#finish(error),
    };
  }

  /** Over for good: the sends never acked get an error, then the held error (if listened to), then `close`. */
  #finish(error: Error | null): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#open = false;
    this.#ws = null;
    const pending = this.#pending.slice(this.#pendingHead);
    this.#pending = [];
    this.#pendingHead = 0;
    for (const { seq, callback } of pending) {
      this.#call(callback, new Error(`ResumingClient closed before the server acked send ${seq}: it may or may not have been applied`));
    }
    if (error !== null && this.listenerCount('error') > 0) this.#emitSafely('error', error);
    this.#emitSafely('close', this.#lastClose.code, this.#lastClose.reason);
  }

  #call(callback: ResumeSendCallback, error: Error | null): void {
    try {
      callback(error);
    } catch (thrown) {
      this.#reportThrown(thrown);
    }
  }

  /**
   * Emit an event; an exception thrown by a listener goes to `error` (when listened to), else is
   * rethrown asynchronously, as the `ws`-shaped client does: the state stays consistent either way.
   */
  #emitSafely<K extends keyof ResumingClientEvents>(event: K, ...args: ResumingClientEvents[K]): void {
    try {
      (this.emit as (event: K, ...args: ResumingClientEvents[K]) => boolean)(event, ...args);
    } catch (error) {
      if (event === 'error') {
        process.nextTick(() => {
          throw error;
        });
      } else this.#reportThrown(error);
    }
  }

  #reportThrown(error: unknown): void {
    if (this.listenerCount('error') > 0) this.#emitSafely('error', error instanceof Error ? error : new Error(String(error)));
    else
      process.nextTick(() => {
        throw error;
      });
  }
}

/** The backoff options from `reconnect` (checked by the policy); `queue` and `iterate` do not apply. */
function reconnectPolicy(option: boolean | ReconnectOptions | undefined): ReconnectOptions {
  if (option === undefined || option === true) return {};
  if (option === false) return { maxRetries: 0 };
  if (typeof option !== 'object' || option === null) throw new TypeError('The reconnect option must be a boolean or an object');
  for (const key of ['queue', 'iterate'] as const) {
    if (key in option) {
      throw new TypeError(
        `ResumingClient: reconnect.${key} does not apply: sends made while disconnected are kept as unacked sends (bounded by the maxUnacked and maxUnackedBytes options) and re-sent on the next connection`,
      );
    }
  }
  return option;
}

/** Text stays text; bytes become a Uint8Array view (the resume state copies them into the frame). */
function toSendable(data: ResumeSendData): string | Uint8Array {
  if (typeof data === 'string') return data;
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw new TypeError(`ResumingClient: send takes a string (text) or bytes (Buffer, ArrayBuffer, TypedArray, DataView); got ${data === null ? 'null' : typeof data}`);
}

/** The response's headers as strings (repeated ones joined with ", "), for `HandshakeError.headers`. */
function headerStrings(headers: IncomingHttpHeaders): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) result[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return result;
}
