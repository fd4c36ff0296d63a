/**
 * fullduplex: a WebSocket (RFC 6455) library for Node.js.
 *
 *  - `fullduplex`          the `ws`-shaped server and client (this module)
 *  - `fullduplex/web`      the standard WHATWG `WebSocket` (EventTarget) for code written for browsers
 *  - `fullduplex/protocol` the sans-I/O protocol core
 */
export * from './node/index.js';
// A `WebSocket`'s protocol errors are `ws`-shaped (`WebSocketProtocolError`: ws's class and `WS_ERR_*`
// code); the core's `ProtocolError` is their `cause`. `HandshakeError`: failed handshakes, `wsClientError`.
export {
  CloseCode,
  closeCodeName,
  isValidCloseCode,
  ProtocolError,
  HandshakeError,
  ReadyState,
  type ProtocolErrorCode,
  type HandshakeErrorCode,
  type CloseResult,
} from './protocol/index.js';
