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

import { WebSocket as WebSocketClass, WebSocketServer as WebSocketServerClass, createWebSocketStream as createStream } from './node/index.js';

/**
 * The default export, for code written as `import WebSocket from 'ws'`: the `WebSocket` class, with the
 * server (`WebSocket.Server`, `WebSocket.WebSocketServer`) and `WebSocket.createWebSocketStream` on it,
 * as `ws`'s default export has them. The CommonJS build's `require('fullduplex')` is the same.
 */
const WebSocketWithStatics: typeof WebSocketClass & {
  readonly WebSocket: typeof WebSocketClass;
  readonly Server: typeof WebSocketServerClass;
  readonly WebSocketServer: typeof WebSocketServerClass;
  readonly createWebSocketStream: typeof createStream;
} = Object.assign(WebSocketClass, { WebSocket: WebSocketClass, Server: WebSocketServerClass, WebSocketServer: WebSocketServerClass, createWebSocketStream: createStream });

export default WebSocketWithStatics;
