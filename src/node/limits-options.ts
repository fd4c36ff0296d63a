/**
 * The `limits` option group of `WebSocketServer` (docs/limits.md "## Per-client limits" and
 * "## Connection lifetime"): its types, defaults, codes, and the check that turns a bad value into a
 * `RangeError` when the server is created. Everything is off unless asked for: `ws` has none of
 * these, and the default key (the peer's address) is a load balancer's address until the client
 * address is configured (src/node/client-address.ts), so a default limit per address would throttle
 * every user behind one proxy together. Inside a group that is turned on, each limit has a generous
 * default; `Infinity` turns one limit off.
 */
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from './websocket.js';

/** Limits of one kind of client key (an address, or the `key` function's value). */
export interface ClientLimits {
  /**
   * Connections of one client at once (open, or in their handshake); beyond, the handshake is
   * refused with 503 and `Retry-After` (code `FD_ERR_CLIENT_CONNECTIONS`).
   *
   * @defaultValue 1,000 per address (`perAddress`), 64 per key (`perKey`)
   */
  maxConnections?: number;
  /**
   * Handshakes of one client per second, on average (a token bucket refilled at this rate); beyond,
   * 429 with `Retry-After` (code `FD_ERR_CLIENT_HANDSHAKE_RATE`). Every attempt counts, refused or not.
   *
   * @defaultValue 50 per address, 5 per key
   */
  handshakesPerSecond?: number;
  /**
   * How many handshakes a client may make at once (the bucket's size).
   *
   * @defaultValue 200 per address, 20 per key
   */
  handshakeBurst?: number;
}

/** Limits per client address, checked before `verifyClient` and `authenticate` run. */
export interface AddressLimits extends ClientLimits {
  /** IPv6 addresses in one prefix of this length are one client. Default 64 (1 to 128). */
  ipv6Prefix?: number;
}

/** Limits per key of your own (a user id...), checked once `verifyClient` and `authenticate` accepted. */
export interface KeyLimits extends ClientLimits {
  /**
   * The client's key: a string, or null/undefined for a request these limits do not apply to. Runs
   * after `authenticate`, so it can read what that hook put on the request. An exception refuses the
   * handshake with 500 and is rethrown (as `handleProtocols`' are).
   */
  key: (request: IncomingMessage) => string | null | undefined;
}

/** What to do with a connection that sends faster than its message rate. */
export type MessageRatePolicy = 'pause' | 'drop' | 'close';

/** Message rate of each connection: two token buckets, messages and bytes (of payload, after decompression). */
export interface MessageLimits {
  /** Messages per second, on average. Default 1,000. */
  messagesPerSecond?: number;
  /** Messages at once (the bucket's size). Default 1,000. */
  messageBurst?: number;
  /** Payload bytes per second, on average. Default 16 MiB. */
  bytesPerSecond?: number;
  /** Payload bytes at once (a message larger than this passes when the bucket is full). Default 16 MiB. */
  byteBurst?: number;
  /**
   * 'pause' (default): stop reading the connection's socket until the buckets refill, so that TCP
   * slows the client down (nothing is lost). 'drop': discard the message (`rateLimit` names it).
   * 'close': fail the connection with 1008 Policy Violation. Code `FD_ERR_MESSAGE_RATE` for all three.
   */
  policy?: MessageRatePolicy;
}

/**
 * The `limits` option of `WebSocketServer` (docs/limits.md "Per-client limits", "Connection lifetime"):
 * all off unless asked for; within a group turned on, each limit has a generous default (`Infinity` turns
 * one off). A bad value is a `RangeError` when the server is created.
 */
export interface LimitsOptions {
  /** Per client address (`clientAddress(request)`, IPv6 grouped by /64): `true` for the defaults. */
  perAddress?: AddressLimits | boolean;
  /** Per key of your own (`key(request)`), after authentication. Default: none. */
  perKey?: KeyLimits;
  /** Message rate of every connection: `true` for the defaults. */
  messages?: MessageLimits | boolean;
  /** Clients remembered per table (per address, per key); the least recently seen idle ones go first. Default 100,000. */
  maxTrackedClients?: number;
  /** `Retry-After` of a 503 for too many connections, in seconds. Default 5. */
  retryAfter?: number;
  /**
   * Close every connection after this many ms (with `lifetimeJitter`), with `lifetimeCloseCode`, so
   * that long-lived connections spread again over the servers after a scale-out (code `FD_ERR_MAX_LIFETIME`).
   * Default: no limit.
   */
  maxLifetime?: number;
  /** Each connection's lifetime is `maxLifetime` ± this fraction, uniformly. Default 0.1 (from 0 up to, not including, 1). */
  lifetimeJitter?: number;
  /** 1012 Service Restart (default: reconnect now, elsewhere) or 1013 Try Again Later (reconnect after a pause). */
  lifetimeCloseCode?: 1012 | 1013;
}

/** The stable codes of the limits' actions. */
export type LimitCode = 'FD_ERR_CLIENT_CONNECTIONS' | 'FD_ERR_CLIENT_HANDSHAKE_RATE' | 'FD_ERR_MESSAGE_RATE' | 'FD_ERR_MAX_LIFETIME';

/** A connection's `rateLimit` event: the message rate was exceeded, and what was done. */
export interface RateLimitEvent {
  /** Always `FD_ERR_MESSAGE_RATE`. */
  code: 'FD_ERR_MESSAGE_RATE';
  /** Which bucket ran out (when both did: 'messages'). */
  limit: 'messages' | 'bytes';
  /** What was done: the `policy` ('pause', 'drop' or 'close' with 1008). */
  action: MessageRatePolicy;
  /** The message that went over: its payload size, and whether it was binary. */
  size: number;
  /** Whether the message that went over was binary. */
  isBinary: boolean;
  /** 'drop': the discarded message's payload. */
  data?: Buffer;
  /** 'pause': how long reading stops, in ms (at least; a message already read may lengthen it). */
  pauseMs?: number;
}

/** The server's `limit` event: a limit refused a handshake, or acted on a connection. */
export interface LimitEvent {
  /** Which limit: `FD_ERR_CLIENT_CONNECTIONS` (503), `FD_ERR_CLIENT_HANDSHAKE_RATE` (429), `FD_ERR_MESSAGE_RATE`, `FD_ERR_MAX_LIFETIME`. */
  code: LimitCode;
  /** 'refuse': a handshake was answered with `status`. The others: as `RateLimitEvent`, or 'close' for the lifetime. */
  action: 'refuse' | MessageRatePolicy;
  /** The client's address key (IPv6 grouped by the prefix). */
  address: string;
  /** The `perKey` key, when that limit refused the handshake (or is configured and knew the connection). */
  key?: string;
  /** 'refuse': the HTTP status (503, 429) and `Retry-After` in seconds. */
  status?: number;
  /** 'refuse': the `Retry-After` sent, in seconds. */
  retryAfter?: number;
  /** 'close': the close code (1008 for the message rate, 1012/1013 for the lifetime). */
  closeCode?: number;
  /** The upgrade request of the client. */
  request: IncomingMessage;
  /** The connection, once there is one (message rate, lifetime). */
  socket?: WebSocket;
  /** The message rate's event, for its actions. */
  rate?: RateLimitEvent;
}

export interface NormalizedClientLimits {
  readonly maxConnections: number;
  readonly handshakesPerSecond: number;
  readonly handshakeBurst: number;
}

export interface NormalizedMessageLimits {
  readonly messagesPerSecond: number;
  readonly messageBurst: number;
  readonly bytesPerSecond: number;
  readonly byteBurst: number;
  readonly policy: MessageRatePolicy;
}

export interface NormalizedLimits {
  readonly perAddress: (NormalizedClientLimits & { readonly ipv6Prefix: number }) | null;
  readonly perKey: (NormalizedClientLimits & { readonly key: KeyLimits['key'] }) | null;
  readonly messages: NormalizedMessageLimits | null;
  readonly maxTrackedClients: number;
  readonly retryAfter: number;
  readonly maxLifetime: number | null;
  readonly lifetimeJitter: number;
  readonly lifetimeCloseCode: 1012 | 1013;
}

/** Defaults per address: generous enough for a large office or a carrier-grade NAT reconnecting at once. */
export const ADDRESS_DEFAULTS: NormalizedClientLimits = Object.freeze({ maxConnections: 1000, handshakesPerSecond: 50, handshakeBurst: 200 });
/** Defaults per key (a user): tabs and devices, and a reconnect storm of them. */
export const KEY_DEFAULTS: NormalizedClientLimits = Object.freeze({ maxConnections: 64, handshakesPerSecond: 5, handshakeBurst: 20 });
export const MESSAGE_DEFAULTS: NormalizedMessageLimits = Object.freeze({
  messagesPerSecond: 1000,
  messageBurst: 1000,
  bytesPerSecond: 16 * 1024 * 1024,
  byteBurst: 16 * 1024 * 1024,
  policy: 'pause',
});
export const DEFAULT_MAX_TRACKED_CLIENTS = 100_000;
export const DEFAULT_RETRY_AFTER = 5;
export const DEFAULT_LIFETIME_JITTER = 0.1;

const POLICIES: readonly MessageRatePolicy[] = ['pause', 'drop', 'close'];

/** A rate or a size: a number > 0 (Infinity: no limit). */
function positive(group: string, name: string, value: unknown, fallback: number, integer: boolean): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0) || (integer && value !== Infinity && !Number.isInteger(value))) {
    throw new RangeError(`limits${group}.${name} must be ${integer ? 'an integer' : 'a number'} > 0 (Infinity for no limit); got ${String(value)}`);
  }
  return value;
}

function clientLimits(group: string, options: ClientLimits, defaults: NormalizedClientLimits): NormalizedClientLimits {
  return {
    maxConnections: positive(group, 'maxConnections', options.maxConnections, defaults.maxConnections, true),
    handshakesPerSecond: positive(group, 'handshakesPerSecond', options.handshakesPerSecond, defaults.handshakesPerSecond, false),
    handshakeBurst: positive(group, 'handshakeBurst', options.handshakeBurst, defaults.handshakeBurst, true),
  };
}

function group<T extends object>(name: string, value: T | boolean | undefined): T | null {
  if (value === undefined || value === false) return null;
  if (value === true) return {} as T;
  if (typeof value !== 'object' || value === null) throw new TypeError(`limits.${name} must be an object or a boolean`);
  return value;
}

/** Check and complete the `limits` option: `RangeError`/`TypeError` for a bad value. */
export function normalizeLimits(options: LimitsOptions): NormalizedLimits {
  if (typeof options !== 'object' || options === null) throw new TypeError('limits must be an object');
  const address = group<AddressLimits>('perAddress', options.perAddress);
  const key = group<KeyLimits>('perKey', options.perKey);
  const messages = group<MessageLimits>('messages', options.messages);
  let perAddress: NormalizedLimits['perAddress'] = null;
  if (address !== null) {
    const prefix = address.ipv6Prefix ?? 64;
    if (!Number.isInteger(prefix) || prefix < 1 || prefix > 128) throw new RangeError(`limits.perAddress.ipv6Prefix must be an integer from 1 to 128; got ${String(prefix)}`);
    perAddress = Object.freeze({ ...clientLimits('.perAddress', address, ADDRESS_DEFAULTS), ipv6Prefix: prefix });
  }
  let perKey: NormalizedLimits['perKey'] = null;
  if (key !== null) {
    if (typeof key.key !== 'function') throw new TypeError('limits.perKey.key must be a function (request) => string | null');
    perKey = Object.freeze({ ...clientLimits('.perKey', key, KEY_DEFAULTS), key: key.key });
  }
  let messageLimits: NormalizedMessageLimits | null = null;
  if (messages !== null) {
    const policy = messages.policy ?? MESSAGE_DEFAULTS.policy;
    if (!POLICIES.includes(policy)) throw new RangeError(`limits.messages.policy must be 'pause', 'drop' or 'close'; got ${String(policy)}`);
    messageLimits = Object.freeze({
      messagesPerSecond: positive('.messages', 'messagesPerSecond', messages.messagesPerSecond, MESSAGE_DEFAULTS.messagesPerSecond, false),
      messageBurst: positive('.messages', 'messageBurst', messages.messageBurst, MESSAGE_DEFAULTS.messageBurst, true),
      bytesPerSecond: positive('.messages', 'bytesPerSecond', messages.bytesPerSecond, MESSAGE_DEFAULTS.bytesPerSecond, false),
      byteBurst: positive('.messages', 'byteBurst', messages.byteBurst, MESSAGE_DEFAULTS.byteBurst, true),
      policy,
    });
  }
  const maxLifetime = options.maxLifetime === undefined ? null : positive('', 'maxLifetime', options.maxLifetime, 0, false);
  const jitter = options.lifetimeJitter ?? DEFAULT_LIFETIME_JITTER;
  if (typeof jitter !== 'number' || !(jitter >= 0 && jitter < 1)) throw new RangeError(`limits.lifetimeJitter must be a number from 0 to less than 1; got ${String(jitter)}`);
  const closeCode = options.lifetimeCloseCode ?? 1012;
  if (closeCode !== 1012 && closeCode !== 1013) throw new RangeError(`limits.lifetimeCloseCode must be 1012 or 1013; got ${String(closeCode)}`);
  return Object.freeze({
    perAddress,
    perKey,
    messages: messageLimits,
    maxTrackedClients: positive('', 'maxTrackedClients', options.maxTrackedClients, DEFAULT_MAX_TRACKED_CLIENTS, true),
    retryAfter: retryAfterOf(options.retryAfter),
    maxLifetime: maxLifetime === Infinity ? null : maxLifetime,
    lifetimeJitter: jitter,
    lifetimeCloseCode: closeCode,
  });
}

/** `Retry-After` in delay-seconds (RFC 9110 §10.2.3): a whole number >= 1. */
function retryAfterOf(value: unknown): number {
  if (value === undefined) return DEFAULT_RETRY_AFTER;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw new RangeError(`limits.retryAfter must be a whole number of seconds >= 1; got ${String(value)}`);
  return value;
}
