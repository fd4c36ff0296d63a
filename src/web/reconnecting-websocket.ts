/**
 * The reconnecting WHATWG-style client on Node: fullduplex/browser's `ReconnectingWebSocket`, connecting
 * with fullduplex/web's `WebSocket` (Node has no global one before 22), so one class serves a page and
 * a Node process. `connectOptions` is fullduplex/web's third constructor argument (headers, TLS options,
 * `origin`...), used for every connection.
 */
import {
  ReconnectingWebSocket as BrowserReconnectingWebSocket,
  type ReconnectingWebSocketOptions as BrowserOptions,
} from '../browser/reconnecting-websocket.js';
import { platformWebSocket } from './platform-websocket.js';
import type { WebSocketOptions } from './websocket.js';

/**
 * The options of fullduplex/browser's `ReconnectingWebSocket`, and `connectOptions` for fullduplex/web's `WebSocket`.
 */
export interface ReconnectingWebSocketOptions extends BrowserOptions {
  /** fullduplex/web's `WebSocket` options, for every connection (ignored when `WebSocket` is given). */
  readonly connectOptions?: WebSocketOptions;
}

/**
 * fullduplex/browser's `ReconnectingWebSocket` (same events and semantics), connecting with fullduplex/web's
 * `WebSocket`, so that one class serves a page and a Node process. `connectOptions` (headers, TLS
 * options, `origin`...) applies to every connection.
 */
export class ReconnectingWebSocket extends BrowserReconnectingWebSocket {
  constructor(url: string | URL, protocols?: string | string[], options: ReconnectingWebSocketOptions = {}) {
    const { connectOptions, ...rest } = options;
    super(url, protocols, { ...rest, WebSocket: platformWebSocket(rest.WebSocket, connectOptions) });
  }
}
