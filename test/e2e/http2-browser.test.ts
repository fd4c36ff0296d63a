/**
 * End to end with a real browser over HTTP/2 (RFC 8441): Debian's headless Chromium loads a page over
 * HTTPS from an `http2.createSecureServer({ allowHTTP1: true, settings: { enableConnectProtocol: true } })`
 * (a self-signed certificate, accepted with the context's `ignoreHTTPSErrors`), and the page's own
 * `WebSocket` opens `wss://` to the same origin, served by our `WebSocketServer({ server })`.
 *
 * Proven from the server side: each WebSocket's request has `httpVersion` '2.0' and method CONNECT,
 * its stream belongs to the very HTTP/2 session (and the same TLS socket) that served the page's GET,
 * and the server saw a single TLS connection from the browser. Chromium 156 does this by default: no
 * flag. Then echo of text and binary (bytes checked on both sides), close codes both ways,
 * permessage-deflate negotiated and used, a graceful shutdown (1001), and the fallback: a server that
 * does not advertise SETTINGS_ENABLE_CONNECT_PROTOCOL gets the WebSocket as an HTTP/1.1 upgrade on a
 * new connection.
 *
 * Skips (with the Debian package to install) when Chromium is not installed; nothing else skips.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createSecureServer, type Http2SecureServer, type Http2Session, type Http2ServerRequest, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { WebSocketServer } from '../../src/node/index.js';
import { chromiumSkipReason, launchChromium } from '../helpers/browser.js';
import { selfSignedCertificate } from '../helpers/tls.js';
import { call, echoEach, pageHtml, pattern, ServerSides, type Message, type PageClose, type Received, type ServerSide } from '../helpers/browser-page.js';
import { scaled } from '../helpers/time.js';

const skip = chromiumSkipReason();
const TIMEOUT = scaled(60_000);

const PAGE = pageHtml('fullduplex over HTTP/2');

const MESSAGES: Message[] = [
  { kind: 'text', text: 'hello over h2' },
  { kind: 'text', text: '' },
  { kind: 'text', text: 'héllo wörld — 你好 — 🦄' },
  { kind: 'text', text: 'long: ' + 'abcdefghij'.repeat(10_000) }, // more than the 64 KiB initial stream window
  { kind: 'binary', hex: Buffer.from([0, 1, 2, 0xfe, 0xff]).toString('hex') },
  { kind: 'binary', hex: '' },
  { kind: 'binary', hex: pattern(100_000, 17).toString('hex') },
];

describe('Chromium opens its WebSocket as a stream of the page\'s HTTP/2 connection (RFC 8441)', () => {
  let browser: Browser | null = null;
  let context: BrowserContext;
  let page: Page;
  let server: Http2SecureServer;
  let plain: WebSocketServer;
  let deflate: WebSocketServer;
  let origin: string;
  /** The session and TLS socket of the page's GET, and every TLS connection the server accepted. */
  let pageSession: Http2Session | null = null;
  let pageSocket: unknown = null;
  const tlsConnections: Socket[] = [];
  const sessions: ServerHttp2Session[] = [];
  const serverSides = new ServerSides(4001);

  before(
    async () => {
      browser = await launchChromium();
      if (browser === null) return; // every test skips
      const { key, cert, remove } = selfSignedCertificate();
      remove();
      server = createSecureServer({ key, cert, allowHTTP1: true, settings: { enableConnectProtocol: true } }, (request, response) => {
        if (request.url === '/') {
          if (request.httpVersion === '2.0') {
            pageSession = (request as Http2ServerRequest).stream.session ?? null;
            pageSocket = (request as Http2ServerRequest).stream.session?.socket ?? null;
          }
          response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
          response.end(PAGE);
        } else {
          response.writeHead(404);
          response.end();
        }
      });
      server.on('secureConnection', (socket: Socket) => tlsConnections.push(socket));
      server.on('session', (session: ServerHttp2Session) => sessions.push(session));
      plain = new WebSocketServer({ server, path: '/plain', heartbeat: false });
      deflate = new WebSocketServer({ server, path: '/deflate', heartbeat: false, perMessageDeflate: true });
      serverSides.track(plain);
      serverSides.track(deflate);
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

      context = await browser.newContext({ ignoreHTTPSErrors: true });
      page = await context.newPage();
      await page.goto(`${origin}/`);
      assert.equal(await call<string>(page, 'protocol'), 'h2', 'the page itself came over HTTP/2');
      assert.ok(pageSession !== null, 'the page GET arrived over HTTP/2');
    },
    { timeout: TIMEOUT },
  );

  after(
    async () => {
      await browser?.close();
      for (const wss of [plain, deflate]) if (wss !== undefined) await new Promise<void>((resolve) => wss.close(() => resolve()));
      if (server !== undefined) {
        for (const session of sessions) session.destroy();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    },
    { timeout: TIMEOUT },
  );

  /** Open from the page, check the WebSocket is a stream of the page's session, echo everything. */
  async function openOverPageSession(name: string, path: '/plain' | '/deflate'): Promise<{ side: ServerSide; extensions: string }> {
    const opened = await call<{ protocol: string; extensions: string }>(page, 'open', name, `wss://127.0.0.1:${new URL(origin).port}${path}?id=${name}`);
    const side = await serverSides.get(name);
    const request = side.request;
    assert.equal(request.httpVersion, '2.0', 'the WebSocket came over HTTP/2');
    assert.equal(request.method, 'CONNECT', 'as an extended CONNECT');
    assert.equal(request.socket, pageSocket, 'on the TLS socket that served the page');
    const stream = side.ws.socket as unknown as ServerHttp2Stream;
    assert.equal(stream.session, pageSession, 'as a stream of the session that served the page');
    assert.equal(tlsConnections.length, 1, 'the browser made a single TLS connection');
    assert.equal(request.headers['origin'], origin);
    assert.equal(request.headers['sec-websocket-version'], '13');
    assert.equal(request.headers['sec-websocket-key'], undefined, 'no Sec-WebSocket-Key over HTTP/2 (RFC 8441 §5)');
    assert.equal(request.headers['host'], new URL(origin).host, ':authority becomes host');

    const messages = path === '/deflate' ? [...MESSAGES, { kind: 'text' as const, text: JSON.stringify(Array.from({ length: 400 }, (_, i) => ({ id: i, text: 'the quick brown fox' }))) }] : MESSAGES;
    await echoEach(page, name, side, messages);
    return { side, extensions: opened.extensions };
  }

  it('echoes text and binary over the page\'s session; the page closes with 4000 and a reason', { skip, timeout: TIMEOUT }, async (t) => {
    const { side, extensions } = await openOverPageSession('page-closes', '/plain');
    assert.equal(extensions, '', 'no extension without perMessageDeflate');
    t.diagnostic(`server saw: httpVersion ${side.request.httpVersion}, ${side.request.method} ${side.request.url}, stream ${(side.ws.socket as unknown as ServerHttp2Stream).id} of the page's session; ${tlsConnections.length} TLS connection(s), ${sessions.length} session(s)`);
    t.diagnostic(`User-Agent: ${String(side.request.headers['user-agent'])}`);
    await call(page, 'close', 'page-closes', 4000, 'page says goodbye');
    const pageClose = await call<PageClose>(page, 'closed', 'page-closes');
    assert.deepEqual(await side.closed, { code: 4000, reason: 'page says goodbye', wasClean: true });
    // The page gets our echo of its code (RFC 6455 §5.5.1; the server does not echo the reason, as `ws`).
    assert.deepEqual(pageClose, { code: 4000, reason: '', wasClean: true, errors: 0, readyState: 3 });
    const stream = side.ws.socket as unknown as ServerHttp2Stream;
    if (!stream.closed) await once(stream, 'close');
    assert.equal(stream.rstCode, 0, "a clean close: our END_STREAM, then END_STREAM or RST_STREAM NO_ERROR, no error code");
    assert.equal(pageSession?.closed, false, 'the session lives on after the WebSocket');
  });

  it('the server closes with 4001 and a reason: the page\'s close event has them', { skip, timeout: TIMEOUT }, async () => {
    const { side } = await openOverPageSession('server-closes', '/plain');
    await call(page, 'send', 'server-closes', 'close-from-server');
    const pageClose = await call<PageClose>(page, 'closed', 'server-closes');
    assert.deepEqual(pageClose, { code: 4001, reason: 'server says goodbye', wasClean: true, errors: 0, readyState: 3 });
    // Chromium's answering close frame echoes the code (it echoes the reason too; not pinned here).
    const serverClose = await side.closed;
    assert.equal(serverClose.code, 4001);
    assert.equal(serverClose.wasClean, true);
  });

  it('permessage-deflate: Chromium offers it, the server agrees, the page sees it, messages round-trip', { skip, timeout: TIMEOUT }, async (t) => {
    const { side, extensions } = await openOverPageSession('deflate', '/deflate');
    const offer = String(side.request.headers['sec-websocket-extensions']);
    assert.match(offer, /permessage-deflate/);
    assert.match(extensions, /^permessage-deflate/, 'the page\'s ws.extensions shows the agreement');
    assert.equal(side.ws.extensionsHeader, extensions, 'what the page saw is what the server answered');
    t.diagnostic(`Chromium offered "${offer}"; agreed "${extensions}"`);
    await call(page, 'close', 'deflate', 1000, 'done');
    assert.equal((await side.closed).code, 1000);
    assert.equal((await call<PageClose>(page, 'closed', 'deflate')).wasClean, true);
  });

  it('several WebSockets at once share the page\'s session', { skip, timeout: TIMEOUT }, async () => {
    const names = ['many-0', 'many-1', 'many-2'];
    const opened = await Promise.all(names.map((name) => call(page, 'open', name, `wss://127.0.0.1:${new URL(origin).port}/plain?id=${name}`)));
    assert.equal(opened.length, names.length);
    const sides = await Promise.all(names.map((name) => serverSides.get(name)));
    const ids = new Set(sides.map((side) => (side.ws.socket as unknown as ServerHttp2Stream).id));
    assert.equal(ids.size, names.length, 'each WebSocket is its own stream');
    for (const side of sides) assert.equal((side.ws.socket as unknown as ServerHttp2Stream).session, pageSession);
    assert.equal(tlsConnections.length, 1);
    // A graceful shutdown of this path's server reaches every one of them as 1001.
    const closes = names.map((name) => call<PageClose>(page, 'closed', name));
    await new Promise<void>((resolve) => plain.close(() => resolve()));
    for (const close of await Promise.all(closes)) assert.deepEqual(close, { code: 1001, reason: 'Server shutting down', wasClean: true, errors: 0, readyState: 3 });
    assert.equal(pageSession?.closed, false, 'the page\'s session outlives the WebSocketServer');
  });
});

describe('Chromium without SETTINGS_ENABLE_CONNECT_PROTOCOL from the server', () => {
  it('falls back to an HTTP/1.1 upgrade on a new connection', { skip, timeout: TIMEOUT }, async () => {
    const browser = (await launchChromium())!;
    const { key, cert, remove } = selfSignedCertificate();
    remove();
    const server = createSecureServer({ key, cert, allowHTTP1: true }, (_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end(PAGE);
    });
    // noServer: the setting stays off (a WebSocketServer given the server would turn it on).
    const wss = new WebSocketServer({ noServer: true, heartbeat: false });
    const upgrades: IncomingMessage[] = [];
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      upgrades.push(request);
      wss.handleUpgrade(request, socket, head, (ws) => ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary })));
    });
    const tlsConnections: string[] = [];
    server.on('secureConnection', (socket: Socket & { alpnProtocol?: string | false }) => tlsConnections.push(String(socket.alpnProtocol)));
    const sessions: ServerHttp2Session[] = [];
    server.on('session', (session: ServerHttp2Session) => sessions.push(session));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    try {
      const context = await browser.newContext({ ignoreHTTPSErrors: true });
      const page = await context.newPage();
      await page.goto(`https://127.0.0.1:${port}/`);
      assert.equal(await call<string>(page, 'protocol'), 'h2');
      await call(page, 'open', 'fallback', `wss://127.0.0.1:${port}/?id=fallback`);
      const echo = await call<Received>(page, 'roundTrip', 'fallback', { kind: 'text', text: 'over HTTP/1.1' });
      assert.deepEqual(echo, { kind: 'text', text: 'over HTTP/1.1' });
      assert.equal(upgrades.length, 1);
      assert.equal(upgrades[0]!.httpVersion, '1.1');
      assert.deepEqual(tlsConnections, ['h2', 'http/1.1'], 'a second TLS connection, negotiated as HTTP/1.1');
      await call(page, 'close', 'fallback', 1000, '');
      assert.equal((await call<PageClose>(page, 'closed', 'fallback')).code, 1000);
    } finally {
      await browser.close();
      wss.close();
      for (const session of sessions) session.destroy();
      server.close();
    }
  });
});
