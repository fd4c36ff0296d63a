/**
 * The numbers a WebSocket API shows its users, for the WHATWG class (src/web/websocket.ts) and the
 * browser build (src/browser/) alike: the ready states (WHATWG WebSockets Standard §3.1), the close
 * code of a connection that ended without a close frame (RFC 6455 §7.4.1) and the longest close reason
 * (RFC 6455 §5.5). No Node API (no Buffer): the browser build imports this file as it is.
 */
import { CloseCode } from './close-codes.js';

/** WHATWG WebSockets §3.1: `readyState` before the connection is established. */
export const CONNECTING = 0;
/** WHATWG WebSockets §3.1: the connection is established; messages may be sent. */
export const OPEN = 1;
/** WHATWG WebSockets §3.1: the closing handshake has started. */
export const CLOSING = 2;
/** WHATWG WebSockets §3.1: the connection is closed, or could not be opened. */
export const CLOSED = 3;
/** One of the four ready states. */
export type ReadyState = typeof CONNECTING | typeof OPEN | typeof CLOSING | typeof CLOSED;

/** The ready state constants by name, in the order the interface declares them (for Web IDL constants, §3.7.3). */
export const READY_STATES = [
  ['CONNECTING', CONNECTING],
  ['OPEN', OPEN],
  ['CLOSING', CLOSING],
  ['CLOSED', CLOSED],
] as const;

/**
 * RFC 6455 §7.4.1: 1006 "is designated for use in applications expecting a status code to indicate
 * that the connection was closed abnormally, e.g., without sending or receiving a Close control frame";
 * WHATWG §3.1 reports it when a connection fails.
 */
export const ABNORMAL_CLOSURE = CloseCode.Abnormal;

/**
 * RFC 6455 §5.5: a control frame's payload is at most 125 bytes, 2 of which are the close code in a
 * close frame (§5.5.1), so a reason holds at most 123 bytes of UTF-8; WHATWG §3.1 `close()` throws a
 * "SyntaxError" DOMException for a longer one.
 */
export const MAX_REASON_BYTES = 123;
