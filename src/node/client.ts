/**
 * The client's opening handshake over Node's `http`/`https` (so agents, proxies' `createConnection`
 * hooks and every TLS option work as users expect): build the request from the protocol core, check
 * the response with it, follow redirects when asked, and time the whole exchange out.
 */
import { request as httpRequest, validateHeaderName, validateHeaderValue, type ClientRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { connect as netConnect, isIP, type NetConnectOpts, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { Duplex } from 'node:stream';
import { createClientHandshake, validateResponse, checkProtocols } from '../protocol/handshake-client.js';
import { HandshakeError } from '../protocol/errors.js';
import { formatExtensions } from '../protocol/header-grammar.js';
import { PERMESSAGE_DEFLATE, acceptServerResponse, createClientOffer } from '../protocol/permessage-deflate.js';
import { PerMessageDeflate, type PerMessageDeflateConfig } from './permessage-deflate.js';
import { RedirectCredentials, ipcTarget, userinfoOf } from './redirect-credentials.js';
import { connectingQueue, type ConnectingTicket } from './connecting-queue.js';
import { findEndpointKey } from './connecting-endpoint.js';
import { http2Plan, openHttp2WebSocket, type Http2Attempt, type Http2Mode } from './http2-client.js';
import type { ClientHttp2Session } from 'node:http2';
import { proxyFromOption, resolveProxy, type ProxyOption, type ResolvedProxy } from './proxy-environment.js';
import { openProxyTunnel } from './proxy-tunnel.js';
import type { ProxyError } from './proxy-tunnel-types.js';
import type { ConnectionOptions, WebSocketEvents } from './websocket.js';
import { bareHostname } from './url-host.js';

/** Client options: the connection's, the handshake's, and any `https.request` option (TLS included). */
export interface ClientOptions
  extends ConnectionOptions,
    Omit<RequestOptions, 'method' | 'path' | 'host' | 'hostname' | 'port' | 'protocol' | 'headers' | 'timeout' | 'signal'> {
  /** Extra request headers. */
  headers?: OutgoingHttpHeaders;
  /** The `Origin` header to send (browsers always send one; Node clients by default do not). */
  origin?: string;
  /** Give up when the handshake has not completed after this many ms. Default 30,000. */
  handshakeTimeout?: number;
  /** Follow 3xx redirects (off by default, as in `ws`). */
  followRedirects?: boolean;
  /** At most this many redirects. Default 10. */
  maxRedirects?: number;
  /** Only 13 is spoken; accepted for `ws` compatibility. */
  protocolVersion?: number;
  /**
   * Called with each handshake request (the first and every redirect's) once its headers are set, in
   * place of `request.end()`: it may add headers that depend on the socket, and must then call
   * `request.end()` itself (as `ws`'s option).
   */
  finishRequest?: (request: ClientRequest, websocket: unknown) => void;
  /** Offer permessage-deflate (RFC 7692). Default true, as in browsers and `ws`; false to offer nothing. */
  perMessageDeflate?: boolean | PerMessageDeflateConfig;
  /**
   * Open at most one connection at a time per remote endpoint, as RFC 6455 §4.1 requires of clients
   * ("There MUST be no more than one connection in a CONNECTING state") and browsers do: a handshake
   * to an endpoint that another client of this process is still connecting to waits until that one
   * has opened or failed, then goes (first come, first served). Default false, so that code written
   * for `ws` (which has no such queue) behaves as with `ws`; the WHATWG `WebSocket`
   * (`fullduplex/web`) turns it on unless given `queueConnecting: false`.
   *
   * The endpoint is the remote IP address and port: the host name is resolved first (through the
   * `lookup` option when given), and the connection then goes to that address. Through an `agent` or
   * a `createConnection` (a proxy, say) the IP address is unknown, so each host name and port counts
   * as its own endpoint, as §4.1 says; a `ws+unix:` socket is keyed by its path. A redirect gives up
   * the turn and queues again for its new target. Time spent waiting counts against
   * `handshakeTimeout`, which bounds the whole wait for `open`; a connection closed or terminated
   * while it waits leaves the queue without ever connecting.
   */
  queueConnecting?: boolean;
  /**
   * Open the WebSocket as a stream of an HTTP/2 connection (RFC 8441, docs/http2.md):
   * - `true`: for wss://, connect with HTTP/2 (TLS ALPN "h2"), wait for the server's SETTINGS, and
   *   use an extended CONNECT when the server allows it (SETTINGS_ENABLE_CONNECT_PROTOCOL); when it
   *   does not speak HTTP/2 or does not allow it, fall back to HTTP/1.1 (a new connection). For ws://
   *   it changes nothing: without prior knowledge a client cannot know that a cleartext server speaks
   *   HTTP/2 (browsers never use h2c).
   * - `'require'`: wss:// over HTTP/2 or fail, with an error that names the reason.
   * - `'h2c'`: ws:// over cleartext HTTP/2 with prior knowledge (RFC 9113 §3.3), no fallback.
   * - `false` (default): HTTP/1.1, as `ws`.
   *
   * WebSockets to the same origin with the same TLS options (and the same proxy) share one HTTP/2
   * connection, opened by the first and closed when the last stream on it ends. Through a proxy
   * (the `proxy` option or the environment) the HTTP/2 connection runs inside the proxy's tunnel: for
   * wss://, TLS to the target inside it with ALPN h2/http/1.1; with `true`, a target that chooses
   * HTTP/1.1 by ALPN gets the HTTP/1.1 handshake on that same connection, one that speaks HTTP/2
   * without allowing extended CONNECT a new tunnel for HTTP/1.1. Over HTTP/2 the handshake timeout
   * covers the proxy, the connection, the SETTINGS and the CONNECT; redirects are not followed, no `upgrade`,
   * `unexpected-response` or `redirect` event is emitted (their arguments are HTTP/1.1 objects): a
   * non-2xx answer is an `error` (a `HandshakeError` with the `status`), then `close` 1006. The
   * connecting queue (`queueConnecting`) does not apply: a stream is not a new connection (RFC 8441
   * §1), and `ws.socket` is the `ClientHttp2Stream`.
   */
  http2?: Http2Mode;
  /**
   * An HTTP/2 session of your own (`http2.connect(origin, options)`) to open the WebSocket on, with no
   * fallback to HTTP/1.1; you keep it (it is not closed when the WebSocket ends). Implies HTTP/2. The
   * `proxy` option and the environment do not apply: your session has made its own connection.
   */
  http2Session?: ClientHttp2Session;
  /**
   * The proxy to go through (docs/client.md "## Proxies"). Unset: from the environment, as curl does
   * (`https_proxy` for wss://, `http_proxy` for ws://, then `all_proxy`; `no_proxy`; loopback targets
   * never, unless NO_PROXY holds `<-loopback>`). A URL (`http://user:pass@proxy:3128`, `https://...`;
   * `socks5://`, `socks5h://`) or `{ url, headers, credentials, tls }` (headers and credentials for the
   * proxy only, TLS options for an https:// proxy's certificate) to use that proxy for every target,
   * loopback included; `false` for none. Ignored when an `agent` or `createConnection` is given (they
   * connect). An HTTP proxy is asked for a tunnel by CONNECT (RFC 9110 §9.3.6); for wss:// the TLS
   * session to the target runs inside it (SNI and certificate checks against the target, with this
   * client's TLS options). A refusing, closing or garbling proxy gives an `error` (a `ProxyError`
   * with a `code`, naming the proxy without its credentials), then `close` 1006; `handshakeTimeout`
   * covers the proxy leg. A redirect chooses the proxy again for its new target. With `http2`, the
   * HTTP/2 connection goes through the proxy the same way (one tunnel per pooled session, shared by
   * the WebSockets on it; sessions through different proxies or credentials are never shared).
   */
  proxy?: ProxyOption;
}

/** What the handshake needs from the `WebSocket` it belongs to. */
export interface HandshakeCallbacks {
  /** The `WebSocket` itself (handed to `finishRequest`). */
  readonly websocket: unknown;
  attach(socket: Duplex, head: Buffer, protocol: string, extensions: string, deflate: PerMessageDeflate | null): void;
  start(): void;
  fail(error: Error): void;
  /** A redirect was followed: the connection's URL changes. */
  setUrl(url: string): void;
  emit<K extends keyof WebSocketEvents>(event: K, ...args: WebSocketEvents[K]): void;
  /**
   * Set by a reconnecting client (src/node/reconnect.ts). A non-101 answer given to an
   * `unexpected-response` listener is the listener's (as in `ws`: no error is emitted for it); once
   * that response has ended (read to its end, or destroyed with the request) the handshake cannot
   * succeed any more, so it ends then, reported here with the refusal (status and headers, for the
   * backoff) instead of through `fail`. Without it the handshake waits for `handshakeTimeout`, as in `ws`.
   */
  refusalHandled?(refusal: HandshakeError): void;
}

export interface ClientHandshakeHooks {
  /** Abandon the handshake (close() or terminate() while connecting). */
  abort(error: Error): void;
}

const DEFAULT_HANDSHAKE_TIMEOUT = 30_000;
const DEFAULT_MAX_REDIRECTS = 10;

/** Parse and check a client URL (WHATWG: SyntaxError for anything but ws/wss/http/https without fragment). */
export function parseClientUrl(address: string | URL): URL {
  let url: URL;
  try {
    url = address instanceof URL ? new URL(address.href) : new URL(address);
  } catch {
    throw new SyntaxError(`Invalid URL: ${String(address)}`);
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:' && url.protocol !== 'ws+unix:') {
    throw new SyntaxError(`The URL's protocol must be one of "ws:", "wss:", "http:", "https:" or "ws+unix:" (got "${url.protocol}")`);
  }
  if (url.protocol === 'ws+unix:' && (url.pathname === '' || url.pathname === '/')) throw new SyntaxError("The URL's pathname is empty");
  if (url.hash !== '' || url.href.endsWith('#')) throw new SyntaxError('The URL contains a fragment identifier');
  return url;
}

/** Start the handshake; the `WebSocket` learns the outcome through `callbacks`. */
export function startClientHandshake(
  owner: { readonly readyState: number; listenerCount(event: string): number },
  address: string | URL,
  protocols: string[],
  options: ClientOptions,
  callbacks: HandshakeCallbacks,
): { url: string; hooks: ClientHandshakeHooks } {
  const url = parseClientUrl(address);
  checkProtocols(protocols);
  if (options.protocolVersion !== undefined && options.protocolVersion !== 13) {
    throw new RangeError(`Unsupported protocol version: ${options.protocolVersion} (only 13 is supported)`);
  }

  const deflateConfig: PerMessageDeflateConfig | null =
    options.perMessageDeflate === false ? null : options.perMessageDeflate === true || options.perMessageDeflate === undefined ? {} : options.perMessageDeflate;
  if (deflateConfig !== null) createClientOffer(deflateConfig); // checks the parameters now (RangeError)
  if (options.queueConnecting !== undefined && typeof options.queueConnecting !== 'boolean') {
    throw new TypeError(`The queueConnecting option must be a boolean (got ${typeof options.queueConnecting})`);
  }
  proxyFromOption(options.proxy); // checks the option now (TypeError)
  let h2plan = http2Plan(url, options);
  /** An unusable proxy URL from the environment: the HTTP/2 handshake fails with it (as the HTTP/1.1 one does). */
  let h2proxyError: Error | null = null;
  if (h2plan !== null && h2plan.session === undefined) {
    // A pooled session goes through the target's proxy, if any (src/node/http2-proxy-connection.ts).
    try {
      h2plan = { ...h2plan, proxy: proxyForUrl(url) };
    } catch (error) {
      h2proxyError = error as Error;
    }
  }
  /** The HTTP/2 attempt, while it runs (null once it has opened, failed or fallen back). */
  let h2attempt: Http2Attempt | null = null;
  let request: ClientRequest | null = null;
  /** Whether `request` connected without an agent: then its socket is ours to destroy. */
  let ownsSocket = false;
  let finished = false;
  let redirects = 0;
  const credentials = new RedirectCredentials(url, options.headers);
  const timeoutMs = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
  const timer = setTimeout(() => fail(new Error(`Opening handshake has timed out after ${timeoutMs} ms`)), timeoutMs);
  timer.unref();
  const queued = options.queueConnecting === true;
  /** This handshake's place in the connecting queue (RFC 6455 §4.1), while it waits or holds the turn. */
  let ticket: ConnectingTicket | null = null;
  /** Bumped by each connect(): a lookup or turn of an earlier target (before a redirect) is stale. */
  let attempt = 0;
  /** Abandons the proxy tunnel being opened, if any. */
  let cancelTunnel: (() => void) | null = null;

  /** The proxy for `target` (null: direct), from the option or the environment. Throws for an unusable one. */
  function proxyForUrl(target: URL): ResolvedProxy | null {
    return resolveProxy(target, options.proxy, process.env, options.agent !== undefined || options.createConnection !== undefined);
  }

  function releaseTurn(): void {
    ticket?.release();
    ticket = null;
  }

  /** End the handshake: clean up, then report `error` (through `callbacks.fail` unless told otherwise). */
  function fail(error: Error, report: (error: Error) => void = callbacks.fail): void {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    releaseTurn();
    h2attempt?.cancel();
    h2attempt = null;
    cancelTunnel?.();
    cancelTunnel = null;
    if (request !== null) {
      request.destroy();
      // Once a keep-alive response (say a 401 given to an `unexpected-response` listener) has been read,
      // Node detaches the socket from the request, and destroy() no longer reaches it: without an agent
      // nobody else would ever close it. `ws` destroys it too (websockets/ws#1869).
      const socket = request.socket;
      if (ownsSocket && socket !== null && !socket.destroyed) socket.destroy();
    }
    report(error);
  }

  /** `reuse`: a connection to `target` already made through the proxy (an HTTP/2 attempt's, ALPN chose HTTP/1.1). */
  function connect(target: URL, reuse?: Duplex): void {
    const secure = target.protocol === 'wss:';
    const handshake = createClientHandshake({ protocols, extensions: deflateConfig === null ? [] : [createClientOffer(deflateConfig)] });
    // As in `ws`: the URL's userinfo, else the `auth` option.
    const auth = userinfoOf(target) ?? options.auth ?? undefined;
    const requestHeaders: OutgoingHttpHeaders = { ...credentials.headersFor(target, auth), ...handshake.headers };
    if (options.origin !== undefined) requestHeaders['Origin'] = options.origin;
    const {
      headers: _headers,
      origin: _origin,
      handshakeTimeout: _timeout,
      followRedirects: _follow,
      maxRedirects: _max,
      protocolVersion: _version,
      perMessageDeflate: _deflate,
      queueConnecting: _queue,
      http2: _http2,
      http2Session: _http2Session,
      proxy: _proxy,
      finishRequest,
      auth: _auth, // sent as the Authorization header above (or not at all, to another host)
      ...requestOptions
    } = options;
    let settings: RequestOptions;
    if (target.protocol === 'ws+unix:') {
      // A Unix domain socket (`ws+unix:/run/app.sock:/chat`, as in `ws`); Node sends `Host: localhost`.
      const { socketPath, path } = ipcTarget(target);
      settings = { ...requestOptions, protocol: 'http:', socketPath, path, method: 'GET', headers: requestHeaders };
    } else {
      const hostname = bareHostname(target);
      settings = {
        ...requestOptions,
        protocol: secure ? 'https:' : 'http:',
        hostname,
        port: target.port === '' ? (secure ? 443 : 80) : Number(target.port),
        path: `${target.pathname}${target.search}`,
        method: 'GET',
        headers: requestHeaders,
      };
    }
    let direct = settings.agent === undefined && settings.createConnection === undefined;
    if (direct && reuse !== undefined) {
      direct = false; // through the proxy (RFC 6455 §4.1: keyed by host name)
      settings.createConnection = (() => reuse) as unknown as RequestOptions['createConnection'];
    } else if (direct) {
      // No agent: an upgraded socket must not be pooled. Connect directly, as `ws` does; or through
      // the proxy's tunnel (an unusable proxy from the environment fails the handshake, not the constructor).
      let proxy: ResolvedProxy | null = null;
      let proxyError: Error | null = null;
      try {
        proxy = proxyForUrl(target);
      } catch (error) {
        proxyError = error as Error;
      }
      if (proxy === null && proxyError === null) {
        settings.createConnection = (secure ? connectTls : connectTcp) as RequestOptions['createConnection'];
      } else {
        direct = false; // the endpoint's IP address is the proxy's business (RFC 6455 §4.1: key by host name)
        settings.createConnection = tunnelConnection(proxy, proxyError, secure) as unknown as RequestOptions['createConnection'];
      }
    }
    if (!queued) {
      send(target, settings, handshake, finishRequest);
      return;
    }
    // RFC 6455 §4.1: wait for this endpoint's turn. The request is built only then, so check its
    // headers now: a bad one throws from the constructor, as without the queue.
    for (const [name, value] of Object.entries(requestHeaders)) {
      validateHeaderName(name);
      if (value !== undefined) validateHeaderValue(name, value as string); // arrays and numbers too, as `http.request`
    }
    const current = ++attempt;
    findEndpointKey(settings, direct, (error, key) => {
      if (finished || current !== attempt) return;
      if (error !== null) {
        fail(error);
        return;
      }
      ticket = connectingQueue.acquire(key, () => {
        if (finished || current !== attempt) return;
        try {
          send(target, settings, handshake, finishRequest);
        } catch (sendError) {
          fail(sendError as Error);
        }
      });
    });
  }

  /** Send the handshake request to `target` (now: without the queue; when its turn comes: with it). */
  function send(target: URL, settings: RequestOptions, handshake: ReturnType<typeof createClientHandshake>, finishRequest: ClientOptions['finishRequest']): void {
    const req = (isSecure(target) ? httpsRequest : httpRequest)(settings);
    request = req;
    ownsSocket = settings.agent === undefined;
    /** The response went to an `unexpected-response` listener, which now owns the request (as in `ws`). */
    let handedOver = false;

    req.on('error', (error) => {
      if (request === req) fail(error);
    });

    req.on('close', () => {
      // Aborted without an error (`request.abort()` in a `redirect` listener): fail rather than hang.
      if (request === req && !handedOver) fail(new Error('The opening handshake request was aborted'));
    });

    req.on('response', (response: IncomingMessage) => {
      if (request !== req || finished) return;
      const status = response.statusCode ?? 0;
      const location = response.headers.location;
      if (options.followRedirects === true && status >= 300 && status < 400 && location !== undefined) {
        response.resume();
        req.destroy();
        // The redirect ends this attempt: give up the turn, and queue again for the new target (the
        // old request is no longer current, even while the next one waits for its turn).
        request = null;
        releaseTurn();
        if (++redirects > (options.maxRedirects ?? DEFAULT_MAX_REDIRECTS)) {
          fail(new Error('Maximum redirects exceeded'));
          return;
        }
        let next: URL;
        try {
          next = parseClientUrl(new URL(location, target.href.replace(/^ws/, 'http')));
        } catch (error) {
          fail(error as Error);
          return;
        }
        if (next.protocol === 'ws+unix:' && target.protocol !== 'ws+unix:') {
          // A server on the network must not steer the client onto this machine's local sockets.
          fail(new Error(`Refusing a redirect from ${target.protocol} to a Unix socket (${next.href})`));
          return;
        }
        callbacks.setUrl(next.href);
        connect(next);
        return;
      }
      const refusal = new HandshakeError('FD_ERR_HANDSHAKE_STATUS', status, `Unexpected server response: ${status}`, headerRecord(response));
      if (owner.listenerCount('unexpected-response') > 0) {
        // The listener owns the response (as in `ws`); the handshake timeout still applies.
        handedOver = true;
        // The server has answered (not with 101): this endpoint is no longer being connected to.
        releaseTurn();
        const handled = callbacks.refusalHandled;
        if (handled !== undefined) {
          // Reconnecting: once the listener is done with the response, this attempt is over.
          response.once('close', () => {
            if (request === req) fail(refusal, (error) => handled(error as HandshakeError));
          });
        }
        callbacks.emit('unexpected-response', req, response);
        return;
      }
      response.resume();
      fail(refusal);
    });

    req.on('upgrade', (response: IncomingMessage, socket: Socket, head: Buffer) => {
      if (request !== req || finished) {
        socket.destroy();
        return;
      }
      callbacks.emit('upgrade', response);
      if (finished) {
        socket.destroy();
        return;
      }
      let accepted;
      let deflate: PerMessageDeflate | null = null;
      try {
        accepted = validateResponse(response, handshake);
        const agreed = accepted.extensions.find((extension) => extension.name === PERMESSAGE_DEFLATE);
        if (agreed !== undefined && deflateConfig !== null) {
          deflate = new PerMessageDeflate(acceptServerResponse(agreed, deflateConfig), 'client', deflateConfig);
        }
      } catch (error) {
        socket.destroy();
        fail(error as Error);
        return;
      }
      finished = true;
      clearTimeout(timer);
      releaseTurn(); // RFC 6455 §4.1: established, the next connection to this endpoint may go
      request = null;
      callbacks.attach(socket, head, accepted.protocol, formatExtensions(accepted.extensions), deflate);
      callbacks.emit('open');
      callbacks.start();
    });

    if (redirects > 0) {
      // As in `ws`: before the request is sent, so that a listener can read or remove its headers
      // (`request.removeHeader('cookie')`) or abort it. Aborting, or closing the WebSocket, fails the
      // handshake (error, then close 1006).
      callbacks.emit('redirect', target.href, req);
      if (request !== req || finished || req.destroyed) return;
    }
    if (finishRequest !== undefined) finishRequest(req, callbacks.websocket);
    else req.end();
  }

  /**
   * `createConnection` for `http.request` through a proxy (Node accepts an asynchronous one: it calls
   * back with the socket): the tunnel, then for wss:// TLS to the target inside it.
   */
  function tunnelConnection(proxy: ResolvedProxy | null, proxyError: Error | null, secure: boolean) {
    return (connectOptions: TlsConnectionOptions & { host?: string; port?: number }, callback: (error: Error | null, socket?: Duplex) => void): undefined => {
      if (proxy === null) {
        process.nextTick(() => callback(proxyError));
        return undefined;
      }
      const host = connectOptions.host ?? 'localhost';
      const port = connectOptions.port ?? (secure ? 443 : 80);
      const cancel = openProxyTunnel(proxy, host, port, (error: ProxyError | null, socket?: Socket | Duplex) => {
        if (cancelTunnel === cancel) cancelTunnel = null;
        if (error !== null || socket === undefined) {
          callback(error ?? new Error('The proxy tunnel closed'));
          return;
        }
        if (finished) {
          socket.destroy();
          return;
        }
        // SNI and certificate checks against the target, with the client's TLS options (never the proxy's).
        callback(null, secure ? connectTls({ ...connectOptions, socket: socket as Socket }) : socket);
      });
      cancelTunnel = cancel;
      return undefined;
    };
  }

  if (h2plan === null) connect(url);
  else if (h2proxyError !== null) {
    const error = h2proxyError;
    process.nextTick(() => fail(error));
  } else {
    try {
      h2attempt = startHttp2(h2plan);
    } catch (error) {
      finished = true; // a bad header or option: the constructor throws, nothing is left running
      clearTimeout(timer);
      throw error;
    }
  }
  return { url: url.href, hooks: { abort: (error) => fail(error) } };

  /** RFC 8441: the WebSocket as an HTTP/2 stream (see `http2-client.ts`); HTTP/1.1 when it falls back. */
  function startHttp2(plan: NonNullable<typeof h2plan>): Http2Attempt {
    const auth = userinfoOf(url) ?? options.auth ?? undefined;
    return openHttp2WebSocket(url, plan, protocols, credentials.headersFor(url, auth), options, deflateConfig, {
      opened: (stream, protocol, extensions, deflate) => {
        if (finished) return;
        finished = true;
        h2attempt = null;
        clearTimeout(timer);
        callbacks.attach(stream, EMPTY, protocol, extensions, deflate);
        callbacks.emit('open');
        callbacks.start();
      },
      failed: (error) => {
        h2attempt = null;
        fail(error);
      },
      fallback: (socket) => {
        h2attempt = null;
        if (!finished) connect(url, socket);
        else socket?.destroy();
      },
    });
  }
}

const EMPTY = Buffer.alloc(0);

function isSecure(target: URL): boolean {
  return target.protocol === 'wss:';
}

function connectTcp(options: { host?: string; port?: number; socketPath?: string; path?: string | null }): Socket {
  // `path` is the request's; a Unix socket's path is `socketPath` (net.connect reads it as `path`).
  return netConnect({ ...options, path: options.socketPath } as NetConnectOpts);
}

function connectTls(options: TlsConnectionOptions & { path?: string; host?: string }): Socket {
  // Over a proxy tunnel `options.socket` is the tunnel; `host` still names the target (SNI, identity check).
  const settings = { ...options, path: undefined } as TlsConnectionOptions;
  if (settings.servername === undefined && options.host !== undefined) {
    settings.servername = isIP(options.host) === 0 ? options.host : '';
  }
  return tlsConnect(settings);
}

/**
 * A refusal's response headers for its `HandshakeError`: lower-case names (as Node gives them), a
 * repeated header joined with ", " (RFC 9110 §5.3).
 */
function headerRecord(response: IncomingMessage): Record<string, string> {
  const record: Record<string, string> = {};
  for (const [name, value] of Object.entries(response.headers)) {
    if (value !== undefined) record[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return record;
}
