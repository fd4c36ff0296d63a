/**
 * Our WebSocketServer behind a real HAProxy (Debian `haproxy`, 2.6): HAProxy's HTTP/2 frontends
 * announce SETTINGS_ENABLE_CONNECT_PROTOCOL and take RFC 8441 extended CONNECTs, and its backends
 * forward a WebSocket over HTTP/2 (extended CONNECT to `proto h2` / ALPN h2 servers) or over HTTP/1.1
 * (an Upgrade), converting between the two (HAProxy configuration manual, "ws { auto | h1 | h2 }").
 * Each route is one frontend/backend pair in a single haproxy.cfg; each runs the same scenarios with
 * our client: echo, close codes both ways, a 1 MiB message, permessage-deflate.
 *
 * Which HTTP version each hop used is proven from both ends: the client's `ws.socket` is a
 * `ClientHttp2Stream` (or not), and the backend's request object says `httpVersion` '2.0' or '1.1'.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer as createH2cServer, createSecureServer, constants, type ServerHttp2Stream, type Http2Server, type Http2SecureServer } from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, type ClientOptions } from '../../src/node/websocket.js';
import { WebSocketServer } from '../../src/node/server.js';
import { HAProxy, haproxySkipReason } from '../helpers/haproxy.js';
import { once, within } from '../helpers/node.js';
import { scaled } from '../helpers/time.js';
import { selfSignedCertificate, type Certificate } from '../helpers/tls.js';

/** True for an `Http2Stream` (node:http2 does not export the class): it has `rstCode` and `session`. */
function isHttp2Stream(socket: Duplex | null): boolean {
  return socket !== null && 'rstCode' in socket && 'session' in socket;
}

type BackendKind = 'h2c' | 'h1' | 'tls';

/** One of our servers as HAProxy's backend: echoes, and hands each connection to the test by path. */
class Backend {
  readonly wss: WebSocketServer;
  readonly #waiting = new Map<string, (value: [WebSocket, IncomingMessage]) => void>();
  readonly #arrived = new Map<string, [WebSocket, IncomingMessage]>();

  constructor(readonly server: HttpServer | Http2Server | Http2SecureServer) {
    this.wss = new WebSocketServer({ server, perMessageDeflate: true, maxPayload: 4 * 1024 * 1024 });
    this.wss.on('connection', (ws, request) => {
      ws.on('message', (data, isBinary) => {
        if (!isBinary && String(data).startsWith('close:')) {
          const [, code, reason] = String(data).split(':');
          ws.close(Number(code), reason);
        } else ws.send(data as Buffer, { binary: isBinary });
      });
      const path = request.url ?? '';
      const waiter = this.#waiting.get(path);
      if (waiter !== undefined) {
        this.#waiting.delete(path);
        waiter([ws, request]);
      } else this.#arrived.set(path, [ws, request]);
    });
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** The server side of the connection that asked for `path`. */
  connection(path: string): Promise<[WebSocket, IncomingMessage]> {
    const arrived = this.#arrived.get(path);
    if (arrived !== undefined) {
      this.#arrived.delete(path);
      return Promise.resolve(arrived);
    }
    return new Promise((resolve) => this.#waiting.set(path, resolve));
  }

  static async start(kind: BackendKind, certificate: Certificate): Promise<Backend> {
    const server =
      kind === 'h1'
        ? createHttpServer()
        : kind === 'h2c'
          ? createH2cServer({ settings: { enableConnectProtocol: true } })
          : createSecureServer({ key: certificate.key, cert: certificate.cert, allowHTTP1: true, settings: { enableConnectProtocol: true } });
    const backend = new Backend(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return backend;
  }

  async close(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      if ('closeAllConnections' in this.server) this.server.closeAllConnections();
    });
  }
}

interface Route {
  name: string;
  /** The frontend: TLS with ALPN h2,http/1.1, or cleartext HTTP/1.1. */
  frontend: 'tls' | 'plain';
  backend: BackendKind;
  /** The `server` line's options after the address. */
  serverOptions: string;
  /** Our client's `http2` option. */
  http2: ClientOptions['http2'];
  /** The HTTP version of each hop, as the test proves it. */
  clientH2: boolean;
  backendVersion: '2.0' | '1.1';
}

/** The routes tested (the configurations docs/http2.md "Behind a load balancer" gives). */
const ROUTES: Route[] = [
  { name: 'h2 client -> HAProxy -> h2c backend (proto h2)', frontend: 'tls', backend: 'h2c', serverOptions: 'proto h2', http2: 'require', clientH2: true, backendVersion: '2.0' },
  { name: 'h2 client -> HAProxy -> HTTP/1.1 backend', frontend: 'tls', backend: 'h1', serverOptions: '', http2: 'require', clientH2: true, backendVersion: '1.1' },
  { name: 'HTTP/1.1 client -> HAProxy -> h2c backend (proto h2)', frontend: 'plain', backend: 'h2c', serverOptions: 'proto h2', http2: false, clientH2: false, backendVersion: '2.0' },
  { name: 'h2 client -> HAProxy -> TLS backend (alpn h2)', frontend: 'tls', backend: 'tls', serverOptions: 'ssl verify none alpn h2', http2: 'require', clientH2: true, backendVersion: '2.0' },
  // "ws auto" (the default) downgrades the ALPN to http/1.1 for WebSocket streams when the server's
  // ALPN list offers it; "ws h2" keeps HTTP/2 (HAProxy configuration manual, 5.2, "ws").
  { name: 'h2 client -> HAProxy -> TLS backend (alpn h2,http/1.1, ws auto: downgraded)', frontend: 'tls', backend: 'tls', serverOptions: 'ssl verify none alpn h2,http/1.1', http2: 'require', clientH2: true, backendVersion: '1.1' },
  { name: 'h2 client -> HAProxy -> TLS backend (alpn h2,http/1.1, ws h2)', frontend: 'tls', backend: 'tls', serverOptions: 'ssl verify none alpn h2,http/1.1 ws h2', http2: 'require', clientH2: true, backendVersion: '2.0' },
];

describe('our WebSocketServer behind HAProxy, over HTTP/2 and HTTP/1.1 (RFC 8441 on either side)', { skip: haproxySkipReason(), timeout: scaled(60_000) }, () => {
  let certificate: Certificate;
  let proxy: HAProxy;
  const backends: Backend[] = [];
  let counter = 0;

  before(async () => {
    certificate = selfSignedCertificate();
    for (const route of ROUTES) backends.push(await Backend.start(route.backend, certificate));
    proxy = await HAProxy.start(
      (ports, dir) =>
        ROUTES.map((route, i) => {
          const bind =
            route.frontend === 'tls' ? `bind 127.0.0.1:${ports[i]} ssl crt ${dir}/site.pem alpn h2,http/1.1` : `bind 127.0.0.1:${ports[i]}`;
          return `frontend fe${i}\n  ${bind}\n  default_backend be${i}\n\nbackend be${i}\n  server s${i} 127.0.0.1:${backends[i]!.port} ${route.serverOptions}\n`;
        }).join('\n'),
      // HAProxy's `crt` takes the certificate and its key in one PEM file.
      { ports: ROUTES.length, files: { 'site.pem': Buffer.concat([certificate.cert, certificate.key]) } },
    );
  });

  after(async () => {
    await proxy?.stop();
    for (const backend of backends) await backend.close();
    certificate?.remove();
  });

  /** `check` with HAProxy's log in the failure message. */
  async function withLog<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(`${what}: ${message}\n--- haproxy log ---\n${proxy.log.trim()}`, { cause: error });
    }
  }

  /** Open our client through the route's frontend; the backend's side of the same WebSocket. */
  async function connect(i: number, options: ClientOptions = {}): Promise<{ ws: WebSocket; server: WebSocket; request: IncomingMessage }> {
    const route = ROUTES[i]!;
    const path = `/route${i}/${++counter}`;
    const scheme = route.frontend === 'tls' ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://127.0.0.1:${proxy.ports[i]}${path}`, [], {
      ...(route.frontend === 'tls' && { ca: certificate.cert }),
      http2: route.http2,
      ...options,
    });
    await within(
      new Promise<void>((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      }),
      `the client to open through ${route.name}`,
    );
    const [server, request] = await within(backends[i]!.connection(path), 'the backend to see the connection');
    return { ws, server, request };
  }

  function closed(ws: WebSocket): Promise<[number, Buffer]> {
    if (ws.readyState === WebSocket.CLOSED) return Promise.resolve([ws.closeResult!.code, ws.closeResult!.reason]);
    return once<[number, Buffer]>(ws, 'close');
  }

  it('multiplexes two WebSockets on one client HTTP/2 connection to HAProxy, each echoing its own messages', () =>
    withLog('two WebSockets on one session', async () => {
      const [a, b] = await Promise.all([connect(0), connect(0)]);
      const sessionOf = (ws: WebSocket): unknown => (ws.socket as Duplex & { session?: unknown }).session;
      assert.ok(sessionOf(a.ws) !== undefined && sessionOf(a.ws) === sessionOf(b.ws), 'both streams are on one client session');
      a.ws.send('to a');
      b.ws.send('to b');
      const [[fromA], [fromB]] = await Promise.all([once<[Buffer]>(a.ws, 'message'), once<[Buffer]>(b.ws, 'message')]);
      assert.deepEqual([String(fromA), String(fromB)], ['to a', 'to b']);
      a.ws.close(4010);
      const [codeA] = await closed(a.server);
      assert.equal(codeA, 4010);
      b.ws.send('b still open');
      const [stillB] = await once<[Buffer]>(b.ws, 'message');
      assert.equal(String(stillB), 'b still open');
      b.ws.close();
      await closed(b.ws);
    }));

  it('carries an abort through: terminate() (RST_STREAM CANCEL) reaches the h2c backend as RST_STREAM CANCEL, a close without a close frame (1006)', () =>
    withLog('terminate', async () => {
      const { ws, server } = await connect(0);
      ws.terminate();
      const [code] = await closed(server);
      assert.equal(code, 1006);
      const stream = server.socket as ServerHttp2Stream;
      if (!stream.closed) await once(stream, 'close');
      // Node's close(CANCEL) sends an empty END_STREAM just before the RST_STREAM (a known quirk, see
      // docs/http2.md); now and then HAProxy forwards that END_STREAM first, and the backend's stream is
      // then over (both ends closed) before the reset arrives. Either way the backend saw an abort: no
      // close frame (1006, asserted above), and never a reset other than CANCEL.
      assert.ok(
        stream.rstCode === constants.NGHTTP2_CANCEL || (stream.rstCode === constants.NGHTTP2_NO_ERROR && stream.readableEnded),
        `HAProxy reset the backend stream with CANCEL (or forwarded the END_STREAM before it): rstCode ${stream.rstCode}, readableEnded ${stream.readableEnded}`,
      );
    }));

  ROUTES.forEach((route, i) => {
    describe(route.name, () => {
      it(`echoes text and binary; the client ${route.clientH2 ? 'used an HTTP/2 stream' : 'used HTTP/1.1'} and the backend saw HTTP/${route.backendVersion}`, () =>
        withLog(route.name, async () => {
          const { ws, request } = await connect(i, { perMessageDeflate: false });
          assert.equal(isHttp2Stream(ws.socket), route.clientH2, 'the client side is an HTTP/2 stream');
          assert.equal(request.httpVersion, route.backendVersion, 'the HTTP version the backend saw');
          assert.equal(request.method, route.backendVersion === '2.0' ? 'CONNECT' : 'GET');
          assert.equal(request.headers['x-forwarded-for'], '127.0.0.1', 'the request came through HAProxy (option forwardfor)');
          ws.send('héllo');
          const [text, textIsBinary] = await once<[Buffer, boolean]>(ws, 'message');
          assert.deepEqual([String(text), textIsBinary], ['héllo', false]);
          ws.send(Buffer.from([0, 1, 2, 255]));
          const [bytes, bytesIsBinary] = await once<[Buffer, boolean]>(ws, 'message');
          assert.deepEqual([[...bytes], bytesIsBinary], [[0, 1, 2, 255], true]);
          ws.close();
          await closed(ws);
        }));

      it('carries close codes and reasons both ways', () =>
        withLog(route.name, async () => {
          const first = await connect(i);
          const serverClosed = closed(first.server);
          first.ws.close(4001, 'client bye');
          const [[clientCode], [serverCode, serverReason]] = await Promise.all([closed(first.ws), serverClosed]);
          assert.deepEqual([serverCode, String(serverReason)], [4001, 'client bye'], 'the backend got the client close code');
          assert.equal(clientCode, 4001, 'the client saw its close echoed');

          const second = await connect(i);
          second.ws.send('close:4002:server bye');
          const [code, reason] = await closed(second.ws);
          assert.deepEqual([code, String(reason)], [4002, 'server bye'], 'the client got the backend close code');
          const [echoed] = await closed(second.server);
          assert.equal(echoed, 4002);
        }));

      it('echoes a 1 MiB binary message', () =>
        withLog(route.name, async () => {
          const { ws } = await connect(i, { perMessageDeflate: false, maxPayload: 4 * 1024 * 1024 });
          const big = Buffer.alloc(1024 * 1024);
          for (let k = 0; k < big.length; k++) big[k] = (k * 7 + (k >> 10)) & 0xff;
          ws.send(big);
          const [echo] = await once<[Buffer]>(ws, 'message', scaled(20_000));
          assert.equal(echo.length, big.length);
          assert.ok(echo.equals(big), 'the echo is byte for byte the message');
          ws.close();
          await closed(ws);
        }));

      it('negotiates permessage-deflate end to end (HAProxy forwards the extension header) and echoes compressed messages', () =>
        withLog(route.name, async () => {
          const { ws, server } = await connect(i, { perMessageDeflate: true });
          assert.equal(ws.extensions, 'permessage-deflate');
          assert.equal(server.extensions, 'permessage-deflate');
          const text = 'fullduplex through haproxy '.repeat(20_000);
          ws.send(text);
          const [echo] = await once<[Buffer]>(ws, 'message', scaled(20_000));
          assert.equal(String(echo), text);
          ws.close();
          await closed(ws);
        }));
    });
  });
});

describe('HAProxy with h2-workaround-bogus-websocket-clients (no extended CONNECT announced)', { skip: haproxySkipReason(), timeout: scaled(60_000) }, () => {
  let certificate: Certificate;
  let proxy: HAProxy;
  let backend: Backend;

  before(async () => {
    certificate = selfSignedCertificate();
    backend = await Backend.start('h1', certificate);
    proxy = await HAProxy.start(
      (ports, dir) =>
        `frontend fe\n  bind 127.0.0.1:${ports[0]} ssl crt ${dir}/site.pem alpn h2,http/1.1\n  default_backend be\n\n` +
        `backend be\n  server s 127.0.0.1:${backend.port}\n`,
      // A global keyword: HAProxy's frontends then leave SETTINGS_ENABLE_CONNECT_PROTOCOL out.
      { ports: 1, global: 'h2-workaround-bogus-websocket-clients', files: { 'site.pem': Buffer.concat([certificate.cert, certificate.key]) } },
    );
  });

  after(async () => {
    await proxy?.stop();
    await backend?.close();
    certificate?.remove();
  });

  it('http2: true falls back to HTTP/1.1 (a new TLS connection with ALPN http/1.1) and works', async () => {
    const ws = new WebSocket(`wss://127.0.0.1:${proxy.ports[0]}/fallback`, [], { ca: certificate.cert, http2: true });
    await within(
      new Promise<void>((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      }),
      `the client to open (haproxy log: ${proxy.log})`,
    );
    assert.equal(isHttp2Stream(ws.socket), false, 'the client fell back to HTTP/1.1');
    const [, request] = await within(backend.connection('/fallback'), 'the backend to see the connection');
    assert.equal(request.headers['x-forwarded-for'], '127.0.0.1');
    ws.send('over 1.1');
    const [echo] = await once<[Buffer]>(ws, 'message');
    assert.equal(String(echo), 'over 1.1');
    ws.close();
    await once(ws, 'close');
  });

  it("http2: 'require' fails with an error naming the missing SETTINGS_ENABLE_CONNECT_PROTOCOL", async () => {
    const ws = new WebSocket(`wss://127.0.0.1:${proxy.ports[0]}/require`, [], { ca: certificate.cert, http2: 'require' });
    const [[error], [code]] = await Promise.all([once<[Error]>(ws, 'error'), once<[number]>(ws, 'close')]);
    assert.match(error.message, /SETTINGS_ENABLE_CONNECT_PROTOCOL/);
    assert.equal(code, 1006);
  });
});
