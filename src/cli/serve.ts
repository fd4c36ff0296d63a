/**
 * `fullduplex serve`: a WebSocket server for trying things out, in one of four modes (echo, broadcast,
 * chat, inspector), over ws:// or wss://, optionally serving static files next to the endpoint. It logs
 * one line (or JSON object) per connection opened and closed, and on SIGINT/SIGTERM closes gracefully
 * (1001 Going Away).
 *
 * The command runs its own `http`/`https` server and hands upgrade requests to a `noServer`
 * `WebSocketServer`; in inspector mode it taps the socket first (see inspector/tap.ts) and serves the
 * inspector page and its feed (`/inspect`).
 */
import { readFileSync, realpathSync, statSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { parseArgs } from 'node:util';
import { WebSocketServer } from '../node/server.js';
import { prometheusText, PROMETHEUS_CONTENT_TYPE } from '../node/prometheus.js';
import type { Backplane } from '../node/backplane.js';
import type { WebSocket } from '../node/websocket.js';
import { parseChoice, parseCommandLine, parsePort, UsageError } from './args.js';
import { echoMessages } from './echo.js';
import { ExitCode } from './exit-codes.js';
import { formatClose, formatHostPort } from './format.js';
import { isPageAsset, servePage } from './inspector/assets.js';
import { InspectorHub } from './inspector/hub.js';
import type { Output } from './output.js';
import { broadcastMessages, chatName, chatRoom } from './serve-modes.js';
import { LOG_FORMATS, ServeLog, type LogFormat } from './serve-log.js';
import { sendStatus, serveStatic } from './serve-static.js';
import { createServeServer, isHttp2Request, type AnyRequest, type AnyResponse, type ServerKind } from './serve-http.js';
import { closeCodeName } from '../protocol/close-codes.js';

const MODES = ['echo', 'broadcast', 'chat', 'inspector'] as const;
const DEFAULT_PORT = 8080;
/** Only this machine, unless asked otherwise: `npm start` is a demo, not a public service. */
const DEFAULT_HOST = '127.0.0.1';
/** Chosen when a client offers it. */
const SUBPROTOCOL = 'chat';
/** The inspector page's feed. */
const INSPECT_PATH = '/inspect';
/** The server's metrics in the Prometheus text format (docs/operations.md). */
const METRICS_PATH = '/metrics';
const HANDSHAKE_TIMEOUT = 10_000;

export const SERVE_USAGE = `Usage: fullduplex serve --mode echo|broadcast|chat|inspector [options]

Run a WebSocket server until Ctrl-C (SIGINT) or SIGTERM.

Options:
  --mode MODE          What to do with messages (required):
                         echo       send every message back to its sender as it came, text as
                                    text and binary as binary.
                         broadcast  send every message to every client (the sender included).
                         chat       a chat room: each text message goes to every client as JSON
                                    {"type":"chat","from","text","time"}, with "join" and "leave"
                                    notices; binary messages are echoed to their sender.
                         inspector  the chat room, plus a web page at http://HOST:PORT/ that shows
                                    its own connection's handshake and every frame both ways.
  --port PORT          TCP port to listen on, 0 for any free one (default ${DEFAULT_PORT}).
  --host HOST          Address to listen on (default ${DEFAULT_HOST}: only this machine can connect).
                       Give --host 0.0.0.0 or --host :: to accept connections from other machines.
  --static DIR         Serve the files under DIR over HTTP on the same port (GET/HEAD; a folder
                       serves its index.html; nothing outside DIR is reachable).
  --tls-cert FILE      Serve https:// and wss:// with this certificate (PEM)...
  --tls-key FILE       ...and this private key (PEM). Give both or neither. With TLS the port
                       speaks HTTP/2 and HTTP/1.1 (ALPN h2 or http/1.1): pages, static files and
                       WebSockets over HTTP/2 (RFC 8441 extended CONNECT, as browsers open them
                       when the page came over HTTP/2) next to HTTP/1.1 Upgrade for other clients.
  --no-http2           With TLS: HTTP/1.1 only (an https server, as before HTTP/2 support).
  --h2c                Without TLS: cleartext HTTP/2 with prior knowledge (h2c), for a proxy that
                       speaks HTTP/2 to its backends (HAProxy, Envoy). HTTP/2 only: HTTP/1.1
                       clients and browsers cannot connect (browsers never use h2c).
  --max-payload BYTES  Largest message accepted (default 67108864, 64 MiB); a larger one is
                       refused with close code 1009 Message Too Big.
  --compress           Compress every message sent (permessage-deflate, threshold 0). Without
                       it, compression is still accepted when a client offers it, and applied
                       to messages of 1 KiB or more.
  --no-compress        Refuse permessage-deflate.
  --log pretty|json    Log lines for people (default) or one JSON object per line.
  --redis URL          Chat and inspector modes: share the room with every server started with
                       the same Redis (redis://host:port), through its Pub/Sub; needs the redis
                       package (npm install redis).
  -h, --help           Show this help.

The server selects the subprotocol "${SUBPROTOCOL}" when a client offers it, and none otherwise.
It prints the address it listens on (with the real port when PORT is 0), then one line when a
connection opens (remote address, path, subprotocol) and one when it closes (code, reason,
wasClean). On SIGINT or SIGTERM it stops accepting, sends every client 1001 Going Away, waits
for their answers (at most 5 s), and exits; a second signal drops the remaining clients at once.
Plain HTTP requests get 426 Upgrade Required (over HTTP/2, which has no Upgrade: 405 with
Allow: CONNECT), unless --static or the inspector answers them. GET /metrics answers with the
server's stats in the Prometheus text format (connections, handshakes, refusals, messages, bytes).

Examples:
  fullduplex serve --mode inspector --port 8080          # then open http://127.0.0.1:8080/
  fullduplex serve --mode chat --static ./public --log json
  fullduplex serve --mode echo --tls-cert cert.pem --tls-key key.pem --max-payload 1048576
  fullduplex serve --mode echo --h2c --port 9000            # behind an HTTP/2 proxy

Exit codes:
  0  stopped by SIGINT or SIGTERM after a graceful close
  1  could not listen (port in use, unknown host...), could not read --static, --tls-cert or
     --tls-key, or stopped by a second signal
  2  usage error`;

interface ServeSettings {
  mode: (typeof MODES)[number];
  port: number;
  host: string;
  staticDir: string | undefined;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  /** With TLS: HTTP/2 next to HTTP/1.1 (default) or not; without: h2c or HTTP/1.1. */
  http2: boolean;
  h2c: boolean;
  maxPayload: number | undefined;
  compress: 'on' | 'off' | 'offered';
  log: LogFormat;
  /** The chat room on a Redis backplane (chat and inspector modes). */
  redis: string | undefined;
}

/** Parse the command line; `null` when help was asked for (and printed). */
function parseServeArgs(args: readonly string[], output: Output): ServeSettings | null {
  const { values } = parseCommandLine('serve', () =>
    parseArgs({
      args: [...args],
      options: {
        mode: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        static: { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        'no-http2': { type: 'boolean' },
        h2c: { type: 'boolean' },
        'max-payload': { type: 'string' },
        compress: { type: 'boolean' },
        'no-compress': { type: 'boolean' },
        log: { type: 'string' },
        redis: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: false,
    }),
  );
  if (values.help === true) {
    output.log(SERVE_USAGE);
    return null;
  }
  if (values.mode === undefined) throw new UsageError(`--mode is required (${MODES.join(', ')})`, 'serve');
  if (values.host === '') throw new UsageError('--host must not be empty', 'serve');
  if (values.static === '') throw new UsageError('--static must name a folder', 'serve');
  const cert = values['tls-cert'];
  const key = values['tls-key'];
  if ((cert === undefined) !== (key === undefined)) throw new UsageError('--tls-cert and --tls-key go together', 'serve');
  if (cert === '' || key === '') throw new UsageError('--tls-cert and --tls-key must name files', 'serve');
  if (values.h2c === true && values['no-http2'] === true) throw new UsageError('--h2c and --no-http2 contradict each other', 'serve');
  if (values.h2c === true && cert !== undefined) throw new UsageError('--h2c is cleartext HTTP/2: with --tls-cert the port speaks HTTP/2 already', 'serve');
  if (values['no-http2'] === true && cert === undefined) {
    throw new UsageError(`--no-http2 is for --tls-cert (without TLS the server speaks HTTP/1.1 unless --h2c)`, 'serve');
  }
  if (values.compress === true && values['no-compress'] === true) throw new UsageError('--compress and --no-compress contradict each other', 'serve');
  const redis = values.redis;
  if (redis !== undefined) {
    if (!/^rediss?:\/\/./.test(redis)) throw new UsageError(`--redis must be a redis:// or rediss:// URL (got "${redis}")`, 'serve');
    if (values.mode !== 'chat' && values.mode !== 'inspector') throw new UsageError('--redis is for --mode chat and --mode inspector', 'serve');
  }
  let maxPayload: number | undefined;
  const max = values['max-payload'];
  if (max !== undefined) {
    if (!/^\d{1,16}$/.test(max) || Number(max) < 1 || !Number.isSafeInteger(Number(max))) {
      throw new UsageError(`--max-payload must be a whole number of bytes, at least 1 (got "${max}")`, 'serve');
    }
    maxPayload = Number(max);
  }
  return {
    mode: parseChoice(values.mode, MODES, '--mode', 'serve'),
    port: values.port === undefined ? DEFAULT_PORT : parsePort(values.port, 'serve'),
    host: values.host ?? DEFAULT_HOST,
    staticDir: values.static,
    tlsCert: cert,
    tlsKey: key,
    http2: values['no-http2'] !== true,
    h2c: values.h2c === true,
    maxPayload,
    compress: values.compress === true ? 'on' : values['no-compress'] === true ? 'off' : 'offered',
    log: values.log === undefined ? 'pretty' : parseChoice(values.log, LOG_FORMATS, '--log', 'serve'),
    redis,
  };
}

/** Read what the command line names (files, a folder); a message on failure. */
function loadFiles(settings: ServeSettings): { tls: { cert: Buffer; key: Buffer } | null; staticRoot: string | null } | string {
  let tls = null;
  if (settings.tlsCert !== undefined && settings.tlsKey !== undefined) {
    try {
      tls = { cert: readFileSync(settings.tlsCert), key: readFileSync(settings.tlsKey) };
    } catch (error) {
      return `cannot read the TLS certificate or key: ${(error as Error).message}`;
    }
  }
  let staticRoot = null;
  if (settings.staticDir !== undefined) {
    try {
      staticRoot = realpathSync(settings.staticDir);
      if (!statSync(staticRoot).isDirectory()) return `--static ${settings.staticDir} is not a folder`;
    } catch (error) {
      return `cannot serve --static ${settings.staticDir}: ${(error as Error).message}`;
    }
  }
  return { tls, staticRoot };
}

export async function serve(args: readonly string[], output: Output): Promise<ExitCode> {
  const settings = parseServeArgs(args, output);
  if (settings === null) return ExitCode.Ok;
  const log = new ServeLog(settings.log, output);
  const files = loadFiles(settings);
  if (typeof files === 'string') {
    log.error('error', { message: files }, `fullduplex serve: ${files}`);
    return ExitCode.Failure;
  }
  const { tls, staticRoot } = files;
  const inspector = settings.mode === 'inspector';

  let backplane: Backplane | undefined;
  if (settings.redis !== undefined) {
    try {
      // Loaded only here: the redis package is an optional peer dependency.
      const { RedisBackplane } = await import('../node/redis-backplane.js');
      let lastError = '';
      backplane = new RedisBackplane({
        url: settings.redis,
        onError: (error) => {
          if (error.message === lastError) return; // one line per distinct error, not one per retry
          lastError = error.message;
          log.error('error', { message: `redis: ${error.message}` }, `fullduplex serve: redis: ${error.message}`);
        },
      });
    } catch (error) {
      const message = `--redis needs the redis package (npm install redis): ${(error as Error).message}`;
      log.error('error', { message }, `fullduplex serve: ${message}`);
      return ExitCode.Failure;
    }
  }

  const wss = new WebSocketServer({
    noServer: true,
    ...(backplane === undefined ? {} : { backplane }),
    handleProtocols: (offered) => (offered.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
    handshakeTimeout: HANDSHAKE_TIMEOUT,
    perMessageDeflate: settings.compress === 'off' ? false : settings.compress === 'on' ? { threshold: 0 } : true,
    ...(settings.maxPayload === undefined ? {} : { maxPayload: settings.maxPayload }),
  });
  // The inspector page's feed: its own server, never tapped, uncompressed.
  const feeds = inspector ? new WebSocketServer({ noServer: true, perMessageDeflate: false, heartbeat: false }) : null;
  const hub = inspector ? new InspectorHub(() => wss.stats()) : null;

  const onRequest = (request: AnyRequest, response: AnyResponse): void => {
    const url = request.url ?? '/';
    const query = url.search(/[?#]/);
    const path = query === -1 ? url : url.slice(0, query);
    if (path === METRICS_PATH && (request.method === 'GET' || request.method === 'HEAD')) {
      // The server's stats for Prometheus (docs/operations.md), in every mode.
      const body = prometheusText(wss);
      response.writeHead(200, { 'Content-Type': PROMETHEUS_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
      if (request.method === 'HEAD') response.end();
      else response.end(body);
    } else if (inspector && isPageAsset(path)) {
      void servePage(path, request, response);
    } else if (staticRoot !== null) {
      void serveStatic(staticRoot, request, response);
    } else if (inspector) {
      sendStatus(response, 404, 'Not Found');
    } else if (isHttp2Request(request)) {
      // HTTP/2 has no Upgrade (RFC 9113 §8.6): a WebSocket here is an extended CONNECT (RFC 8441 §4),
      // and 405 names the method this resource takes (RFC 9110 §15.5.6).
      sendStatus(response, 405, 'Method Not Allowed: this endpoint speaks WebSocket (over HTTP/2: extended CONNECT, RFC 8441)', { Allow: 'CONNECT' });
    } else {
      // RFC 9110 §15.5.22: say what to upgrade to.
      sendStatus(response, 426, 'Upgrade Required: this endpoint speaks WebSocket', { Upgrade: 'websocket', Connection: 'Upgrade' });
    }
  };

  let connections = 0;
  const onConnection = (socket: WebSocket, request: IncomingMessage): void => {
    const id = ++connections;
    const remote = formatHostPort(request.socket.remoteAddress, request.socket.remotePort);
    const path = request.url ?? '/';
    const protocol = socket.protocol === '' ? '(none)' : socket.protocol;
    // Over HTTP/2 the line says so; over HTTP/1.1 it stays as it always was.
    const h2 = request.httpVersionMajor === 2;
    log.info(
      'open',
      { id, remote, path, protocol: socket.protocol, extensions: socket.extensionsHeader, http: h2 ? '2' : '1.1' },
      `[#${id}] open remote=${remote} path=${path} protocol=${protocol}${h2 ? ' http=2' : ''}`,
    );
    socket.on('error', (error) => log.error('error', { id, message: error.message }, `[#${id}] error: ${error.message}`));
    socket.on('close', (code, reason) => {
      const wasClean = socket.closeResult?.wasClean ?? false;
      log.info('close', { id, code, codeName: closeCodeName(code), reason: reason.toString('utf8'), wasClean }, `[#${id}] close ${formatClose(code, reason, wasClean)}`);
    });
    if (settings.mode === 'echo') echoMessages(socket);
    else if (settings.mode === 'broadcast') broadcastMessages(wss, socket);
    else chatRoom(wss, socket, chatName(request, id));
  };

  const isFeed = (url: string | undefined): boolean => feeds !== null && new URL(url ?? '/', 'http://x').pathname === INSPECT_PATH;
  const kind: ServerKind = tls === null ? (settings.h2c ? 'h2c' : 'http') : settings.http2 ? 'h2' : 'https';
  const served = createServeServer({
    kind,
    tls,
    handshakeTimeout: HANDSHAKE_TIMEOUT,
    onRequest,
    onUpgrade: (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (feeds !== null && hub !== null && isFeed(request.url)) {
        feeds.handleUpgrade(request, socket, head, (ws) => hub.feed(ws, request));
        return;
      }
      // Tap before the connection exists, so that the tap sees every byte first.
      const tapped = hub?.tap(request, socket, head) ?? null;
      wss.handleUpgrade(request, socket, head, (ws) => {
        if (tapped !== null && hub !== null) hub.opened(tapped.token, ws);
        onConnection(ws, request);
      });
    },
    // RFC 8441: the same, for a WebSocket that arrives as an HTTP/2 stream.
    onStream: (stream, headers, h2request) => {
      if (feeds !== null && hub !== null && isFeed(h2request.url)) {
        feeds.handleStream(stream, headers, (ws, request) => hub.feed(ws, request), h2request.rawHeaders);
        return;
      }
      const tapped = hub?.tap(h2request, stream, Buffer.alloc(0)) ?? null;
      wss.handleStream(
        stream,
        headers,
        (ws, request) => {
          if (tapped !== null && hub !== null) hub.opened(tapped.token, ws);
          onConnection(ws, request);
        },
        h2request.rawHeaders,
      );
    },
  });
  const http = served.server;

  http.listen(settings.port, settings.host);
  try {
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.once('listening', () => {
        http.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    const message = `cannot listen on ${formatHostPort(settings.host, settings.port)}: ${(error as Error).message}`;
    log.error('error', { message }, `fullduplex serve: ${message}`);
    return ExitCode.Failure;
  }
  http.on('error', (error) => log.error('error', { message: error.message }, `server error: ${error.message}`));
  wss.on('error', (error) => log.error('error', { message: error.message }, `server error: ${error.message}`));

  const stopped = new Promise<ExitCode>((resolve) => {
    let stopping = false;
    const stop = (code: ExitCode): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      served.closeAll();
      resolve(code);
    };
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        log.info('drop', { signal, clients: wss.clients.size }, `${signal} again: dropping ${wss.clients.size} client(s)`);
        for (const socket of wss.clients) socket.terminate();
        for (const socket of feeds?.clients ?? []) socket.terminate();
        http.close();
        stop(ExitCode.Failure);
        return;
      }
      stopping = true;
      log.info('closing', { signal, clients: wss.clients.size }, `${signal}: closing, ${wss.clients.size} client(s) get 1001 Going Away`);
      served.closeGracefully();
      const feedsClosed = new Promise<void>((done) => (feeds === null ? done() : feeds.close(() => done())));
      const clientsClosed = new Promise<void>((done) => wss.close(() => done()));
      void Promise.all([clientsClosed, feedsClosed]).then(() => {
        // The server learns of the last close before that connection's own listeners run: let its line go first.
        setImmediate(() => {
          log.info('closed', {}, 'server closed');
          stop(ExitCode.Ok);
        });
      });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  // Announce only once the signals are handled: whoever reads the line may stop us at once.
  const address = http.address() as AddressInfo;
  const hostPort = formatHostPort(address.address, address.port);
  const wsUrl = `${tls === null ? 'ws' : 'wss'}://${hostPort}/`;
  const httpUrl = `${tls === null ? 'http' : 'https'}://${hostPort}/`;
  const speaks = kind === 'h2' ? 'HTTP/2 and HTTP/1.1' : kind === 'h2c' ? 'HTTP/2 only (h2c, prior knowledge)' : 'HTTP/1.1';
  log.info(
    'listening',
    {
      mode: settings.mode,
      url: wsUrl,
      port: address.port,
      http: kind === 'h2' ? ['2', '1.1'] : kind === 'h2c' ? ['2'] : ['1.1'],
      ...(inspector ? { page: httpUrl } : {}),
      ...(staticRoot === null ? {} : { static: staticRoot }),
    },
    `fullduplex ${settings.mode} server listening on ${wsUrl} (Ctrl-C to stop)`,
  );
  if (settings.log === 'pretty' && kind !== 'http') output.log(`Speaks ${speaks}`);
  if (inspector && settings.log === 'pretty') output.log(`Inspector: open ${httpUrl} in a browser`);
  if (staticRoot !== null && settings.log === 'pretty') output.log(`Static files from ${staticRoot} at ${httpUrl}`);

  return stopped;
}
