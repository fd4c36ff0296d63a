/**
 * The queue of messages sent while a reconnecting client has no open connection, as both reconnecting
 * clients spell it (issue 18): the Node `ws`-shaped client (src/node/reconnect.ts) and the WHATWG-style
 * `ReconnectingWebSocket` (src/browser/reconnecting-websocket.ts) take the same
 * `reconnect: { ..., queue: { maxMessages, maxBytes } | false }`, with the same defaults, checked here
 * with the same errors. Pure: no Node API (the browser build imports it).
 */
import type { ReconnectOptions } from './reconnect-policy.js';

/** Bounds of the queue of messages sent while disconnected. */
export interface ReconnectQueueOptions {
  /** At most this many messages. Default 1,000. */
  readonly maxMessages?: number;
  /** At most this many bytes (UTF-8 for text). Default 1 MiB. */
  readonly maxBytes?: number;
}

/** `reconnect` as both reconnecting clients take it: the backoff, and what to do with sends meanwhile. */
export interface QueueingReconnectOptions extends ReconnectOptions {
  /**
   * Sends made while no connection is open: queued up to these bounds (default
   * `{ maxMessages: 1000, maxBytes: 1 MiB }`) and sent in order once the next connection is open, or
   * `false` to refuse them (as `proxy: false` and `reconnect: false` turn those off). Never dropped
   * silently: each client reports a refused message its own way.
   */
  readonly queue?: ReconnectQueueOptions | false;
}

/** The filled-in bounds. */
export type ReconnectQueueBound = Required<ReconnectQueueOptions>;

/** The default `queue` bounds: 1,000 messages and 1 MiB. */
export const RECONNECT_QUEUE_DEFAULTS: ReconnectQueueBound = Object.freeze({ maxMessages: 1_000, maxBytes: 1024 * 1024 });

/**
 * Check `reconnect.queue` and fill in the defaults: the bounds, or null for `false` (refuse). A
 * TypeError or RangeError names the bad field.
 */
export function reconnectQueueBound(queue: unknown): ReconnectQueueBound | null {
  if (queue === false) return null;
  if (queue === undefined) return RECONNECT_QUEUE_DEFAULTS;
  if (typeof queue !== 'object' || queue === null) {
    throw new TypeError(`The reconnect.queue option must be { maxMessages, maxBytes } or false; got ${String(queue)}`);
  }
  const given = queue as ReconnectQueueOptions;
  const bound = { maxMessages: given.maxMessages ?? RECONNECT_QUEUE_DEFAULTS.maxMessages, maxBytes: given.maxBytes ?? RECONNECT_QUEUE_DEFAULTS.maxBytes };
  for (const name of ['maxMessages', 'maxBytes'] as const) {
    const value: unknown = bound[name];
    if (!(typeof value === 'number' && value >= 0 && (Number.isInteger(value) || value === Infinity))) {
      throw new RangeError(`The reconnect.queue.${name} option must be an integer >= 0 (or Infinity); got ${String(value)}`);
    }
  }
  return bound;
}
