/**
 * The HTTP server under `fullduplex serve`, in one of four kinds:
 *
 * - `http`   cleartext HTTP/1.1 (no --tls-cert);
 * - `https`  HTTP/1.1 over TLS (--tls-cert with --no-http2);
 * - `h2`     HTTP/2 and HTTP/1.1 on one TLS port (--tls-cert, the default): `http2.createSecureServer`
 *            with `allowHTTP1` (ALPN picks `h2` or `http/1.1`) and SETTINGS_ENABLE_CONNECT_PROTOCOL
 *            (RFC 8441 §3), so that a browser opens its WebSockets as streams of the page's connection;
 * - `h2c`    cleartext HTTP/2 with prior knowledge (--h2c, RFC 9113 §3.3), for a proxy that speaks
 *            HTTP/2 to its backends. Node's cleartext HTTP/2 server speaks nothing else: HTTP/1.1
 *            clients cannot connect to it.
 *
 * Every kind hands plain requests to the same handler (Node's compatibility API gives HTTP/2 requests
 * the same req/res shape), HTTP/1.1 upgrades to `onUpgrade`, and HTTP/2 extended CONNECT streams with
 * `:protocol websocket` (RFC 8441 §4) to `onStream`.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import {
  createSecureServer,
  createServer as createH2cServer,
  type Http2Server,
  type Http2SecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { AnyRequest, AnyResponse } from './serve-static.js';

export type { AnyRequest, AnyResponse };

export type ServerKind = 'http' | 'https' | 'h2' | 'h2c';


export interface ServeServerOptions {
  kind: ServerKind;
  tls: { cert: Buffer; key: Buffer } | null;
  /** A client must send its whole HTTP/1.1 request head within this (slowloris). */
  handshakeTimeout: number;
  onRequest(request: AnyRequest, response: AnyResponse): void;
  onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void;
  onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, request: Http2ServerRequest): void;
}

export interface ServeServer {
  readonly server: HttpServer | HttpsServer | Http2Server | Http2SecureServer;
  /** Stop accepting; let the open connections finish (HTTP/2 sessions get GOAWAY). */
  closeGracefully(): void;
  /** Drop every connection at once. */
  closeAll(): void;
}

/** Whether a request came over HTTP/2 (its `httpVersion` is "2.0"). */
export function isHttp2Request(request: AnyRequest): request is Http2ServerRequest {
  return request.httpVersionMajor === 2;
}

export function createServeServer(options: ServeServerOptions): ServeServer {
  const { kind, tls, handshakeTimeout } = options;
  const onRequest = (request: AnyRequest, response: AnyResponse): void => options.onRequest(request, response);
  // Checked every second: a slow client is dropped soon after the timeout.
  const http1Timeouts = { headersTimeout: handshakeTimeout, requestTimeout: handshakeTimeout * 3, connectionsCheckingInterval: 1000 };

  if (kind === 'http' || kind === 'https') {
    const server: HttpServer | HttpsServer =
      kind === 'http' || tls === null ? createHttpServer(http1Timeouts, onRequest) : createHttpsServer({ ...http1Timeouts, cert: tls.cert, key: tls.key }, onRequest);
    server.on('upgrade', options.onUpgrade);
    return {
      server,
      closeGracefully: () => {
        server.close();
        server.closeIdleConnections();
      },
      closeAll: () => server.closeAllConnections(),
    };
  }

  // RFC 8441 §3: advertise extended CONNECT in the server's first SETTINGS.
  const settings = { enableConnectProtocol: true };
  let server: Http2Server | Http2SecureServer;
  if (kind === 'h2') {
    if (tls === null) throw new Error('HTTP/2 over TLS needs a certificate');
    server = createSecureServer({ cert: tls.cert, key: tls.key, allowHTTP1: true, settings }, onRequest);
    // The HTTP/1.1 side of an allowHTTP1 server reads these, as an `http.Server` does.
    Object.assign(server, http1Timeouts);
    server.on('upgrade', options.onUpgrade);
  } else {
    server = createH2cServer({ settings }, onRequest);
  }

  // An http2 server has no closeAllConnections: keep track of its sockets and sessions.
  const sockets = new Set<Socket>();
  const sessions = new Set<Http2Session>();
  server.on(kind === 'h2' ? 'secureConnection' : 'connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('session', (session: Http2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    // A peer's protocol error ends its session; the server goes on (the error is not ours to report).
    session.on('error', () => {});
  });

  // With a request handler, Node's compatibility layer turns every CONNECT into a 'connect' event (and
  // answers 405 when nobody listens): the WebSocket streams are ours.
  server.on('connect', (request: Http2ServerRequest | IncomingMessage, second: Http2ServerResponse | Duplex) => {
    if (!isHttp2Request(request)) {
      // An HTTP/1.1 CONNECT (allowHTTP1): this is not a proxy.
      (second as Duplex).destroy();
      return;
    }
    const response = second as Http2ServerResponse;
    const protocol = request.headers[':protocol'];
    if (protocol === 'websocket') {
      options.onStream(request.stream, request.headers, request);
      return;
    }
    // A plain CONNECT asks for a tunnel (405: this is not a proxy); another `:protocol` is unknown
    // (501, RFC 9220 §3).
    const status = protocol === undefined ? 405 : 501;
    const body = protocol === undefined ? 'CONNECT tunnels are not served here\n' : `Unknown :protocol ${String(protocol)}\n`;
    response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    response.end(body);
  });

  return {
    server,
    closeGracefully: () => {
      server.close();
      for (const session of sessions) session.close();
    },
    closeAll: () => {
      for (const session of sessions) session.destroy();
      for (const socket of sockets) socket.destroy();
    },
  };
}
