/**
 * Testing clients (Autobahn's "fuzzingserver" mode): an HTTP server that the client under test drives
 * with the Autobahn protocol, so existing Autobahn client drivers work unchanged:
 *   /getCaseCount               one text message: the number of cases
 *   /getCaseInfo?case=N         one text message: {"id", "description"}
 *   /runCase?case=N&agent=A     case N runs (the client must echo every message)
 *   /getCaseStatus?case=N&agent=A  one text message: {"behavior"} once case N has a result for agent A
 *   /updateReports?agent=A      writes the reports (for agent A, or all agents)
 * Cases are numbered from 1, in suite order.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import http2, { type Http2Server, type Http2SecureServer, type Http2Session, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { EventEmitter } from 'node:events';
import { CaseRun, type CaseDefinition, type CaseResult } from './case.js';
import { FuzzPeer, DEFAULT_TIMEOUTS, checkTimeScale, type PeerTimeouts } from './fuzz-peer.js';
import { validateRequest, acceptResponseLines, formatResponseLines } from '../protocol/handshake-server.js';
import { formatRejection } from '../protocol/handshake.js';
import { HandshakeError } from '../protocol/errors.js';
import { connectAcceptLines, connectRejectionHeaders, connectResponseHeaders, validateExtendedConnect } from '../protocol/extended-connect.js';
import { formatH2Headers, tcpLikeStream } from './h2-stream.js';

/**
 * Serve the cases over HTTP/2 (RFC 8441) instead of HTTP/1.1: 'h2c' is cleartext HTTP/2 with prior
 * knowledge, `{ key, cert }` is TLS with ALPN h2 (and no HTTP/1.1, so that a client that falls back
 * fails visibly). Either way the server sends SETTINGS_ENABLE_CONNECT_PROTOCOL and each WebSocket
 * is an extended CONNECT stream.
 */
export type ClientTestHttp2 = 'h2c' | { readonly key: string | Buffer; readonly cert: string | Buffer };

export interface ClientTestOptions {
  readonly cases: readonly CaseDefinition[];
  readonly port?: number;
  readonly host?: string;
  readonly timeouts?: PeerTimeouts;
  /**
   * Multiplies every wait (the cases' timers, the closing handshake, each case's time limit): 1 (the
   * default) is Autobahn's timing; more gives a slow client or a loaded machine time. A case that
   * still runs out of time is reported as timed out.
   */
  readonly timeScale?: number;
  readonly http2?: ClientTestHttp2;
}

export interface ClientTestEvents {
  /** A case finished for an agent. */
  result: [agent: string, result: CaseResult];
  /** A client asked for the reports (`/updateReports`). */
  reports: [agent: string | null];
}

const ABOUT = 'This is the fullduplex conformance server: point a WebSocket client driver at it.\n';

export class ClientTestServer extends EventEmitter<ClientTestEvents> {
  readonly cases: readonly CaseDefinition[];
  /** Results per agent, by case id. */
  readonly results = new Map<string, Map<string, CaseResult>>();
  private readonly server: Server | Http2Server | Http2SecureServer;
  private readonly sessions = new Set<Http2Session>();
  private readonly timeouts: PeerTimeouts;
  private readonly timeScale: number;
  private readonly statusWaiters = new Map<string, Array<(result: CaseResult) => void>>();
  private readonly sockets = new Set<Duplex>();

  constructor(options: ClientTestOptions) {
    super();
    this.cases = options.cases;
    this.timeouts = options.timeouts ?? DEFAULT_TIMEOUTS;
    this.timeScale = checkTimeScale(options.timeScale ?? 1);
    if (options.http2 === undefined) {
      const server = createServer((_request, response) => {
        response.writeHead(426, { 'Content-Type': 'text/plain; charset=utf-8', Upgrade: 'websocket' });
        response.end(ABOUT);
      });
      server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(request, socket, head));
      this.server = server;
    } else {
      const settings = { enableConnectProtocol: true };
      const server = options.http2 === 'h2c'
        ? http2.createServer({ settings })
        : http2.createSecureServer({ key: options.http2.key, cert: options.http2.cert, settings, allowHTTP1: false });
      server.on('session', (session: Http2Session) => {
        this.sessions.add(session);
        session.on('error', () => {});
        session.on('close', () => this.sessions.delete(session));
      });
      server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
        if (headers[':method'] === 'CONNECT') {
          this.onStream(stream, headers);
        } else {
          stream.on('error', () => {});
          stream.respond({ ':status': 400, 'content-type': 'text/plain; charset=utf-8' });
          stream.end(ABOUT);
        }
      });
      this.server = server;
    }
  }

  listen(port = 0, host = '127.0.0.1'): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    for (const session of this.sessions) session.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** The results of one agent, in suite order. */
  resultsFor(agent: string): CaseResult[] {
    const byId = this.results.get(agent);
    if (byId === undefined) return [];
    return this.cases.flatMap((c) => {
      const result = byId.get(c.id);
      return result === undefined ? [] : [result];
    });
  }

  private onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.track(socket);
    let key: string;
    try {
      key = validateRequest(request).key;
    } catch (error) {
      if (!(error instanceof HandshakeError)) throw error;
      socket.end(formatRejection(error.status, error.message, error.headers));
      return;
    }
    const offer = request.headers['sec-websocket-extensions'];
    this.dispatch(request.url ?? '/', Array.isArray(offer) ? offer.join(', ') : offer, rawRequest(request), {
      socket,
      head,
      accept: (extensions) => {
        const response = formatResponseLines(acceptResponseLines({ key, extensions }));
        socket.write(response);
        return response.trimEnd();
      },
      refuse: (status, message) => socket.end(formatRejection(status, message)),
    });
  }

  /**
   * An extended CONNECT stream (RFC 8441 §4, §5): validated as our server validates one, answered with
   * `:status 200` (no Sec-WebSocket-Accept) and then run as a TCP-like stream (h2-stream.ts).
   */
  private onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    this.track(stream);
    let path: string;
    try {
      path = validateExtendedConnect(headers).path;
    } catch (error) {
      if (!(error instanceof HandshakeError)) throw error;
      stream.respond(connectRejectionHeaders(error.status, error.headers));
      stream.end(error.message);
      return;
    }
    const offer = headers['sec-websocket-extensions'];
    this.dispatch(path, Array.isArray(offer) ? offer.join(', ') : offer, formatH2Headers('HTTP/2 extended CONNECT (RFC 8441)', headers), {
      socket: tcpLikeStream(stream),
      head: Buffer.alloc(0),
      accept: (extensions) => {
        const response = connectResponseHeaders(connectAcceptLines({ extensions }));
        // The stream may be gone already (`close()` from a 'reports' listener), as a socket may be.
        if (stream.destroyed || stream.closed) return '(the stream was gone before the response)';
        stream.respond(response);
        return formatH2Headers(`HTTP/2 ${response[':status']}`, Object.fromEntries(Object.entries(response).filter(([name]) => name !== ':status')));
      },
      refuse: (status, message) => {
        if (stream.destroyed || stream.closed) return;
        stream.respond(connectRejectionHeaders(status));
        stream.end(message);
      },
    });
  }

  private track(socket: Duplex): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
  }

  private dispatch(target: string, offer: string | undefined, requestText: string, connection: Connection): void {
    const { socket, head } = connection;
    const url = new URL(target, 'http://localhost');
    const agent = url.searchParams.get('agent');
    const caseNumber = Number(url.searchParams.get('case'));
    const definition = Number.isInteger(caseNumber) && caseNumber >= 1 ? this.cases[caseNumber - 1] : undefined;
    const refuse = (status: number, message: string): void => connection.refuse(status, message);

    switch (url.pathname) {
      case '/runCase': {
        if (definition === undefined) return refuse(404, `No case ${url.searchParams.get('case')} (there are ${this.cases.length})`);
        if (agent === null) return refuse(400, 'runCase needs an agent');
        const run = new CaseRun(definition, true);
        let extensionHeader: string | undefined;
        let negotiated: ReturnType<NonNullable<NonNullable<CaseDefinition['extensions']>['respond']>> = null;
        if (definition.extensions?.respond !== undefined) {
          negotiated = definition.extensions.respond(offer, run);
          extensionHeader = negotiated?.header;
        }
        run.handshakeRequest = requestText;
        run.handshakeResponse = connection.accept(extensionHeader);
        const limitSeconds = (definition.timeLimit ?? 60) * this.timeScale;
        const limit = setTimeout(() => {
          run.limitReached('the case to finish (its time limit)', limitSeconds);
          socket.destroy();
        }, limitSeconds * 1000);
        const peer = new FuzzPeer(socket, 'server', {
          onOpen: () => run.open(peer),
          onMessage: (payload, binary) => run.onMessage(payload, binary),
          onPong: (payload) => run.onPong(payload),
          onConnectionLost: () => {
            clearTimeout(limit);
            if (definition.extensions?.respond !== undefined && negotiated === null) {
              run.unimplemented('The client did not offer what this case needs');
            } else {
              run.connectionLost();
            }
            this.record(agent, run.toResult());
          },
        }, this.timeouts, this.timeScale);
        if (definition.extensions?.respond !== undefined && negotiated === null) {
          peer.sendClose(1000);
          return;
        }
        if (negotiated !== null) peer.setExtension(negotiated.extension);
        peer.start(head);
        return;
      }
      case '/getCaseCount':
        return this.reply(connection, String(this.cases.length));
      case '/getCaseInfo':
        if (definition === undefined) return refuse(404, 'No such case');
        return this.reply(connection, JSON.stringify({ id: definition.id, description: definition.description }));
      case '/getCaseStatus': {
        if (definition === undefined || agent === null) return refuse(400, 'getCaseStatus needs a case and an agent');
        const existing = this.results.get(agent)?.get(definition.id);
        if (existing !== undefined) return this.reply(connection, JSON.stringify({ behavior: existing.behavior }));
        const waitKey = `${agent}\u0000${definition.id}`;
        const waiters = this.statusWaiters.get(waitKey) ?? [];
        waiters.push((result) => this.reply(connection, JSON.stringify({ behavior: result.behavior })));
        this.statusWaiters.set(waitKey, waiters);
        return;
      }
      case '/updateReports':
        this.emit('reports', agent);
        return this.reply(connection, null);
      default:
        return refuse(404, `Unknown path ${url.pathname}`);
    }
  }

  /** Accept, send one text message (if any), and close. */
  private reply(connection: Connection, text: string | null): void {
    connection.accept(undefined);
    const peer = new FuzzPeer(connection.socket, 'server', {
      onOpen: () => {
        if (text !== null) peer.sendMessage(text);
        peer.sendClose(1000);
      },
      onMessage: () => {},
      onPong: () => {},
      onConnectionLost: () => {},
    }, this.timeouts, this.timeScale);
    peer.createWirelog = false;
    peer.start(connection.head);
  }

  private record(agent: string, result: CaseResult): void {
    let byId = this.results.get(agent);
    if (byId === undefined) {
      byId = new Map();
      this.results.set(agent, byId);
    }
    byId.set(result.id, result);
    this.emit('result', agent, result);
    const waitKey = `${agent}\u0000${result.id}`;
    for (const waiter of this.statusWaiters.get(waitKey) ?? []) waiter(result);
    this.statusWaiters.delete(waitKey);
  }
}

/** A WebSocket handshake in progress: over HTTP/1.1 (a socket) or HTTP/2 (a stream). */
interface Connection {
  readonly socket: Duplex;
  /** Bytes that came with the handshake. */
  readonly head: Buffer;
  /** Send the accepting response, with these extensions; returns it as text for the report. */
  accept(extensions: string | undefined): string;
  refuse(status: number, message: string): void;
}

function rawRequest(request: IncomingMessage): string {
  let text = `${request.method ?? 'GET'} ${request.url ?? '/'} HTTP/${request.httpVersion}\r\n`;
  for (let i = 0; i < request.rawHeaders.length; i += 2) text += `${request.rawHeaders[i]}: ${request.rawHeaders[i + 1]}\r\n`;
  return text.trimEnd();
}
