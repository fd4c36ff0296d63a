/**
 * The `WebSocket` class that fullduplex/web's `ReconnectingWebSocket` and `ResumingWebSocket` give the
 * browser classes they extend (src/browser/: they connect with `options.WebSocket`): the one the
 * application passed, else fullduplex/web's `WebSocket`, with `connectOptions` (its non-standard third
 * constructor argument: headers, TLS options, `origin`...) for every connection when given.
 */
import type { WebSocketConstructorLike } from '../browser/reconnecting-websocket.js';
import { WebSocket, type WebSocketOptions } from './websocket.js';

export function platformWebSocket(given: WebSocketConstructorLike | undefined, connectOptions: WebSocketOptions | undefined): WebSocketConstructorLike {
  return given ?? (connectOptions === undefined ? WebSocket : withOptions(connectOptions));
}

/** fullduplex/web's `WebSocket` that connects with `connectOptions`. */
function withOptions(connectOptions: WebSocketOptions): WebSocketConstructorLike {
  return class extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, connectOptions);
    }
  };
}
