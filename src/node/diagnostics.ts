/**
 * `node:diagnostics_channel` events of fullduplex (docs/operations.md "Diagnostics channels"): what a
 * server does, for tracing and metrics tools, with no cost when nobody listens. Every name starts with
 * `fullduplex:`; subscribe with `diagnostics_channel.subscribe('fullduplex:connection:open', fn)` (no
 * import of fullduplex needed) or through the `channels` exported here.
 *
 * Publishing sites check `channel.hasSubscribers` before they build a message: one getter on the
 * channel's prototype, which V8 inlines to a constant-like read (measured as fast as reading a module
 * boolean, on Node 20 and 24; a boolean of our own could not follow subscriptions made by name anyway,
 * since diagnostics_channel does not announce them).
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from './websocket.js';
import type { WebSocketServer } from './server.js';

/** The prefix of every channel name. */
export const CHANNEL_PREFIX = 'fullduplex:';

/** `fullduplex:connection:open`: a server accepted a connection (after the 101, before `connection`). */
export interface ConnectionOpenMessage {
  /** The server that accepted the connection. */
  readonly server: WebSocketServer;
  /** The new connection (open; its `connection` event follows). */
  readonly socket: WebSocket;
  /** The upgrade request (for HTTP/2, the stream's request). */
  readonly request: IncomingMessage;
  /** The negotiated subprotocol ("" when none). */
  readonly protocol: string;
  /** `'1.1'` for an HTTP/1.1 Upgrade, `'2'` for an RFC 8441 stream. */
  readonly http: '1.1' | '2';
}

/** `fullduplex:connection:close`: a connection a server accepted has closed. */
export interface ConnectionCloseMessage {
  /** The server that accepted the connection. */
  readonly server: WebSocketServer;
  /** The connection, now closed. */
  readonly socket: WebSocket;
  /** As the `close` event reports it (1005 when the peer sent none, 1006 when there was no close frame). */
  readonly code: number;
  /** The close reason, as a string ("" when none). */
  readonly reason: string;
  /** Whether the closing handshake completed (RFC 6455 §7.1.4), as `CloseEvent.wasClean`. */
  readonly wasClean: boolean;
  /** Milliseconds from the 101 (open) to the close. */
  readonly duration: number;
}

/** `fullduplex:handshake:reject`: a server refused (or could not finish) an opening handshake. */
export interface HandshakeRejectMessage {
  /** The server that refused the handshake. */
  readonly server: WebSocketServer;
  /** Null when Node's HTTP parser refused the bytes before there was a request. */
  readonly request: IncomingMessage | null;
  /** The HTTP status answered (0: no answer, the socket was dropped). */
  readonly status: number;
  /** Why, as a stable code: see `RejectCode` and docs/operations.md. */
  readonly code: string;
  /** A human-readable explanation of the refusal (for logs; not necessarily the response body). */
  readonly message: string;
}

/** `fullduplex:message:in`: a connection received a whole message (any connection, server or client side). */
export interface MessageInMessage {
  /** The connection that received the message. */
  readonly socket: WebSocket;
  /** Payload bytes (after decompression). */
  readonly size: number;
  /** Whether it is a binary message (false: text). */
  readonly binary: boolean;
}

/**
 * `fullduplex:message:out`: a connection accepted a message (or one fragment of one: `fin` false) for
 * sending: a `send`, or its copy of a `broadcast` or `publish`.
 */
export interface MessageOutMessage {
  /** The connection sending the message. */
  readonly socket: WebSocket;
  /** Payload bytes (before compression). */
  readonly size: number;
  /** Whether it is a binary message (false: text). */
  readonly binary: boolean;
  /** False for a fragment that is not the message's last (`send(data, { fin: false })`). */
  readonly fin: boolean;
}

/** `fullduplex:slow-consumer`: a send found more than `maxBufferedAmount` bytes waiting for the peer. */
export interface SlowConsumerMessage {
  /** The connection whose peer does not read fast enough. */
  readonly socket: WebSocket;
  /** The `slowConsumer` policy applied: 'close' (fail with 1008) or 'drop' (the message is refused). */
  readonly action: 'close' | 'drop';
  /** Bytes waiting when the policy applied. */
  readonly bufferedAmount: number;
  /** The `maxBufferedAmount` option. */
  readonly limit: number;
}

/**
 * `fullduplex:rate-limit`: a per-client limit applied (docs/limits.md "Per-client limits"). Published by
 * the limits, with `socket` null when the limit refused a handshake (no connection exists yet).
 */
export interface RateLimitMessage {
  /** The connection the limit acted on; null when it refused a handshake (no connection exists yet). */
  readonly socket: WebSocket | null;
  /** The key the limit counts by: the client's address, or what the `key` function returned. */
  readonly key: string;
  /** What was done: 'refuse' (a handshake refused with 503 or 429), 'close', 'drop', 'pause'. */
  readonly action: string;
  /** Which limit: its stable code (FD_ERR_CLIENT_CONNECTIONS, FD_ERR_CLIENT_HANDSHAKE_RATE, FD_ERR_MESSAGE_RATE, FD_ERR_MAX_LIFETIME). */
  readonly limit: string;
}

/** What each channel carries, by name. */
export interface ChannelMessages {
  /** A server accepted a connection: {@link ConnectionOpenMessage}. */
  'fullduplex:connection:open': ConnectionOpenMessage;
  /** A connection a server accepted has closed: {@link ConnectionCloseMessage}. */
  'fullduplex:connection:close': ConnectionCloseMessage;
  /** A server refused an opening handshake: {@link HandshakeRejectMessage}. */
  'fullduplex:handshake:reject': HandshakeRejectMessage;
  /** A connection received a whole message: {@link MessageInMessage}. */
  'fullduplex:message:in': MessageInMessage;
  /** A connection accepted a message for sending: {@link MessageOutMessage}. */
  'fullduplex:message:out': MessageOutMessage;
  /** A send found too many bytes waiting for the peer: {@link SlowConsumerMessage}. */
  'fullduplex:slow-consumer': SlowConsumerMessage;
  /** A per-client limit acted: {@link RateLimitMessage}. */
  'fullduplex:rate-limit': RateLimitMessage;
}

/** The name of a fullduplex diagnostics channel (each starts with `fullduplex:`). */
export type ChannelName = keyof ChannelMessages;

/** A channel typed by what it carries (the `Channel` of node:diagnostics_channel). */
export interface TypedChannel<T> {
  /** The channel's name. */
  readonly name: string | symbol;
  /** Whether anyone subscribes (publishers build no message otherwise). */
  readonly hasSubscribers: boolean;
  /** Send `message` to the subscribers. */
  publish(message: T): void;
  /** Call `onMessage` with each message published on this channel. */
  subscribe(onMessage: (message: T, name: string | symbol) => void): void;
  /** Stop calling `onMessage`; false when it was not subscribed. */
  unsubscribe(onMessage: (message: T, name: string | symbol) => void): boolean;
}

function channel<N extends ChannelName>(name: N): TypedChannel<ChannelMessages[N]> {
  return diagnosticsChannel.channel(name) as unknown as TypedChannel<ChannelMessages[N]>;
}

export const connectionOpenChannel = channel('fullduplex:connection:open');
export const connectionCloseChannel = channel('fullduplex:connection:close');
export const handshakeRejectChannel = channel('fullduplex:handshake:reject');
export const messageInChannel = channel('fullduplex:message:in');
export const messageOutChannel = channel('fullduplex:message:out');
export const slowConsumerChannel = channel('fullduplex:slow-consumer');
/** Published by the per-client limits; exported so that they (and tests) publish on the same object. */
export const rateLimitChannel = channel('fullduplex:rate-limit');

/** Every channel, by a short name. */
export const channels = Object.freeze({
  connectionOpen: connectionOpenChannel,
  connectionClose: connectionCloseChannel,
  handshakeReject: handshakeRejectChannel,
  messageIn: messageInChannel,
  messageOut: messageOutChannel,
  slowConsumer: slowConsumerChannel,
  rateLimit: rateLimitChannel,
});

/** Payload bytes of a received message (a list when `binaryType` is 'fragments'). Only called with subscribers. */
export function publishMessageIn(socket: WebSocket, data: Buffer | Buffer[], binary: boolean): void {
  let size = 0;
  if (Array.isArray(data)) for (const chunk of data) size += chunk.length;
  else size = data.length;
  messageInChannel.publish({ socket, size, binary });
}

/** A sent payload's bytes (a string's UTF-8 length). Only called with subscribers. */
export function publishMessageOut(socket: WebSocket, payload: string | Buffer | number, binary: boolean, fin: boolean): void {
  const size = typeof payload === 'number' ? payload : typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  messageOutChannel.publish({ socket, size, binary, fin });
}
