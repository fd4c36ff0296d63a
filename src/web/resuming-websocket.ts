/**
 * The resuming WHATWG-style client on Node: fullduplex/browser's `ResumingWebSocket` (the resume
 * subprotocol's client, docs/recovery.md "## Client"), connecting with fullduplex/web's `WebSocket`
 * (Node has no global one before 22), as src/web/reconnecting-websocket.ts does for
 * `ReconnectingWebSocket`: one class serves a page and a Node process. `connectOptions` is
 * fullduplex/web's third constructor argument (headers, TLS options, `origin`...), used for every
 * connection.
 */
import { ResumingWebSocket as BrowserResumingWebSocket, type ResumingWebSocketOptions as BrowserOptions } from '../browser/resuming-client.js';
import { platformWebSocket } from './platform-websocket.js';
import type { WebSocketOptions } from './websocket.js';

/** The options of fullduplex/browser's `ResumingWebSocket`, and `connectOptions` for fullduplex/web's `WebSocket`. */
export interface ResumingWebSocketOptions extends BrowserOptions {
  /** fullduplex/web's `WebSocket` options, for every connection (ignored when `WebSocket` is given). */
  readonly connectOptions?: WebSocketOptions;
}

/**
 * fullduplex/browser's `ResumingWebSocket` (the resume subprotocol's client; same events and semantics),
 * connecting with fullduplex/web's `WebSocket`. `connectOptions` (headers, TLS options, `origin`...)
 * applies to every connection.
 */
export class ResumingWebSocket extends BrowserResumingWebSocket {
  constructor(url: string | URL, options: ResumingWebSocketOptions = {}) {
    const { connectOptions, ...rest } = options;
    super(url, { ...rest, WebSocket: platformWebSocket(rest.WebSocket, connectOptions) });
  }
}
