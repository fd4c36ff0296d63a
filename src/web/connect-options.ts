/**
 * The Node-layer client options the WHATWG classes (`WebSocket`, `WebSocketStream`) connect with:
 * the caller's non-standard options, plus what a browser does by itself — one connection at a time in
 * CONNECTING per endpoint (RFC 6455 §4.1), and no connection at all to a bad port (fetch §2.7).
 */
import type { ClientOptions } from '../node/client.js';
import { blockedPortConnection, hasBadPort } from './bad-ports.js';

/**
 * The options for the Node layer: the caller's, with the connecting queue on unless the caller
 * turned it off (`queueConnecting: false`); for a bad port, a connection that is never made, so
 * that the connection fails as in Chromium.
 */
export function browserLikeClientOptions(url: URL, callerOptions: ClientOptions): ClientOptions {
  // RFC 6455 §4.1: one connection at a time in CONNECTING per endpoint, as browsers do.
  const clientOptions: ClientOptions = { ...callerOptions, queueConnecting: callerOptions.queueConnecting ?? true };
  if (!hasBadPort(url)) return clientOptions;
  return { ...clientOptions, agent: undefined, createConnection: blockedPortConnection(url.port) };
}
