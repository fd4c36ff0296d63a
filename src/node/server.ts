/**
 * `WebSocketServer`: accepts WebSocket connections on its own port, on an existing `http`/`https`
 * server (sharing the port with ordinary requests), or on sockets handed to `handleUpgrade`
 * (`noServer`). Shaped like `ws`'s server, with the checks a public endpoint needs built in:
 * allowed origins (403), an async `authenticate` hook, a connection limit (503), a handshake timeout,
 * heartbeats, and a graceful `close()` that says 1001 Going Away to every client.
 */
import { EventEmitter } from 'node:events';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { HandshakeError } from '../protocol/errors.js';
import { CloseCode } from '../protocol/close-codes.js';
import { formatRejection, type ResponseHeaders } from '../protocol/handshake.js';
import { acceptResponse, acceptResponseLines, formatResponseLines, validateRequest } from '../protocol/handshake-server.js';
import { DEFAULT_HEARTBEAT, type HeartbeatOptions } from './heartbeat.js';
import { formatExtensions, type ExtensionOffer } from '../protocol/header-grammar.js';
import { invalidServerOffer, negotiateServer, type ServerNegotiation } from '../protocol/permessage-deflate.js';
import { connectAcceptLines, connectResponseHeaders, validateExtendedConnect } from '../protocol/extended-connect.js';
import { cancelStream, claimStream, isHttp2Server, isHttp2Stream, listenHttp2, refuseStream, resetWithCancel, streamRequest, type Http2AnyServer } from './http2-server.js';
import { PerMessageDeflate, type PerMessageDeflateConfig } from './permessage-deflate.js';
import { WebSocket, checkConnectionOptions, DEFAULT_HIGH_WATER_MARK, kAttach, kSetTopics, kStart, type ConnectionOptions, type PublishCallback, type PublishOptions, type TopicHub } from './websocket.js';
import { deliver, Topics } from './topics.js';
import { FramedMessage } from './framed-message.js';
import type { SendData } from './data.js';
import type { Backplane } from './backplane.js';
import { RESUME_SUBPROTOCOL } from '../protocol/resume-wire.js';
import { HistoryTopics, type HistoryOptions } from './history-topics.js';
import { ResumeConnection, ResumeService, type ResumeOptions } from './resume-session.js';
import { ClientLimiter, type LimitEvent, type LimitsOptions } from './limits.js';
import { StandaloneServer } from './standalone-server.js';
import type { RequestHeadLimits } from '../protocol/http-request-head.js';
import type { ForwardedHeaderName, TrustProxy } from '../protocol/forwarded.js';
import type { ProxyProtocolError } from '../protocol/proxy-protocol.js';
import { clientAddressPolicy, clientAddressWith, rememberClientAddressPolicy, type ClientAddressPolicy } from './client-address.js';
import { acceptProxyProtocol } from './proxy-protocol-server.js';
import type { ProxyProtocolOptions } from './proxy-protocol-reader.js';
import { collectStats, kCounters, kOpenedAt, RejectCode, ServerCounters, type ServerStats } from './stats.js';
import { connectionCloseChannel, connectionOpenChannel, handshakeRejectChannel, rateLimitChannel } from './diagnostics.js';

/** Thrown (or returned) by `authenticate` to refuse a handshake with a given HTTP response. */
export class HandshakeRejection extends Error {
  /** Always `'HandshakeRejection'`. */
  override readonly name = 'HandshakeRejection';
  /** The HTTP status of the refusal (e.g. 401, 403, 429). */
  readonly status: number;
  /** Extra response headers sent with the refusal (e.g. `WWW-Authenticate`, `Retry-After`). */
  readonly headers: ResponseHeaders;
  /** Why, for `stats().rejects` and `fullduplex:handshake:reject` (docs/operations.md). */
  readonly code: string;
  constructor(status: number, message = '', headers: ResponseHeaders = {}, code: string = RejectCode.Refused) {
    super(message);
    this.status = status;
    this.headers = headers;
    this.code = code;
  }
}

/** What `verifyClient` is given, as in `ws`. */
export interface VerifyClientInfo {
  /** The request's `Origin` header (undefined when absent, as from a non-browser client). */
  origin: string | undefined;
  /** Whether the connection is over TLS. */
  secure: boolean;
  /** The upgrade request. */
  req: IncomingMessage;
}

/**
 * `ws`'s `verifyClient` hook, for code that moves over from it: return a boolean (one parameter), or
 * call `callback` (two parameters).
 */
export type VerifyClient = (
  info: VerifyClientInfo,
  callback: (result: boolean, code?: number, message?: string, headers?: ResponseHeaders) => void,
) => unknown;

/**
 * The options of `new WebSocketServer(options)`: exactly one of `port` (standalone), `server` (share an
 * HTTP/1.1 or HTTP/2 server) or `noServer` (call `handleUpgrade` yourself), as in `ws`; plus the options of
 * each connection ({@link ConnectionOptions}).
 */
export interface ServerOptions extends Omit<ConnectionOptions, 'heartbeat'> {
  /**
   * Carries `publish` to the subscribers on other server processes (e.g. `RedisBackplane` from
   * `fullduplex/redis`). The server tells it which topics have subscribers here and closes it on `close()`.
   */
  backplane?: Backplane;
  /**
   * Topics that keep history (docs/recovery.md "Server"): `{ topics, store? }`. `topics` says which
   * (a function of the name returning bounds `{ maxMessages, maxAgeMs? }`, `true` for the default
   * 1,000 messages, or null/false; or a Map / object of names). `store` defaults to a `MemoryHistory`;
   * give every server a `RedisHistory` on one Redis to resume across servers. A `publish` to such a topic
   * goes through the store, and every subscriber gets it from the store's ordered feed.
   */
  history?: HistoryOptions;
  /**
   * Speak the resume subprotocol `fullduplex.resume.v1` with clients that offer it (needs `history`):
   * positions, replay of what a client missed, idempotent sends. `authorize(socket, topic, request)` is
   * required (which topics a client may subscribe to). See docs/recovery.md "Server".
   */
  resume?: ResumeOptions;
  /** Listen on this port (standalone mode; plain HTTP requests get 426). */
  port?: number;
  /**
   * Standalone mode: the bounds on a request head (`maxHeaderSize` 16 KiB → 431, `maxHeaderCount`
   * 1,000 → 431, `maxRequestLineLength` 16 KiB → 414). With `server`, that server's own limits apply.
   */
  requestLimits?: RequestHeadLimits;
  /** Standalone mode: the address to listen on (as `net.Server.listen`'s `host`). Default: all addresses. */
  host?: string;
  /** Standalone mode: the listen backlog (as `net.Server.listen`'s `backlog`). Default: Node's (511). */
  backlog?: number;
  /**
   * Share an existing `http`/`https` server, or an `http2` one (TLS with `allowHTTP1: true` for
   * HTTP/1.1 upgrades too, or cleartext h2c): WebSockets then also come as RFC 8441 extended CONNECT
   * streams (SETTINGS_ENABLE_CONNECT_PROTOCOL is turned on for the sessions that start after this).
   */
  server?: HttpServer | HttpsServer | Http2AnyServer;
  /** Create no server: hand upgrade requests to `handleUpgrade` yourself. */
  noServer?: boolean;
  /** Accept only this path (404 for others; other `upgrade` listeners on a shared server get them). Default: every path. */
  path?: string;
  /** Keep the open connections in `clients`. Default true. */
  clientTracking?: boolean;
  /**
   * Pick a subprotocol from the offered ones (in the client's order); false (or any falsy value, as in
   * `ws`) for none. A choice the client did not offer is answered with 500 (RFC 6455 §4.2.2: the
   * server selects one of the client's values). An exception is answered with 500 and rethrown.
   * Default: the client's first offer (as in `ws`; `fullduplex.resume.v1` only with the `resume` option).
   */
  handleProtocols?: (protocols: Set<string>, request: IncomingMessage) => string | false | null | undefined;
  /**
   * Decide whether to accept, after the request passed validation. Resolve (with anything) to accept;
   * throw or resolve a `HandshakeRejection` to refuse with its status and headers. Other errors: 500.
   * Default: accept every request that passed validation.
   */
  authenticate?: (request: IncomingMessage) => unknown;
  /** `ws`'s hook: accept (truthy) or refuse (falsy, with an optional status, default 401). */
  verifyClient?: VerifyClient;
  /**
   * Origins allowed to connect (e.g. `['https://app.example.com']`); others get 403. This protects
   * against cross-site WebSocket hijacking. A request without `Origin` (not from a browser) passes.
   * Default: every origin.
   */
  allowedOrigins?: readonly string[];
  /** A client must complete the upgrade within this many ms (from TCP accept in standalone mode). Default 10,000. */
  handshakeTimeout?: number;
  /** At most this many open connections; beyond it, 503. Default unlimited. */
  maxConnections?: number;
  /**
   * Per-client limits (per address, per key of yours: connections at once, 503; handshakes per second,
   * 429), the message rate of each connection (pause, drop or close 1008), and `maxLifetime`. All off
   * by default; see docs/limits.md "## Per-client limits" and "## Connection lifetime".
   */
  limits?: LimitsOptions;
  /** Ping idle clients and drop the unresponsive. Default `{ interval: 30000, timeout: 30000 }`; false disables. */
  heartbeat?: HeartbeatOptions | false;
  /** On `close()`, how long clients get to answer the 1001 close frame before being dropped. Default 5,000 ms. */
  shutdownTimeout?: number;
  /** A subclass of `WebSocket` to instantiate for each connection. Default `WebSocket`. */
  WebSocket?: typeof WebSocket;
  /**
   * Accept permessage-deflate (RFC 7692) when a client offers it. Default false, as in `ws`; true or
   * an object of parameters (`serverNoContextTakeover`, `clientNoContextTakeover`,
   * `serverMaxWindowBits`, `clientMaxWindowBits`, `threshold`, `concurrencyLimit`, `level`, `memLevel`).
   */
  perMessageDeflate?: boolean | PerMessageDeflateConfig;
  /**
   * The client's address (docs/limits.md "The client's address"): whom to trust as a proxy when reading
   * `forwardedHeader` — addresses, CIDR ranges, `loopback`/`linklocal`/`uniquelocal` (an array or a
   * comma-separated string), a number of hops, or `(address, hop) => boolean`. Default: nobody (the
   * headers are ignored; the client is the connection's peer). Read it with `wss.clientAddress(request)`.
   */
  trustProxy?: TrustProxy;
  /** The header your trusted proxies write: `'x-forwarded-for'` (default) or `'forwarded'` (RFC 7239). The other is never read. */
  forwardedHeader?: ForwardedHeaderName;
  /**
   * Standalone mode only: every connection starts with a PROXY protocol header (v1 or v2, HAProxy's
   * `send-proxy`/`send-proxy-v2`), whose source becomes the client's address; connections without a
   * valid one are dropped (`proxyProtocolError` event). `true` or `{ timeout, maxHeaderBytes }`. Default
   * off. With `{ server }`, call `acceptProxyProtocol(server)` on your server instead.
   */
  proxyProtocol?: boolean | ProxyProtocolOptions;
}

/** The events of a {@link WebSocketServer} (its `on(event, listener)` arguments). */
export interface WebSocketServerEvents {
  /** A handshake completed: `socket` is open; `request` is the upgrade request (or the HTTP/2 stream's request). */
  connection: [socket: WebSocket, request: IncomingMessage];
  /** The 101 response lines, before they are sent: push more (e.g. `Set-Cookie: a=b`). */
  headers: [headers: string[], request: IncomingMessage];
  /** The server listens: the standalone server created with `port`, or the shared `server` when it starts listening. */
  listening: [];
  /**
   * An error of the underlying HTTP server (e.g. `EADDRINUSE`). Always emitted in standalone mode; with a
   * shared `server`, only when you listen (that server's errors are its owner's).
   */
  error: [error: Error];
  /** `close()` finished: the server (when it owns one) is closed, every connection is gone, the backplane and history store are closed. */
  close: [];
  /** A publish without a callback could not be handed to the backplane (its broker is unreachable). */
  publishError: [error: Error, topic: string];
  /** A handshake failed validation. If you listen, you answer the socket yourself (as in `ws`). */
  wsClientError: [error: HandshakeError, socket: Duplex, request: IncomingMessage];
  /** A per-client limit refused a handshake or acted on a connection (the `limits` option). */
  limit: [event: LimitEvent];
  /** A connection was dropped for its PROXY header (`proxyProtocol`): malformed, too large, late, or missing. */
  proxyProtocolError: [error: ProxyProtocolError, socket: Socket];
}

const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;
const DEFAULT_SHUTDOWN_TIMEOUT = 5_000;
const kForget = Symbol('fullduplex.forget');

type UpgradeCallback = (socket: WebSocket, request: IncomingMessage) => void;

/**
 * A WebSocket server (RFC 6455; RFC 8441 over HTTP/2), shaped like `ws`'s `WebSocketServer`: standalone
 * (`port`), on your HTTP/1.1 or HTTP/2 server (`server`), or fed by you (`noServer` and `handleUpgrade`).
 * Emits `connection` with each open {@link WebSocket}; see {@link WebSocketServerEvents}. Also topics
 * (`publish`, with a backplane across servers), history and resume, per-client limits, and `stats()`.
 */
export class WebSocketServer extends EventEmitter<WebSocketServerEvents> {
  /** The open connections (when `clientTracking` is on, the default). */
  readonly clients: Set<WebSocket>;
  /** The options the server was created with. */
  readonly options: Readonly<ServerOptions>;
  private readonly open = new Set<WebSocket>();
  private readonly pending = new Set<Duplex>();
  private readonly allowedOrigins: Set<string> | null;
  private readonly handshakeTimeout: number;
  private readonly connectionOptions: ConnectionOptions;
  /** Who subscribes to what, and what the connections see of it. */
  private readonly topics = new Topics();
  private readonly backplane: Backplane | null;
  /** Topics with history (the `history` option), and the resume subprotocol (the `resume` option). */
  private readonly history: HistoryTopics | null;
  private readonly resume: ResumeService | null;
  private readonly resumeConnections = new Set<WebSocket>();
  private readonly topicHub: TopicHub;
  /** The 'close' listener of every connection of this server (one function per server, not per connection). */
  private readonly forgetOnClose: (this: WebSocket) => void;
  private readonly WebSocketClass: typeof WebSocket;
  private readonly deflateConfig: PerMessageDeflateConfig | null;
  /** The `limits` option (null: none, and no cost anywhere). */
  private readonly limits: ClientLimiter | null;
  /** `trustProxy`/`forwardedHeader`, compiled; null when nobody is trusted. */
  private readonly addressPolicy: ClientAddressPolicy | null;
  /** With `proxyProtocol`: drops the connections still waiting for their PROXY header (on `close()`). */
  private stopProxyProtocol: (() => void) | null = null;
  private httpServer: HttpServer | HttpsServer | Http2AnyServer | StandaloneServer | null = null;
  private ownsServer = false;
  private state: 'running' | 'closing' | 'closed' = 'running';
  /** Whether the HTTP server we created (standalone mode) has closed; true when there is none of ours. */
  private ownServerClosed = true;
  private readonly closeCallbacks: Array<(error?: Error) => void> = [];
  private detachServer: (() => void) | null = null;
  /** Operator's view: `stats()` (stats.ts). */
  private readonly counters = new ServerCounters();

  constructor(options: ServerOptions, onListening?: () => void) {
    super();
    const modes = [options.port !== undefined, options.server !== undefined, options.noServer === true].filter(Boolean).length;
    if (modes !== 1) {
      throw new TypeError('One and only one of the "port", "server", or "noServer" options must be specified');
    }
    this.options = options;
    this.clients = options.clientTracking === false ? new Set() : this.open;
    this.allowedOrigins = options.allowedOrigins === undefined ? null : new Set(options.allowedOrigins.map(normalizeOrigin));
    this.handshakeTimeout = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
    this.WebSocketClass = options.WebSocket ?? WebSocket;
    this.deflateConfig = options.perMessageDeflate === true ? {} : options.perMessageDeflate || null;
    if (this.deflateConfig !== null) negotiateServer([], this.deflateConfig); // checks the parameters now (RangeError)
    // A limit that acted: the 'limit' event, and the operator's view (the fullduplex:rate-limit channel).
    this.limits =
      options.limits === undefined
        ? null
        : new ClientLimiter(options.limits, (event) => {
            if (rateLimitChannel.hasSubscribers) rateLimitChannel.publish({ socket: event.socket ?? null, key: event.key ?? event.address, action: event.action, limit: event.code });
            this.emit('limit', event);
          });
    this.addressPolicy = clientAddressPolicy(options);
    if (options.proxyProtocol && options.port === undefined) {
      throw new TypeError('The "proxyProtocol" option needs the "port" option: with "server", call acceptProxyProtocol(server) on it');
    }
    const owner = this;
    const topics = this.topics;
    this.history = options.history === undefined ? null : new HistoryTopics(options.history, topics, (error, topic) => this.emit('publishError', error, topic));
    this.resume = options.resume === undefined ? null : new ResumeService(options.resume, this.history, options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK);
    this.topicHub = {
      subscribe: (ws, topic) => {
        if (this.resumeConnections.has(ws)) throw new Error(`A ${RESUME_SUBPROTOCOL} connection subscribes with its own "sub" messages: subscribe() is for plain connections`);
        void topics.subscribe(ws, topic);
      },
      unsubscribe: (ws, topic) => void topics.unsubscribe(ws, topic),
      publish: (topic, data, options, except, callback) => owner.publishFrom(except, topic, data, options, callback),
    };
    this.backplane = options.backplane ?? null;
    const backplane = this.backplane;
    const history = this.history;
    if (backplane !== null || history !== null) {
      // A topic with history is fed by its store (on every server); the others by the backplane.
      topics.onFirstSubscriber = (topic) => {
        const bounds = history?.boundsOf(topic) ?? null;
        if (bounds !== null) history!.plainSubscribed(topic, bounds);
        else backplane?.subscribe(topic);
      };
      topics.onLastUnsubscribed = (topic) => {
        if (history !== null && history.boundsOf(topic) !== null) history.plainUnsubscribed(topic);
        else backplane?.unsubscribe(topic);
      };
    }
    if (backplane !== null) {
      backplane.attach({
        // Text arrives as its UTF-8 bytes: framed as text without decoding (it was valid when published).
        deliver: (topic, payload, binary) => void topics.publish(topic, new FramedMessage(payload, binary), undefined),
        localTopics: () => topics.topics(),
        localSubscriberCount: (topic) => topics.subscriberCount(topic),
      });
    }
    this.forgetOnClose = function (this: WebSocket): void {
      owner[kForget](this);
    };
    this.connectionOptions = {
      ...pick(options, ['maxPayload', 'maxFragments', 'maxBufferedChunks', 'maxPendingAutoPongs', 'skipUTF8Validation', 'autoPong', 'closeTimeout', 'maxBufferedAmount', 'slowConsumer', 'highWaterMark']),
      heartbeat: options.heartbeat === undefined ? DEFAULT_HEARTBEAT : options.heartbeat,
    };
    checkConnectionOptions(this.connectionOptions); // a bad limit is a RangeError now, not at the first connection

    if (options.port !== undefined) {
      // Our own server reads the request heads itself (src/node/standalone-server.ts): the head limits
      // (431, 414, 400), the 426 for other requests, the slowloris drop at handshakeTimeout.
      const server = new StandaloneServer({
        handshakeTimeout: this.handshakeTimeout,
        limits: options.requestLimits,
        // Operator's view: a refused request head (400, 414, 431, 505) is a refused handshake.
        onHeadRefused: (error) => this.refused(null, error.status, RejectCode.HttpParse, error.message),
      });
      // The PROXY protocol: its pre-step runs before the request head is read (src/node/proxy-protocol-server.ts
      // takes over the server's 'connection' listener and hands each socket on once its header is read).
      if (options.proxyProtocol) {
        this.stopProxyProtocol = acceptProxyProtocol(server, options.proxyProtocol === true ? true : options.proxyProtocol, (error, socket) => this.emit('proxyProtocolError', error, socket));
      }
      this.ownsServer = true;
      this.attach(server);
      if (onListening !== undefined) this.once('listening', onListening);
      server.listen(options.port, options.host, options.backlog);
    } else if (options.server !== undefined) {
      this.attach(options.server);
      if (onListening !== undefined) this.once('listening', onListening);
    }
  }

  private attach(server: HttpServer | HttpsServer | Http2AnyServer | StandaloneServer): void {
    this.httpServer = server;
    const onListening = (): void => {
      this.emit('listening');
    };
    const onError = (error: Error): void => {
      // Our own server's errors (EADDRINUSE...) are ours to report, unhandled or not, as in `ws`. A
      // shared server's errors belong to its owner: pass them on only to those who listen here.
      if (this.ownsServer || this.listenerCount('error') > 0) this.emit('error', error);
    };
    const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
      if (!this.shouldHandle(request)) {
        // Another listener (another WebSocketServer on a different path) may want it.
        if (server.listenerCount('upgrade') > 1) return;
        this.refused(request, 404, RejectCode.Path, 'No WebSocket endpoint');
        abort(socket, 404, `No WebSocket endpoint at ${request.url ?? '/'}`);
        return;
      }
      this.handleUpgrade(request, socket, head, (ws) => this.emit('connection', ws, request));
    };
    server.on('listening', onListening);
    server.on('error', onError);
    server.on('upgrade', onUpgrade);
    const detachHttp2 = isHttp2Server(server)
      ? listenHttp2(server, {
          acceptsPath: (path) => this.shouldHandle({ url: path } as IncomingMessage),
          handle: (stream, headers, rawHeaders) => this.handleStream(stream, headers, (ws, request) => this.emit('connection', ws, request), rawHeaders),
        })
      : null;
    this.detachServer = () => {
      server.off('listening', onListening);
      server.off('error', onError);
      server.off('upgrade', onUpgrade);
      detachHttp2?.();
    };
  }

  /** The address the server listens on (standalone or attached mode). */
  address(): AddressInfo | string | null {
    if (this.httpServer === null) throw new Error('The server is operating in "noServer" mode');
    return this.httpServer.address();
  }

  /**
   * The client's address for `request` under this server's `trustProxy`, `forwardedHeader` and
   * `proxyProtocol` (docs/limits.md "The client's address"): without them, `request.socket.remoteAddress`.
   */
  clientAddress(request: IncomingMessage): string {
    return clientAddressWith(request, this.addressPolicy);
  }

  /**
   * Counters and gauges of this server, for operators (docs/operations.md "wss.stats()"): connections,
   * handshakes (total, per second over 10 s), refusals by status and code, messages and bytes in and
   * out, buffered bytes, topics. Counters count from the server's creation. `prometheusText(wss)`
   * formats them for Prometheus.
   */
  stats(): ServerStats {
    const topics = this.topics;
    return collectStats({
      counters: this.counters,
      open: this.open,
      openCount: this.open.size,
      pendingCount: this.pending.size,
      subscriberCounts: (function* () {
        for (const topic of topics.topics()) yield topics.subscriberCount(topic);
      })(),
    });
  }

  /** Operator's view: a handshake was refused (`status` 0: dropped without an answer). Counted, and published. */
  private refused(request: IncomingMessage | null, status: number, code: string, message: string): void {
    this.counters.reject(status, code);
    if (handshakeRejectChannel.hasSubscribers) handshakeRejectChannel.publish({ server: this, request, status, code, message });
  }

  /** Whether this server takes the request: the `path` option, if set, must match. */
  shouldHandle(request: IncomingMessage): boolean {
    const path = this.options.path;
    if (path === undefined) return true;
    const url = request.url ?? '/';
    const query = url.indexOf('?');
    return (query === -1 ? url : url.slice(0, query)) === path;
  }

  /**
   * Complete (or refuse) the opening handshake on an `upgrade` request. On success `callback` gets the
   * new `WebSocket` (the server does not emit `connection` itself in this call: the caller does, as in `ws`).
   */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer, callback: UpgradeCallback): void {
    rememberClientAddressPolicy(request, this.addressPolicy); // for clientAddress(request)
    socket.on('error', ignoreError);
    const marked = socket as MarkedSocket;
    const state = marked[kHandshake];
    if (state === UPGRADING) throw new Error('handleUpgrade() was called more than once with the same socket');
    marked[kHandshake] = UPGRADING;
    this.runHandshake(socket, request, (options) => validateRequest(request, options), abort, destroySocket, (validated) =>
      this.completeUpgrade(request, socket, head, validated, callback),
    );
  }

  /**
   * The admission both entry points share (`handleUpgrade` on a socket, `handleStream` on an HTTP/2
   * stream), once the channel is marked as upgrading: the server's state (503), the path (404), the
   * request's validation (a `HandshakeError` goes to `wsClientError` listeners, or is answered with its
   * status), `admit`; then, counted as pending and bounded by `handshakeTimeout` (408), the hooks, and
   * `complete` or `refuse`. A client that leaves while the hooks run is forgotten and `drop`ped.
   */
  private runHandshake<C extends Duplex, V extends { readonly origin: string | undefined; readonly extensions: readonly ExtensionOffer[] }>(
    channel: C,
    request: IncomingMessage,
    validate: (options: { extensions: boolean }) => V,
    refuse: (channel: C, status: number, message: string, headers?: ResponseHeaders) => void,
    drop: (channel: C) => void,
    complete: (validated: V) => void,
  ): void {
    if (this.state !== 'running') {
      this.refused(request, 503, RejectCode.ServerClosing, 'The server is shutting down');
      refuse(channel, 503, 'The server is shutting down');
      return;
    }
    if (!this.shouldHandle(request)) {
      this.refused(request, 404, RejectCode.Path, 'No WebSocket endpoint');
      refuse(channel, 404, `No WebSocket endpoint at ${request.url ?? '/'}`);
      return;
    }
    let validated: V;
    try {
      // As in `ws`: without compression the extension header is not looked at (nothing to negotiate).
      validated = validate({ extensions: this.deflateConfig !== null });
      // As in `ws`: a malformed permessage-deflate offer refuses the handshake (RFC 7692 §5 would
      // also allow declining it).
      const invalid = this.deflateConfig === null ? null : invalidServerOffer(validated.extensions);
      if (invalid !== null) throw new HandshakeError('FD_ERR_HANDSHAKE_EXTENSIONS', 400, `Invalid Sec-WebSocket-Extensions header: ${invalid}`);
    } catch (error) {
      if (!(error instanceof HandshakeError)) throw error;
      this.refused(request, error.status, error.code, error.message);
      if (this.listenerCount('wsClientError') > 0) this.emit('wsClientError', error, channel, request);
      else refuse(channel, error.status, error.message, error.headers);
      return;
    }
    const admission = this.admit(validated.origin, request, channel);
    if (admission !== null) {
      this.refused(request, admission.status, admission.code, admission.message);
      refuse(channel, admission.status, admission.message, admission.headers);
      return;
    }

    // Without hooks the handshake completes now, as it would through runHooks (synchronously): no
    // timer, listeners or pending entry to set up and take down again (the handshake fast path).
    if (this.options.verifyClient === undefined && this.options.authenticate === undefined) {
      const refusal = this.limits === null ? null : this.admitKey(request, channel, refuse);
      if (refusal === null) {
        complete(validated);
        return;
      }
      this.refused(request, refusal.status, refusal.code, refusal.message);
      refuse(channel, refusal.status, refusal.message, refusal.headers);
      return;
    }
    // From here the handshake may wait on user hooks: bound it in time, and count it.
    this.pending.add(channel);
    let done = false;
    const timer = setTimeout(() => finish(new HandshakeRejection(408, 'The handshake took too long', {}, RejectCode.Timeout)), this.handshakeTimeout);
    timer.unref();
    const finish = (refusal: HandshakeRejection | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      this.pending.delete(channel);
      // They hold the request: let them go with the handshake.
      channel.off('close', onGone);
      channel.off('end', onGone);
      if (refusal === null && this.limits !== null) refusal = this.admitKey(request, channel, refuse);
      if (refusal !== null) {
        this.refused(request, refusal.status, refusal.code, refusal.message);
        refuse(channel, refusal.status, refusal.message, refusal.headers);
      } else {
        complete(validated);
      }
    };
    const onGone = (): void => {
      channel.off('close', onGone);
      channel.off('end', onGone);
      if (!done) {
        done = true;
        clearTimeout(timer);
        this.pending.delete(channel);
        this.refused(request, 0, RejectCode.Abandoned, 'The client went away during the handshake');
      }
      drop(channel);
    };
    // A client that leaves while the hooks run (a socket's FIN: 'end', as `ws` checks with
    // `socket.readable`; a stream's reset, or its END_STREAM: no WebSocket can follow) is forgotten at
    // once: no connection comes of it, and it no longer counts as pending.
    channel.once('close', onGone);
    channel.once('end', onGone);

    this.runHooks(request, validated.origin, finish);
  }

  /**
   * `allowedOrigins` (403), then `maxConnections` (503), then the per-address limits (`limits.perAddress`:
   * 503 or 429): the checks made before any hook runs.
   */
  private admit(origin: string | undefined, request: IncomingMessage, channel: Duplex): HandshakeRejection | null {
    if (this.allowedOrigins !== null && origin !== undefined && !this.allowedOrigins.has(normalizeOrigin(origin))) {
      return new HandshakeRejection(403, `Origin ${origin} is not allowed`, {}, RejectCode.Origin);
    }
    const limit = this.options.maxConnections;
    if (limit !== undefined && this.open.size + this.pending.size >= limit) {
      return new HandshakeRejection(503, 'Too many connections', { 'Retry-After': '5' }, RejectCode.MaxConnections);
    }
    const limited = this.limits?.admitAddress(request, channel) ?? null;
    return limited === null ? null : new HandshakeRejection(limited.status, limited.message, limited.headers, limited.code);
  }

  /** After the hooks accepted: the per-key limits (`limits.perKey`). A failing key function: 500, rethrown. */
  private admitKey<C extends Duplex>(request: IncomingMessage, channel: C, refuse: (channel: C, status: number, message: string) => void): HandshakeRejection | null {
    let limited;
    try {
      limited = this.limits!.admitKey(request, channel);
    } catch (error) {
      refuse(channel, 500, 'limits.perKey.key failed');
      throw error;
    }
    return limited === null ? null : new HandshakeRejection(limited.status, limited.message, limited.headers, limited.code);
  }

  /** `verifyClient`, then `authenticate`; `next(null)` to go on, `next(rejection)` to refuse. */
  private runHooks(request: IncomingMessage, origin: string | undefined, next: (refusal: HandshakeRejection | null) => void): void {
    const authenticate = (): void => {
      const hook = this.options.authenticate;
      if (hook === undefined) {
        next(null);
        return;
      }
      let result: unknown;
      try {
        result = hook(request);
      } catch (error) {
        next(toRejection(error));
        return;
      }
      if (result instanceof Promise) {
        result.then(
          (value) => next(value instanceof HandshakeRejection ? value : null),
          (error: unknown) => next(toRejection(error)),
        );
      } else {
        next(result instanceof HandshakeRejection ? result : null);
      }
    };
    const verify = this.options.verifyClient;
    if (verify === undefined) {
      authenticate();
      return;
    }
    const tls = request.socket as { authorized?: boolean; encrypted?: boolean };
    const info: VerifyClientInfo = { origin, secure: tls.authorized === true || tls.encrypted === true, req: request };
    // As in `ws`: two parameters is the callback form; results are read for truthiness; a refusal
    // without a status (or with 0) is 401.
    if (verify.length >= 2) {
      verify(info, (ok, code, message = '', headers = {}) => (ok ? authenticate() : next(new HandshakeRejection(code || 401, message, headers))));
    } else if (verify(info, () => {})) {
      authenticate();
    } else {
      next(new HandshakeRejection(401));
    }
  }

  private completeUpgrade(
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    validated: ReturnType<typeof validateRequest>,
    callback: UpgradeCallback,
  ): void {
    // As in `ws`: a client that sent its FIN (or is gone) gets no connection.
    if (!socket.readable || !socket.writable || socket.destroyed) {
      this.refused(request, 0, RejectCode.Abandoned, 'The client went away during the handshake');
      socket.destroy();
      return;
    }
    if (this.state !== 'running') {
      this.refused(request, 503, RejectCode.ServerClosing, 'The server is shutting down');
      abort(socket, 503, 'The server is shutting down');
      return;
    }
    const choice = this.chooseProtocol(validated.protocols, request, (status, message) => {
      this.refused(request, status, RejectCode.Subprotocol, message);
      abort(socket, status, message);
    });
    if (choice === null) return;
    const protocol = choice.protocol;
    const { extensions, deflate } = this.negotiateDeflate(validated.extensions);
    // Without 'headers' listeners nobody can change the lines: the response is built in one piece.
    const lines = this.listenerCount('headers') === 0 ? null : acceptResponseLines({ key: validated.key, protocol, extensions });
    if (lines !== null) this.emit('headers', lines, request);
    let response: string;
    try {
      response = lines === null ? acceptResponse(validated.key, protocol, extensions) : formatResponseLines(lines);
    } catch (error) {
      this.refused(request, 500, RejectCode.Response, (error as Error).message);
      abort(socket, 500, (error as Error).message);
      return;
    }
    socket.write(response);
    socket.off('error', ignoreError);
    this.adopt(socket, head, protocol ?? '', extensions, deflate, request, callback);
  }

  /**
   * The subprotocol: `handleProtocols`' choice, or the client's first. `{ protocol }` to go on; null
   * when the choice is refused (with 500, through `refuse`). An exception is refused and rethrown.
   */
  private chooseProtocol(
    offered: readonly string[],
    request: IncomingMessage,
    refuse: (status: number, message: string) => void,
  ): { protocol: string | undefined } | null {
    if (offered.length === 0) return { protocol: undefined };
    if (offered.includes(RESUME_SUBPROTOCOL)) {
      // The resume subprotocol: selected whenever offered and enabled; never by default when not (a
      // server that does not speak it must not select it). `handleProtocols` sees the other offers.
      if (this.resume !== null) return { protocol: RESUME_SUBPROTOCOL };
      if (this.options.handleProtocols === undefined) {
        const others = offered.filter((protocol) => protocol !== RESUME_SUBPROTOCOL);
        return { protocol: others[0] };
      }
    }
    if (this.options.handleProtocols === undefined) return { protocol: offered[0] };
    let chosen: unknown;
    try {
      chosen = this.options.handleProtocols(new Set(offered), request);
    } catch (error) {
      // `ws` lets the exception out of handleUpgrade; so do we, having answered the client.
      refuse(500, 'handleProtocols failed');
      throw error;
    }
    // `ws` reads the result for truthiness: false, null, undefined and "" all mean none.
    if (!chosen) return { protocol: undefined };
    if (typeof chosen !== 'string' || !offered.includes(chosen)) {
      // `ws` would send it, and any client then fails the handshake (RFC 6455 §4.1): say so instead.
      refuse(500, 'handleProtocols chose a subprotocol the client did not offer');
      return null;
    }
    return { protocol: chosen };
  }

  /** permessage-deflate (RFC 7692), when enabled and offered: the response's header and the extension. */
  private negotiateDeflate(offers: ReturnType<typeof validateRequest>['extensions']): { extensions: string; deflate: PerMessageDeflate | null } {
    if (this.deflateConfig === null) return { extensions: '', deflate: null };
    const negotiated: ServerNegotiation | null = negotiateServer(offers, this.deflateConfig);
    if (negotiated === null) return { extensions: '', deflate: null };
    return { extensions: formatExtensions([negotiated.response]), deflate: new PerMessageDeflate(negotiated.params, 'server', this.deflateConfig) };
  }

  /** The handshake is answered: a `WebSocket` of this server takes over the socket or stream. */
  private adopt(
    socket: Duplex,
    head: Buffer,
    protocol: string,
    extensions: string,
    deflate: PerMessageDeflate | null,
    request: IncomingMessage,
    callback: UpgradeCallback,
  ): void {
    const ws = new this.WebSocketClass(null, undefined, this.connectionOptions);
    ws[kAttach](socket, head, protocol, extensions, deflate);
    // Operator's view: counted, timed, announced (stats.ts, diagnostics.ts).
    this.counters.handshake();
    ws[kCounters] = this.counters;
    ws[kOpenedAt] = performance.now();
    if (connectionOpenChannel.hasSubscribers) connectionOpenChannel.publish({ server: this, socket: ws, request, protocol, http: request.httpVersionMajor === 2 ? '2' : '1.1' });
    this.open.add(ws);
    ws[kSetTopics](this.topicHub);
    ws.on('close', this.forgetOnClose);
    if (this.limits?.tracksConnections === true) this.limits.adopted(ws, request);
    if (protocol === RESUME_SUBPROTOCOL && this.resume !== null) {
      this.resumeConnections.add(ws);
      new ResumeConnection(ws, request, this.resume);
    }
    callback(ws, request);
    ws[kStart]();
  }

  /**
   * Complete (or refuse) the opening handshake on an HTTP/2 extended CONNECT stream (RFC 8441 §5):
   * the same checks and hooks as `handleUpgrade`, answered with `:status 200` (or the refusal's status,
   * on this stream only). On success `callback` gets the new `WebSocket`; the server does not emit
   * `connection` itself in this call. For users with their own `http2` server's `stream` listener (or
   * `noServer`): the server must have `settings: { enableConnectProtocol: true }`. `rawHeaders` is the
   * `stream` event's fourth argument (rebuilt from `headers` when not given).
   */
  handleStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, callback: UpgradeCallback, rawHeaders?: readonly string[]): void {
    stream.on('error', ignoreError);
    const marked = stream as Duplex as MarkedSocket;
    if (marked[kHandshake] === UPGRADING) throw new Error('handleStream() was called more than once with the same stream');
    marked[kHandshake] = UPGRADING;
    claimStream(stream);
    const request = streamRequest(stream, headers, rawHeaders);
    rememberClientAddressPolicy(request, this.addressPolicy); // for clientAddress(request)
    this.runHandshake(stream, request, (options) => validateExtendedConnect(headers, options), refuseStream, cancelStream, (validated) =>
      this.completeStream(stream, request, validated, callback),
    );
  }

  private completeStream(stream: ServerHttp2Stream, request: IncomingMessage, validated: ReturnType<typeof validateExtendedConnect>, callback: UpgradeCallback): void {
    if (stream.closed || stream.destroyed || !stream.readable) {
      this.refused(request, 0, RejectCode.Abandoned, 'The client went away during the handshake');
      cancelStream(stream);
      return;
    }
    if (this.state !== 'running') {
      this.refused(request, 503, RejectCode.ServerClosing, 'The server is shutting down');
      refuseStream(stream, 503, 'The server is shutting down');
      return;
    }
    const choice = this.chooseProtocol(validated.protocols, request, (status, message) => {
      this.refused(request, status, RejectCode.Subprotocol, message);
      refuseStream(stream, status, message);
    });
    if (choice === null) return;
    const { extensions, deflate } = this.negotiateDeflate(validated.extensions);
    const lines = connectAcceptLines({ protocol: choice.protocol, extensions });
    this.emit('headers', lines, request);
    try {
      stream.respond(connectResponseHeaders(lines));
    } catch (error) {
      deflate?.close();
      this.refused(request, 500, RejectCode.Response, (error as Error).message);
      refuseStream(stream, 500, (error as Error).message);
      return;
    }
    stream.off('error', ignoreError);
    resetWithCancel(stream);
    this.adopt(stream, EMPTY, choice.protocol ?? '', extensions, deflate, request, callback);
  }

  /**
   * Send one message to every open connection: framed once, and the same bytes written to each (a
   * connection that negotiated compression gets the message compressed for it, as `send` would). Each
   * connection's backpressure is its own: one over `maxBufferedAmount` gets the slow-consumer policy
   * and does not hold up the others. Connections in the middle of sending a fragmented message of their
   * own are skipped. Returns the number of connections the message was accepted for.
   */
  broadcast(data: Exclude<SendData, Blob>, options: PublishOptions = {}): number {
    const message = new FramedMessage(data, options.binary);
    let sent = 0;
    const resume = this.resumeConnections;
    for (const ws of this.open) if ((resume.size === 0 || !resume.has(ws)) && deliver(ws, message, options.compress)) sent++;
    return sent;
  }

  /**
   * Send one message to every subscriber of `topic` (see `WebSocket.subscribe`): framed once, the same
   * bytes written to each, each subscriber's backpressure its own, as for `broadcast`. Messages
   * published one after the other reach every subscriber in that order. Returns the number of
   * subscribers it was written to.
   */
  publish(topic: string, data: Exclude<SendData, Blob>, options: PublishOptions = {}, callback?: PublishCallback): number {
    return this.publishFrom(null, topic, data, options, callback);
  }

  /**
   * How many connections subscribe to `topic`: of this server, or with `{ global: true }` of every
   * server on the backplane (a promise; as exact as the backplane's count, see its documentation).
   */
  subscriberCount(topic: string): number;
  /** With `{ global: true }`: the count over every server on the backplane (this server's own count without one). */
  subscriberCount(topic: string, options: { global: true }): Promise<number>;
  subscriberCount(topic: string, options?: { global?: boolean }): number | Promise<number> {
    const local = this.topics.subscriberCount(topic) + (this.history?.resumeCount(topic) ?? 0);
    if (options?.global === true) {
      return this.backplane === null ? Promise.resolve(local) : this.backplane.subscriberCount(topic);
    }
    return local;
  }

  /**
   * Deliver to the local subscribers (but `except`), and hand the message to the backplane for the
   * other servers. The callback learns whether the backplane took it (at once without a backplane);
   * without a callback a refusal is emitted as `publishError`: a publish is never dropped silently.
   */
  private publishFrom(except: WebSocket | null, topic: string, data: Exclude<SendData, Blob>, options: PublishOptions, callback: PublishCallback | undefined): number {
    const history = this.history;
    if (history !== null) {
      const bounds = history.boundsOf(topic);
      if (bounds !== null) return history.publish(topic, bounds, data, options, except, callback);
    }
    if (options.idempotencyKey !== undefined) throw new TypeError(`publish: idempotencyKey needs a topic with history (the store remembers the key); ${JSON.stringify(topic).slice(0, 200)} keeps none`);
    const message = new FramedMessage(data, options.binary);
    const sent = this.topics.publish(topic, message, options.compress, except);
    const backplane = this.backplane;
    if (backplane === null) {
      if (callback !== undefined) process.nextTick(callback, null);
      return sent;
    }
    // The payload's bytes as framed (text as its UTF-8 bytes: encoded once, here).
    backplane.publish(topic, message.payload, message.binary).then(
      () => callback?.(null),
      (error: unknown) => {
        const failure = error instanceof Error ? error : new Error(String(error));
        if (callback !== undefined) callback(failure);
        else this.emit('publishError', failure, topic);
      },
    );
    return sent;
  }


  /** @internal A connection of ours closed. */
  [kForget](ws: WebSocket): void {
    // Operator's view: what the connection carried stays in the counters; subscribers hear how it ended.
    this.counters.connectionClosed(ws);
    if (connectionCloseChannel.hasSubscribers) publishClose(this, ws);
    this.open.delete(ws);
    this.resumeConnections.delete(ws);
    this.limits?.forget(ws);
    if (this.state === 'closing' && this.open.size === 0) setImmediate(() => this.finishClose());
  }

  /**
   * Stop accepting, send 1001 Going Away to every client, wait for their close frames (at most
   * `shutdownTimeout`), drop whoever is left, wait for the HTTP server we created (standalone mode) to
   * close, close the backplane (if any), then emit `close` and call `callback`.
   */
  close(callback?: (error?: Error) => void): void {
    if (callback !== undefined) {
      if (this.state === 'closed') {
        process.nextTick(callback, new Error('The server is not running'));
        return;
      }
      this.closeCallbacks.push(callback);
    }
    if (this.state !== 'running') return;
    this.state = 'closing';

    this.detachServer?.();
    this.detachServer = null;
    for (const socket of this.pending) {
      if (isHttp2Stream(socket)) refuseStream(socket, 503, 'The server is shutting down');
      else abort(socket, 503, 'The server is shutting down');
    }
    this.pending.clear();
    const server = this.httpServer;
    if (server !== null && this.ownsServer) {
      // As in `ws`: `close` waits for our own HTTP server's `close` (it may fail with "not running"
      // when it never listened: closed all the same).
      this.ownServerClosed = false;
      server.close(() => {
        this.ownServerClosed = true;
        if (this.open.size === 0) this.finishClose();
      });
      this.stopProxyProtocol?.();
    }

    if (this.open.size === 0) {
      process.nextTick(() => this.finishClose());
      return;
    }
    for (const ws of this.open) {
      try {
        ws.close(CloseCode.GoingAway, 'Server shutting down');
      } catch {
        ws.terminate();
      }
    }
    const timer = setTimeout(() => {
      for (const ws of this.open) ws.terminate();
    }, this.options.shutdownTimeout ?? DEFAULT_SHUTDOWN_TIMEOUT);
    timer.unref();
    this.once('close', () => clearTimeout(timer));
  }

  private finishClose(): void {
    if (this.state === 'closed' || !this.ownServerClosed) return;
    this.state = 'closed';
    if (this.backplane === null && this.history === null) {
      this.closed();
      return;
    }
    // 'close' once the backplane and the history store have let go of their broker too (they give up on
    // a broker that does not answer by themselves), so that a process may exit in the callback without
    // leaving stale presence. Either may fail (its broker may be gone): nothing more to do about it.
    Promise.allSettled([this.backplane?.close(), this.history?.store.close()]).then(() => this.closed());
  }

  private closed(): void {
    this.emit('close');
    for (const callback of this.closeCallbacks.splice(0)) callback();
  }
}

function ignoreError(): void {}

function destroySocket(socket: Duplex): void {
  socket.destroy();
}

const EMPTY = Buffer.alloc(0);

/** Set on a socket (or stream) once `handleUpgrade` (or `handleStream`) has it: a second call is an error. */
const kHandshake = Symbol('fullduplex.handshake');
const UPGRADING = true;

type MarkedSocket = Duplex & { [kHandshake]?: typeof UPGRADING | undefined };

function abort(socket: Duplex, status: number, message: string, headers: ResponseHeaders = {}): void {
  if (socket.writable && !socket.destroyed) {
    socket.end(formatRejection(status, message, headers));
    // Do not wait forever for a client that does not read its refusal.
    const timer = setTimeout(() => socket.destroy(), 1000);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  } else {
    socket.destroy();
  }
}

function toRejection(error: unknown): HandshakeRejection {
  if (error instanceof HandshakeRejection) return error;
  if (typeof error === 'object' && error !== null && typeof (error as { status?: unknown }).status === 'number') {
    const { status, message, headers } = error as { status: number; message?: string; headers?: ResponseHeaders };
    return new HandshakeRejection(status, message ?? '', headers ?? {});
  }
  return new HandshakeRejection(500, 'Authentication failed', {}, RejectCode.HookFailed);
}

function publishClose(server: WebSocketServer, ws: WebSocket): void {
  const result = ws.closeResult;
  connectionCloseChannel.publish({
    server,
    socket: ws,
    code: result?.code ?? CloseCode.Abnormal,
    reason: result?.reason.toString('utf8') ?? '',
    wasClean: result?.wasClean ?? false,
    duration: performance.now() - ws[kOpenedAt],
  });
}

function normalizeOrigin(origin: string): string {
  try {
    return new URL(origin).origin.toLowerCase();
  } catch {
    return origin.toLowerCase();
  }
}

function pick<T extends object, K extends keyof T>(source: T, keys: readonly K[]): Pick<T, K> {
  const out = {} as Pick<T, K>;
  for (const key of keys) if (source[key] !== undefined) out[key] = source[key];
  return out;
}
