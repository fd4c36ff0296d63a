/**
 * The PROXY protocol on a listening server: `acceptProxyProtocol(server)` makes every connection it
 * accepts go through `readProxyHeader` before the server's own handling sees it (for `http`, `https`
 * and plain `net` servers: the header comes before TLS too, as HAProxy sends it). The standalone
 * `WebSocketServer` with `proxyProtocol: true` calls it on its own server; with `{ server }`, call it
 * yourself on the server right after creating it.
 */
import type { Server as NetServer, Socket } from 'node:net';
import type { ProxyProtocolError } from '../protocol/proxy-protocol.js';
import { readProxyHeader, resolveProxyProtocolOptions, type ProxyProtocolOptions } from './proxy-protocol-reader.js';

type ConnectionListener = (socket: Socket) => void;

/**
 * From now on, run the PROXY header pre-step on every connection `server` accepts: the 'connection'
 * listeners registered so far (the server's own handling: `http`'s parser, `tls`'s handshake) get the
 * socket once its header was read, with the bytes that followed put back; a connection with a
 * malformed, oversized, late or missing header is destroyed and `onError(error, socket)` told why
 * (`error.code`: FD_ERR_PROXY_HEADER_INVALID, _TOO_LARGE, _TIMEOUT, _INCOMPLETE). 'connection'
 * listeners added later run at accept, before the header (e.g. to count or time connections).
 * Returns a function that puts the server back as it was and destroys the connections still waiting
 * for their header (call it when you close the server: they would hold `close()` until their timeout).
 */
export function acceptProxyProtocol(
  server: NetServer,
  options: ProxyProtocolOptions | true = true,
  onError: (error: ProxyProtocolError, socket: Socket) => void = () => {},
): () => void {
  const resolved = resolveProxyProtocolOptions(options);
  const handlers = server.listeners('connection') as ConnectionListener[];
  if (handlers.length === 0) throw new TypeError('acceptProxyProtocol: the server has no connection handling yet (create the http/https/net server first)');
  for (const handler of handlers) server.off('connection', handler);
  /** Sockets whose header has not arrived yet (nobody else knows them: the HTTP server has not seen them). */
  const waiting = new Set<Socket>();
  let stopped = false;
  const handOn = (socket: Socket): void => {
    waiting.delete(socket);
    for (const handler of handlers) handler.call(server, socket);
  };
  const onConnection = (socket: Socket): void => {
    waiting.add(socket);
    readProxyHeader(socket, resolved, handOn, (error) => {
      waiting.delete(socket);
      if (!stopped) onError(error, socket);
    });
  };
  server.prependListener('connection', onConnection);
  return () => {
    if (stopped) return;
    stopped = true;
    server.off('connection', onConnection);
    for (const handler of [...handlers].reverse()) server.prependListener('connection', handler);
    // They would hold `server.close()` until their header's timeout.
    for (const socket of waiting) socket.destroy();
    waiting.clear();
  };
}
