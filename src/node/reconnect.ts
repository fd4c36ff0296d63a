/**
 * Opt-in reconnection of the `ws`-shaped client (`new WebSocket(url, { reconnect: true })`, issue 18,
 * docs/client.md "## Reconnecting"). One `WebSocket` object stands for the logical connection: when a
 * connection ends without the application asking for it, this asks the backoff policy
 * (src/protocol/reconnect-policy.ts) whether and when to connect again, keeps what the application
 * sends meanwhile in a bounded queue (or refuses it), and sends the queue in order once the next
 * connection is open. `ws` itself has no reconnection; nothing here runs per message while open.
 */
import { ReconnectPolicy, reconnectSettings, type ClosedConnection } from '../protocol/reconnect-policy.js';
import { reconnectQueueBound, type QueueingReconnectOptions, type ReconnectQueueBound } from '../protocol/reconnect-queue.js';
import { HandshakeError } from '../protocol/errors.js';
import type { SendCallback } from './transport.js';
import { isBlob, toPayload, type SendData } from './data.js';

export type { ReconnectQueueOptions } from '../protocol/reconnect-queue.js';

/**
 * `reconnect` option of the Node client: the backoff policy's options, and `queue` (shared with
 * `ReconnectingWebSocket`, src/protocol/reconnect-queue.ts): messages sent while no connection is open
 * are queued up to its bounds and sent in order once the next connection is open, or refused with
 * `false`. A message over a bound, or refused, goes to its `send` callback as an error and to the
 * `dropped` event; none is dropped silently.
 */
export interface ClientReconnectOptions extends QueueingReconnectOptions {
  /**
   * `for await (const message of ws)`: `'across'` (default) goes on across reconnects and ends when the
   * client closes for good; `'connection'` ends when the current connection ends (start a new loop on
   * the next `open`).
   */
  readonly iterate?: 'across' | 'connection';
}

/** Why the client stopped for good (`ws.reconnection.endedBy`). */
export type ReconnectEnd = 'application' | 'final-close' | 'refused' | 'max-retries';

/** Why a message was not sent (`dropped` event). */
export type DropReason =
  /** The queue was at one of its bounds. */
  | 'queue-full'
  /** `queue: false`: nothing is kept while disconnected. */
  | 'not-queued'
  /** The client closed for good with the message still queued. */
  | 'closed'
  /**
   * A fragment (`send(data, { fin: false })` and the sends that continue it) of a message that cannot
   * be completed: its first fragments were sent on a connection that died, or were dropped or
   * refused. Refused until the send that ends that message (`fin` not false), that one included.
   */
  | 'partial-message';

/** The `reconnecting` event: the connection (or attempt) that ended, and when the next one starts. */
export interface ReconnectingEvent {
  /** Attempts since the backoff was last reset, this one included (1 for the first). */
  readonly attempt: number;
  /** Milliseconds until the attempt. */
  readonly delay: number;
  /** The close code (1006 when no close frame came, or the attempt failed). */
  readonly code: number;
  /** The close reason ("" when none). */
  readonly reason: string;
  /** The error that ended it (a failed handshake, a protocol error), if any. */
  readonly error?: Error;
  /** The HTTP status of a refused handshake. */
  readonly status?: number;
  /** Bytes still buffered in the dead connection when it ended (lost: their `send` callbacks got an error). */
  readonly unsentBytes: number;
}

/** The events a reconnecting client adds to `WebSocketEvents`. */
export interface ReconnectEvents {
  /** A connection (or an attempt) ended and another one follows after `delay` ms. */
  reconnecting: [event: ReconnectingEvent];
  /** A connection opened after a drop (after its `open` listeners ran and the queue was sent). */
  reconnected: [attempt: number];
  /** A message was not sent; its `send` callback, if any, got the error too. */
  dropped: [data: SendData | null | undefined, reason: DropReason];
}

/** What `ws.reconnection` shows (null without the `reconnect` option). */
export interface ReconnectionState {
  /** Attempts since the backoff was last reset (a connection that stayed open `resetAfter` ms). */
  readonly attempt: number;
  /** Connections opened after a drop, in all. */
  readonly reconnects: number;
  /** Messages waiting for the next connection. */
  readonly queuedMessages: number;
  /** Bytes of the messages waiting for the next connection (they count in `bufferedAmount`). */
  readonly queuedBytes: number;
  /** Messages not sent: over a queue bound, refused (`queue: false`), or queued at the end. */
  readonly droppedMessages: number;
  /** Bytes of the messages not sent. */
  readonly droppedBytes: number;
  /** Bytes still buffered in connections that died (their `send` callbacks got an error). */
  readonly unsentBytes: number;
  /** Why it stopped for good, once it has (null while it goes on). */
  readonly endedBy: ReconnectEnd | null;
  /** Whether `for await` over the client goes on across reconnects (`iterate: 'across'`). */
  readonly iteratesAcross: boolean;
}

/** What the reconnector needs of its `WebSocket`. */
export interface ReconnectHost {
  /** Start a new opening handshake (the first one is started by the constructor). */
  connect(): void;
  /** Send a queued message on the open connection (the public `send`). */
  send(data: SendData | null | undefined, options: object | undefined, callback: SendCallback | undefined): void;
  /** Forget the ended connection and be CONNECTING again. */
  reset(): void;
  /** Emit one of the reconnect events. */
  emit<K extends keyof ReconnectEvents>(event: K, ...args: ReconnectEvents[K]): void;
  /** Emit the held error (if any) and `close`: it is over for good. */
  finish(error: Error | null): void;
  /** Whether the current connection is in the middle of a fragmented message we send (false when none). */
  sendingFragmented(): boolean;
}

interface Queued {
  readonly data: SendData | null | undefined;
  readonly options: object | undefined;
  readonly callback: SendCallback | undefined;
  readonly size: number;
}

/** Check the `reconnect` option (a RangeError or TypeError names the bad field). */
export function checkReconnectOptions(option: unknown): ClientReconnectOptions | null {
  if (option === undefined || option === false) return null;
  if (option === true) return {};
  if (typeof option !== 'object' || option === null) throw new TypeError('The reconnect option must be a boolean or an object');
  const options = option as ClientReconnectOptions;
  reconnectSettings(options);
  reconnectQueueBound(options.queue);
  if (options.iterate !== undefined && options.iterate !== 'across' && options.iterate !== 'connection') {
    throw new TypeError(`The reconnect.iterate option must be 'across' or 'connection'; got ${String(options.iterate)}`);
  }
  return options;
}

export class Reconnector implements ReconnectionState {
  readonly #host: ReconnectHost;
  readonly #policy: ReconnectPolicy;
  /** The queue's bounds, or null when sends while disconnected are refused (`queue: false`). */
  readonly #bound: ReconnectQueueBound | null;
  readonly #iterate: 'across' | 'connection';
  #timer: NodeJS.Timeout | null = null;
  #openedAt = 0;
  #everOpened = false;
  #queue: Queued[] = [];
  #queuedBytes = 0;
  #droppedMessages = 0;
  #droppedBytes = 0;
  #unsentBytes = 0;
  #reconnects = 0;
  #endedBy: ReconnectEnd | null = null;
  #error: Error | null = null;
  /**
   * Fragments (`fin: false`) make one message only on one connection (RFC 6455 §5.4). Why the rest of
   * the current message is refused (its start died with a connection, or was dropped), or null.
   */
  #cut: string | null = null;
  /** Where the message begun while disconnected starts in the queue, while it is incomplete (else -1). */
  #groupStart = -1;
  /** The current connection's message in progress has been cut already (by a send while it closes). */
  #cutSeen = false;
  /** A connection is open (between `opened` and `ended`). */
  #open = false;
  /** The queue is being sent: sends go to the connection, not back here. */
  #flushing = false;

  constructor(options: ClientReconnectOptions, host: ReconnectHost, random?: () => number) {
    this.#host = host;
    this.#policy = new ReconnectPolicy(options, random);
    this.#bound = reconnectQueueBound(options.queue);
    this.#iterate = options.iterate ?? 'across';
  }

  // --- what the application can read (`ws.reconnection`) -----------------------------------------

  /** Attempts since the backoff was last reset (a connection that stayed open `resetAfter` ms). */
  get attempt(): number {
    return this.#policy.attempts;
  }
  /** Connections opened after a drop, in all. */
  get reconnects(): number {
    return this.#reconnects;
  }
  /** Messages waiting for the next connection. */
  get queuedMessages(): number {
    return this.#queue.length;
  }
  /** Bytes waiting for the next connection (part of `bufferedAmount`). */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }
  /** Messages not sent: over the queue's bound, refused (`queue: false`), or queued when it ended. */
  get droppedMessages(): number {
    return this.#droppedMessages;
  }
  get droppedBytes(): number {
    return this.#droppedBytes;
  }
  /** Bytes that were still buffered in connections that died (their callbacks got an error). */
  get unsentBytes(): number {
    return this.#unsentBytes;
  }
  /** Why it stopped for good, once it has (null while it goes on). */
  get endedBy(): ReconnectEnd | null {
    return this.#endedBy;
  }
  /** Whether `for await` goes on across reconnects. */
  get iteratesAcross(): boolean {
    return this.#iterate === 'across';
  }
  /** Waiting for the timer of the next attempt (no handshake running). */
  get waiting(): boolean {
    return this.#timer !== null;
  }
  /** The application closed it: no more reconnecting, no more queueing. */
  get stopped(): boolean {
    return this.#endedBy !== null;
  }
  /**
   * Sends go to `enqueue` even while a connection is open: a message begun while disconnected is
   * being completed (held until its last fragment), or the rest of a cut message is being refused.
   */
  get intercepting(): boolean {
    return (this.#cut !== null || this.#groupStart !== -1) && !this.#flushing && this.#endedBy === null;
  }

  // --- driven by the WebSocket ----------------------------------------------------------------------

  /**
   * A send while no connection is open (CONNECTING, or CLOSING/CLOSED before the next attempt), or
   * while `intercepting`: queue it within the bounds, or refuse it (callback error and `dropped`).
   * Fragments: the rest of a message whose start went on a connection that died (or was dropped) is
   * refused up to its last fragment; a message begun here is queued, and sent or dropped, as a whole.
   * Returns `send`'s value: false (wait for `open`, the queue is not drained by the network yet).
   */
  enqueue(data: SendData | null | undefined, options: object | undefined, callback: SendCallback | undefined): boolean {
    const size = sizeOf(data);
    const fin = (options as { fin?: boolean } | undefined)?.fin !== false;
    if (this.#cut === null && this.#groupStart === -1 && !this.#cutSeen && this.#host.sendingFragmented()) {
      // The connection is closing in the middle of a message we sent: the rest cannot go on another.
      this.#cutSeen = true;
      this.#cut = 'its first fragments were sent on a connection that ended';
    }
    if (this.#cut !== null) {
      const why = this.#cut;
      if (fin) this.#cut = null;
      this.#drop(data, size, callback, 'partial-message', `it continues a message that cannot be completed (${why})`);
      return false;
    }
    const bound = this.#bound;
    if (bound === null) {
      this.#drop(data, size, callback, 'not-queued', 'the client is reconnecting and reconnect.queue is false');
      if (!fin) this.#cut = 'its first fragment was not queued (reconnect.queue is false)';
      return false;
    }
    if (this.#queue.length + 1 > bound.maxMessages || this.#queuedBytes + size > bound.maxBytes) {
      const why = `the reconnect queue is full (${this.#queue.length} messages, ${this.#queuedBytes} bytes)`;
      // A message is queued whole or not at all: its fragments already queued go too.
      const group = this.#groupStart === -1 ? [] : this.#queue.splice(this.#groupStart);
      this.#groupStart = -1;
      for (const entry of group) {
        this.#queuedBytes -= entry.size;
        this.#drop(entry.data, entry.size, entry.callback, 'queue-full', why);
      }
      this.#drop(data, size, callback, 'queue-full', why);
      if (!fin) this.#cut = 'its first fragments were dropped: the reconnect queue was full';
      return false;
    }
    this.#queue.push({ data, options, callback, size });
    this.#queuedBytes += size;
    if (!fin) {
      if (this.#groupStart === -1) this.#groupStart = this.#queue.length - 1;
    } else if (this.#groupStart !== -1) {
      // The message begun while disconnected is complete: on an open connection it goes now, whole.
      this.#groupStart = -1;
      if (this.#open) this.#flush();
    }
    return false;
  }

  /** An error of the current connection: held until it is known whether the client reconnects. */
  noteError(error: Error): void {
    this.#error ??= error;
  }

  /**
   * A connection opened (its `open` listeners have run): send the queue in order, then `reconnected`.
   * An incomplete message at the queue's end stays there until its last fragment comes.
   */
  opened(): void {
    this.#openedAt = Date.now();
    this.#open = true;
    this.#cutSeen = false;
    this.#error = null;
    if (this.#endedBy !== null) {
      // An `open` listener closed it: the queue will never be sent.
      this.#failQueue();
      return;
    }
    this.#flush();
    if (this.#everOpened) {
      this.#reconnects++;
      this.#host.emit('reconnected', this.#policy.attempts);
    }
    this.#everOpened = true;
  }

  /** Send the queue in order, up to the incomplete message at its end (kept, at the queue's start). */
  #flush(): void {
    const queue = this.#queue;
    const held = this.#groupStart === -1 ? [] : queue.splice(this.#groupStart);
    this.#queue = held;
    this.#groupStart = held.length === 0 ? -1 : 0;
    this.#queuedBytes = held.reduce((total, entry) => total + entry.size, 0);
    this.#flushing = true;
    try {
      for (const entry of queue) this.#host.send(entry.data, entry.options, entry.callback);
    } finally {
      this.#flushing = false;
    }
  }

  /**
   * A connection (or an attempt) ended. Returns true when another attempt is scheduled (the
   * `WebSocket` emits no `close`); false when it is over for good (the host's `finish` follows).
   * A refused handshake's status and `Retry-After` come from its `HandshakeError`: `error`, or
   * `refusal` when an `unexpected-response` listener had the response (then no error is reported).
   */
  ended(code: number, reason: string, error: Error | null, unsentBytes: number, refusal: Error | null = null): boolean {
    const heldError = error ?? this.#error;
    this.#error = null;
    const openFor = this.#openedAt === 0 ? 0 : Date.now() - this.#openedAt;
    this.#openedAt = 0;
    this.#open = false;
    this.#unsentBytes += unsentBytes;
    if (this.#endedBy !== null) return this.#over(heldError);
    if (this.#cut === null && !this.#cutSeen && this.#host.sendingFragmented()) {
      // RFC 6455 §5.4: the message's first fragments died with this connection; its rest is refused.
      this.#cut = 'its first fragments were sent on a connection that ended';
    }
    this.#cutSeen = false;
    const refused = refusalOf(refusal ?? heldError);
    const close: ClosedConnection = {
      code,
      reason,
      openFor,
      ...(refused !== null && { status: refused.status }),
      ...(refused?.retryAfter !== undefined && { retryAfter: refused.retryAfter }),
    };
    const decision = this.#policy.closed(close);
    if (!decision.reconnect) {
      this.#endedBy = decision.why;
      return this.#over(heldError);
    }
    this.#host.reset();
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#host.connect();
    }, decision.delay);
    this.#host.emit('reconnecting', {
      attempt: decision.attempt,
      delay: decision.delay,
      code,
      reason,
      ...(heldError !== null && { error: heldError }),
      ...(refused !== null && { status: refused.status }),
      unsentBytes,
    });
    return true;
  }

  /**
   * The application called close() or terminate(). Returns true if the client was waiting for its
   * next attempt: then nothing is connected, and it is over now (the host emits `close`).
   */
  stop(): boolean {
    if (this.#endedBy === null) this.#endedBy = 'application';
    if (this.#timer === null) return false;
    clearTimeout(this.#timer);
    this.#timer = null;
    this.#failQueue();
    return true;
  }

  #over(error: Error | null): false {
    this.#failQueue();
    // Closed by the application: `close` on the next tick wherever it was (as `ws` emits it); the
    // readyState is CLOSED already.
    if (this.#endedBy === 'application') process.nextTick(() => this.#host.finish(error));
    else this.#host.finish(error);
    return false;
  }

  /** It is over: every queued message gets its error (never lost silently). */
  #failQueue(): void {
    const queue = this.#queue;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#groupStart = -1;
    this.#cut = null;
    for (const entry of queue) {
      this.#drop(entry.data, entry.size, entry.callback, 'closed', `the client closed for good (${this.#endedBy ?? 'closed'}) before it could be sent`);
    }
  }

  #drop(data: SendData | null | undefined, size: number, callback: SendCallback | undefined, reason: DropReason, why: string): void {
    this.#droppedMessages++;
    this.#droppedBytes += size;
    if (callback !== undefined) process.nextTick(callback, new Error(`The message was not sent: ${why}`));
    this.#host.emit('dropped', data, reason);
  }
}

/** A refused handshake's status and Retry-After from its `HandshakeError` (HTTP/1.1 or HTTP/2). */
function refusalOf(error: Error | null): { status: number; retryAfter: string | undefined } | null {
  if (!(error instanceof HandshakeError) || error.code !== 'FD_ERR_HANDSHAKE_STATUS' || error.status === 0) return null;
  return { status: error.status, retryAfter: error.headers['retry-after'] };
}

/** Bytes of a message (for the queue's bound and `bufferedAmount`); bad data throws, as `send` does. */
function sizeOf(data: SendData | null | undefined): number {
  if (isBlob(data)) return data.size;
  const { payload } = toPayload(data);
  return typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
}
