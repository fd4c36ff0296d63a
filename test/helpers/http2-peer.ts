/**
 * A small RFC 8441 server for the client's tests, on `node:http2`: TLS (ALPN h2, with HTTP/1.1 allowed
 * for the fallback tests) or cleartext h2c, `SETTINGS_ENABLE_CONNECT_PROTOCOL` on or off. Each extended
 * CONNECT stream is answered with 200 (or the status the test asks for, or never) and then served by a
 * fullduplex server-side `WebSocket` over the stream, echoing every message. HTTP/1.1 upgrades go to a
 * `WebSocketServer` in `noServer` mode, also echoing. It records what a test needs to see on the wire:
 * the request headers of each stream, the sessions, and the RST_STREAM code each stream ended with.
 */
import { createSecureServer, createServer, type Http2Server, type Http2SecureServer, type ServerHttp2Stream, type IncomingHttpHeaders, type ServerHttp2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, kAttach, kStart } from '../../src/node/websocket.js';
import { WebSocketServer } from '../../src/node/server.js';
import { selfSignedCertificate, type Certificate } from './tls.js';

export interface Http2PeerOptions {
  /** Cleartext HTTP/2 (h2c, prior knowledge) instead of TLS. */
  cleartext?: boolean;
  /** Send SETTINGS_ENABLE_CONNECT_PROTOCOL (default true). */
  enableConnectProtocol?: boolean;
  /** The status to answer an extended CONNECT with (default 200); 'never' leaves the request unanswered. */
  status?: number | 'never';
  /** Choose the first subprotocol offered (default true). */
  selectProtocol?: boolean;
  /** Do not read from the streams (the client's flow-control window then fills). */
  noRead?: boolean;
}

/** One extended CONNECT stream the peer accepted. */
export interface PeerStream {
  headers: IncomingHttpHeaders;
  stream: ServerHttp2Stream;
  /** The server-side WebSocket (null when the peer did not answer 200 or does not read). */
  ws: WebSocket | null;
  /** The RST_STREAM code the stream ended with, once closed (0: none, a clean END_STREAM). */
  rstCode: Promise<number>;
}

export class Http2Peer extends EventEmitter<{ stream: [PeerStream]; upgrade: [WebSocket, IncomingMessage] }> {
  readonly server: Http2Server | Http2SecureServer;
  readonly certificate: Certificate | null;
  readonly streams: PeerStream[] = [];
  readonly sessions = new Set<ServerHttp2Session>();
  /** HTTP/1.1 upgrades served (the fallback path). */
  upgrades = 0;
  port = 0;
  readonly #wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });

  constructor(readonly options: Http2PeerOptions = {}) {
    super();
    const settings = { enableConnectProtocol: options.enableConnectProtocol ?? true };
    if (options.cleartext === true) {
      this.certificate = null;
      this.server = createServer({ settings });
    } else {
      this.certificate = selfSignedCertificate();
      this.server = createSecureServer({ key: this.certificate.key, cert: this.certificate.cert, allowHTTP1: true, settings });
    }
    this.server.on('session', (session: ServerHttp2Session) => {
      this.sessions.add(session);
      session.on('error', () => {});
    });
    this.server.on('stream', (stream, headers) => this.#onStream(stream, headers));
    this.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.upgrades++;
      this.#wss.handleUpgrade(request, socket, head, (ws) => {
        ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
        this.emit('upgrade', ws, request);
      });
    });
  }

  #onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    stream.on('error', () => {});
    let resolveCode!: (code: number) => void;
    const rstCode = new Promise<number>((resolve) => (resolveCode = resolve));
    stream.on('close', () => resolveCode(stream.rstCode ?? 0));
    const entry: PeerStream = { headers, stream, ws: null, rstCode };
    this.streams.push(entry);
    const status = this.options.status ?? 200;
    if (headers[':method'] !== 'CONNECT' || headers[':protocol'] !== 'websocket') {
      stream.respond({ ':status': 400 }, { endStream: true });
    } else if (status === 'never') {
      // no answer
    } else if (status < 200 || status > 299) {
      stream.respond({ ':status': status }, { endStream: true });
    } else {
      const offered = String(headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim()).filter((p) => p !== '');
      const protocol = this.options.selectProtocol === false || offered.length === 0 ? '' : offered[0]!;
      stream.respond({ ':status': status, ...(protocol !== '' && { 'sec-websocket-protocol': protocol }) });
      if (this.options.noRead === true) {
        stream.pause();
      } else {
        const ws = new WebSocket(null, undefined, {});
        ws.on('error', () => {});
        ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
        ws[kAttach](stream, Buffer.alloc(0), protocol, '');
        ws[kStart]();
        entry.ws = ws;
      }
    }
    this.emit('stream', entry);
  }

  /** Start listening on 127.0.0.1, port 0. */
  static async start(options: Http2PeerOptions = {}): Promise<Http2Peer> {
    const peer = new Http2Peer(options);
    await new Promise<void>((resolve) => peer.server.listen(0, '127.0.0.1', resolve));
    peer.port = (peer.server.address() as AddressInfo).port;
    return peer;
  }

  /** The URL of a path on this peer (wss://, or ws:// for h2c). */
  url(path = '/'): string {
    return `${this.options.cleartext === true ? 'ws' : 'wss'}://127.0.0.1:${this.port}${path}`;
  }

  /** TLS options a client needs to trust this peer. */
  get tls(): { ca?: Buffer } {
    return this.certificate === null ? {} : { ca: this.certificate.cert };
  }

  async close(): Promise<void> {
    for (const session of this.sessions) session.destroy();
    for (const client of this.#wss.clients) client.terminate();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.certificate?.remove();
  }
}
