/**
 * The HTTP/2 side of `WebSocketServer` (RFC 8441): what is particular to a WebSocket that arrives as
 * an extended CONNECT stream of an HTTP/2 session rather than as an upgraded socket. The handshake's
 * decisions (hooks, origins, limits, negotiation) stay in server.ts, shared with HTTP/1.1; this file
 * holds the stream's side of them: which streams are ours, the `request` object hooks and listeners
 * get, the 200 answer and the refusals, and the mapping of a socket's abort onto RST_STREAM CANCEL.
 */
import { IncomingMessage } from 'node:http';
import { constants, type Http2SecureServer, type Http2Server, type Http2ServerRequest, type Http2ServerResponse, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { HandshakeError } from '../protocol/errors.js';
import { connectRejectionHeaders, isWebSocketConnect, validateExtendedConnect } from '../protocol/extended-connect.js';
import { statusText, type ResponseHeaders } from '../protocol/handshake.js';

export type Http2AnyServer = Http2Server | Http2SecureServer;

/** Whether a server given as `server` is a `node:http2` one (only those have `updateSettings`). */
export function isHttp2Server(server: object): server is Http2AnyServer {
  return typeof (server as { updateSettings?: unknown }).updateSettings === 'function';
}

/** Whether a handshake's transport is an HTTP/2 stream rather than a socket. */
export function isHttp2Stream(socket: Duplex): socket is ServerHttp2Stream {
  return typeof (socket as { respond?: unknown }).respond === 'function' && 'session' in socket;
}

/**
 * The `request` that hooks and `connection` listeners get for a WebSocket over HTTP/2: a real
 * `IncomingMessage` (so code written for HTTP/1.1 reads it unchanged) with `httpVersion` "2.0",
 * `method` "CONNECT", `url` from `:path`, `headers` without the pseudo-headers but with `host` from
 * `:authority` (RFC 9113 §8.3.1: `:authority` stands for Host), `rawHeaders` as received (pseudo-headers
 * included), and `socket` the session's socket (for `remoteAddress`, `encrypted`). Its body is empty.
 */
export function streamRequest(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, rawHeaders?: readonly string[]): IncomingMessage {
  const socket = stream.session?.socket as Socket | undefined;
  const request = new IncomingMessage(socket as Socket);
  const plain: IncomingHttpHeaders = {};
  for (const name of Object.keys(headers)) {
    if (name.charCodeAt(0) !== 0x3a) plain[name] = headers[name];
  }
  const authority = headers[':authority'];
  if (plain.host === undefined && typeof authority === 'string') plain.host = authority;
  request.headers = plain;
  request.rawHeaders = rawHeaders !== undefined ? [...rawHeaders] : flatten(headers);
  request.method = typeof headers[':method'] === 'string' ? headers[':method'] : 'CONNECT';
  request.url = typeof headers[':path'] === 'string' ? headers[':path'] : '';
  request.httpVersion = '2.0';
  request.httpVersionMajor = 2;
  request.httpVersionMinor = 0;
  request.complete = true;
  request.push(null);
  return request;
}

function flatten(headers: IncomingHttpHeaders): string[] {
  const out: string[] = [];
  for (const name of Object.keys(headers)) {
    const value = headers[name];
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) out.push(name, String(one));
  }
  return out;
}

/** How long a refused client gets to read its answer and end its side before the stream is reset. */
const REFUSAL_LINGER = 1000;

/**
 * Refuse a WebSocket stream with an HTTP status and a short text body, then end our side. The client
 * may never end its own (it is waiting for a WebSocket): after a second the stream is reset with
 * NO_ERROR, which RFC 9113 §8.1 allows once the response is complete. Only this stream is touched.
 */
export function refuseStream(stream: ServerHttp2Stream, status: number, message: string, headers: ResponseHeaders = {}): void {
  if (stream.destroyed || stream.closed) return;
  if (stream.headersSent) {
    stream.close(constants.NGHTTP2_CANCEL);
    return;
  }
  try {
    stream.respond(connectRejectionHeaders(status, headers));
    stream.end(message.length > 0 ? message : statusText(status));
  } catch {
    stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    return;
  }
  const timer = setTimeout(resetRefused, REFUSAL_LINGER, stream);
  timer.unref();
  stream.once('close', () => clearTimeout(timer));
}

/** Reset a stream with CANCEL (RFC 8441 §5's TCP reset), unless it is closed already. */
export function cancelStream(stream: ServerHttp2Stream): void {
  if (!stream.closed && !stream.destroyed) stream.close(constants.NGHTTP2_CANCEL);
}

function resetRefused(stream: ServerHttp2Stream): void {
  if (!stream.closed && !stream.destroyed) stream.close(constants.NGHTTP2_NO_ERROR);
}

/**
 * RFC 8441 §5: "a TCP reset becomes RST_STREAM CANCEL". The connection drops its transport with
 * `destroy()` (terminate, heartbeat timeout, close timeout); on a stream Node's own `destroy()` resets
 * it with NO_ERROR, so the accepted streams get this one instead (one shared function, not a closure).
 */
export function resetWithCancel(stream: ServerHttp2Stream): void {
  stream.destroy = cancelOnDestroy;
}

function cancelOnDestroy(this: ServerHttp2Stream, error?: Error): ServerHttp2Stream {
  if (error === undefined && !this.closed && !this.destroyed) {
    this.close(constants.NGHTTP2_CANCEL);
    return this;
  }
  return Duplex.prototype.destroy.call(this, error) as ServerHttp2Stream;
}

/** What `WebSocketServer` gives `listenHttp2` to route the session streams to it. */
export interface Http2Endpoint {
  /** Whether this endpoint takes a WebSocket stream for this path (the `path` option). */
  acceptsPath(path: string): boolean;
  handle(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, rawHeaders: readonly string[] | undefined): void;
}

const kRouting = Symbol('fullduplex.http2Routing');
/**
 * The one dispatcher of a server: its endpoints (in the order they attached) and the 'stream' and
 * 'connect' listeners they share. It stays on the server once installed, even when its last endpoint
 * leaves: the SETTINGS_ENABLE_CONNECT_PROTOCOL it turned on stays advertised (RFC 8441 §3 forbids
 * taking it back on a session), so the WebSocket CONNECTs it invites must still get an answer.
 */
interface Routing {
  readonly endpoints: Set<Http2Endpoint>;
  readonly onStream: (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, rawHeaders?: string[]) => void;
  readonly onConnect: (...args: unknown[]) => void;
}
type MarkedServer = Http2AnyServer & { [kRouting]?: Routing };
const kRouted = Symbol('fullduplex.http2Routed');
type MarkedStream = ServerHttp2Stream & { [kRouted]?: true };

/** Mark a stream as taken by a WebSocket endpoint (`handleStream`), so that no dispatcher refuses it. */
export function claimStream(stream: ServerHttp2Stream): void {
  (stream as MarkedStream)[kRouted] = true;
}

/**
 * Route the extended CONNECT streams of `server`'s sessions to `endpoint`; every other stream is left
 * to the server's own `stream` / `request` listeners. Turns on SETTINGS_ENABLE_CONNECT_PROTOCOL for
 * the sessions that start from now on (RFC 8441 §3; a client may use extended CONNECT only after
 * seeing it). Returns the function that detaches the endpoint.
 */
export function listenHttp2(server: Http2AnyServer, endpoint: Http2Endpoint): () => void {
  server.updateSettings({ enableConnectProtocol: true });
  const marked = server as MarkedServer;
  let routing = marked[kRouting];
  if (routing === undefined) {
    const endpoints = new Set<Http2Endpoint>();
    routing = {
      endpoints,
      onStream: (stream, headers, _flags, rawHeaders) => dispatch(server, endpoints, stream, headers, rawHeaders),
      onConnect: (request, second) => onConnect(server, request, second),
    };
    marked[kRouting] = routing;
    server.on('stream', routing.onStream);
    server.on('connect', routing.onConnect);
  }
  const endpoints = routing.endpoints;
  endpoints.add(endpoint);
  return () => {
    endpoints.delete(endpoint);
  };
}

function dispatch(server: Http2AnyServer, endpoints: ReadonlySet<Http2Endpoint>, stream: ServerHttp2Stream, headers: IncomingHttpHeaders, rawHeaders: readonly string[] | undefined): void {
  if (headers[':method'] !== 'CONNECT' || (stream as MarkedStream)[kRouted] === true) return;
  if (!isWebSocketConnect(headers)) {
    // A plain CONNECT, or another protocol (RFC 9220 §3: 501): answered only when nobody else will.
    if (server.listenerCount('stream') === 1 && server.listenerCount('request') === 0) refuseUnknown(stream, headers);
    return;
  }
  // The first endpoint whose `path` matches; without one, the first endpoint refuses it (404), as
  // with several WebSocketServers on one server's 'upgrade'.
  const path = typeof headers[':path'] === 'string' ? headers[':path'] : '';
  let chosen: Http2Endpoint | undefined;
  for (const one of endpoints) {
    if (one.acceptsPath(path)) {
      chosen = one;
      break;
    }
    chosen ??= one;
  }
  if (chosen !== undefined) {
    claimStream(stream);
    chosen.handle(stream, headers, rawHeaders);
    return;
  }
  // No WebSocketServer left: unless a listener of the user's answers it (or hands it to
  // `handleStream`) in this turn, reset it with REFUSED_STREAM (RFC 9113 §8.7: not processed, safe to
  // retry), as Node destroys an HTTP/1.1 upgrade nobody listens for. Node would leave it open forever.
  setImmediate(refuseUnclaimed, stream);
}

function refuseUnclaimed(stream: ServerHttp2Stream): void {
  if ((stream as MarkedStream)[kRouted] === true || stream.headersSent || stream.closed || stream.destroyed) return;
  stream.on('error', ignoreError); // Node reports a reset with a code other than NO_ERROR/CANCEL as an error of the stream
  stream.close(constants.NGHTTP2_REFUSED_STREAM);
}

function ignoreError(): void {}

/**
 * Node's compatibility layer (installed with a 'request' listener) turns every CONNECT stream into a
 * 'connect' event, and answers 405 when nobody listens: this listener takes the WebSocket streams out
 * of that (the 'stream' listener handles them), and answers the others only when it is alone
 * (an HTTP/1.1 CONNECT, with `allowHTTP1`: the socket is dropped, as Node does without a listener).
 */
function onConnect(server: Http2AnyServer, request: unknown, second: unknown): void {
  const alone = server.listenerCount('connect') === 1;
  const h2 = request as Partial<Http2ServerRequest>;
  if (h2.stream !== undefined && h2.headers !== undefined) {
    if (isWebSocketConnect(h2.headers) || !alone) return;
    refuseUnknown(h2.stream, h2.headers, second as Http2ServerResponse);
  } else if (alone) {
    (second as Duplex).destroy();
  }
}

function refuseUnknown(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, response?: Http2ServerResponse): void {
  if ((stream as MarkedStream)[kRouted] === true) return;
  (stream as MarkedStream)[kRouted] = true;
  try {
    validateExtendedConnect(headers);
  } catch (error) {
    if (!(error instanceof HandshakeError)) throw error;
    if (response !== undefined && response.headersSent) return;
    refuseStream(stream, error.status, error.message, error.headers);
  }
}
