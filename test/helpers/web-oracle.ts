/**
 * The oracles the WHATWG classes are compared with. Node's built-in `WebSocket` is undici's: a global
 * on Node 22 and later, the `undici` dev dependency on Node 20 (where the global needs a flag).
 * `WebSocketStream` and `WebSocketError` are not globals on any Node release yet: undici's exports.
 */
import * as undici from 'undici';

type Constructor = abstract new (...args: never[]) => unknown;

const globals = globalThis as { WebSocket?: Constructor; CloseEvent?: Constructor; MessageEvent?: Constructor };

/** Node's own `WebSocket` where it has one, else undici's (the same implementation). */
export const NativeWebSocket = (globals.WebSocket ?? undici.WebSocket) as unknown as typeof undici.WebSocket;
/** Where `NativeWebSocket` came from, for messages. */
export const NATIVE_WEBSOCKET_SOURCE = globals.WebSocket === undefined ? 'undici (dev dependency)' : `Node ${process.version} global`;
/** undici's `CloseEvent` (Node's global from Node 23). */
export const NativeCloseEvent = (globals.CloseEvent ?? undici.CloseEvent) as unknown as typeof undici.CloseEvent;
/** undici's `WebSocketStream` and `WebSocketError`. */
export const NativeWebSocketStream = undici.WebSocketStream;
export const NativeWebSocketError = undici.WebSocketError;
