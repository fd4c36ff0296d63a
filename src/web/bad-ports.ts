/**
 * The fetch standard's bad ports (https://fetch.spec.whatwg.org/#bad-port): ports of services that
 * a browser must never let a page talk to, since a request there could be mistaken for that service's
 * own protocol. A WebSocket's handshake is a fetch, so "block bad port" (fetch §4.1 main fetch,
 * step 7) applies to it: the fetch returns a network error and the WebSocket connection fails
 * (WebSockets Standard §2 "obtain a WebSocket connection", §4 "fail the WebSocket connection").
 * Chromium does exactly that: no exception from the constructor, then `error` and `close` 1006.
 */
import type { ClientOptions } from '../node/client.js';

/** The table of fetch §2.7 "port blocking", as of the standard's current text. */
const BAD_PORTS: ReadonlySet<string> = new Set(
  [
    1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109, 110, 111, 113, 115, 117,
    119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636,
    989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
  ].map(String),
);

/** Fetch §2.7: is the port of this ws:/wss: URL (an HTTP(S) URL to fetch) a bad port? The default port never is. */
export function hasBadPort(url: URL): boolean {
  return BAD_PORTS.has(url.port);
}

type CreateConnection = NonNullable<ClientOptions['createConnection']>;

/**
 * A `createConnection` for the Node layer that never connects: it reports a network error
 * asynchronously, so the handshake request fails the way a refused connection does (the standard's
 * "network error"), from a later task as in Chromium.
 */
export function blockedPortConnection(port: string): CreateConnection {
  const create = (_options: unknown, callback: (error: Error | null, socket?: unknown) => void): undefined => {
    const error = new Error(`Port ${port} is a bad port (https://fetch.spec.whatwg.org/#bad-port): the connection is not attempted`);
    process.nextTick(callback, error);
    return undefined;
  };
  return create as unknown as CreateConnection;
}
