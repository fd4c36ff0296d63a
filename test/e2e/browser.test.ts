/**
 * End to end with a real browser: headless Chromium loads a page from an http origin, and the page's
 * script uses the browser's own `WebSocket` against our `WebSocketServer`. Text and binary echo (the
 * bytes checked on both sides), the closing handshake started by either side with code 4000 and a
 * reason, a graceful server shutdown (1001), and what the browser's handshake request carries (Origin,
 * the permessage-deflate offer that the server must decline by not answering it).
 *
 * Skips (with the Debian package to install) when Chromium is not installed; nothing else skips.
 */
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { WebSocketServer } from '../../src/node/index.js';
import { chromiumSkipReason, launchChromium } from '../helpers/browser.js';
import { call, echoEach, pageHtml, pattern, ServerSides, type Message, type PageClose, type Received, type ServerSide } from '../helpers/browser-page.js';
import { scaled } from '../helpers/time.js';

const skip = chromiumSkipReason();
const TIMEOUT = scaled(120_000);

const PAGE = pageHtml('fullduplex e2e');

const TEXTS = ['hello', '', 'héllo wörld — 你好 — 🦄 — \u{10FFFF}', 'x'.repeat(125), 'long: ' + 'abcdefghij'.repeat(10_000)];
const BINARIES = [
  Buffer.from([0, 1, 2, 0xfe, 0xff]),
  Buffer.alloc(0),
  Buffer.from(Array.from({ length: 256 }, (_, i) => i)), // every byte value, 16-bit length
  pattern(70_000, 4000), // 64-bit length
];

describe('a real browser (Chromium) against WebSocketServer', () => {
  let browser: Browser | null = null;
  let page: Page;
  let pageServer: Server;
  let pageOrigin: string;
  let wss: WebSocketServer;
  let wsPort: number;
  const sides = new ServerSides(4000);

  before(
    async () => {
      browser = await launchChromium();
      if (browser === null) return; // every test skips

      pageServer = createServer((request, response) => {
        if (request.url === '/' || request.url?.startsWith('/?')) {
          response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
          response.end(PAGE);
        } else {
          response.writeHead(404);
          response.end();
        }
      });
      pageServer.listen(0, '127.0.0.1');
      await once(pageServer, 'listening');
      pageOrigin = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}`;

      wss = new WebSocketServer({ port: 0, host: '127.0.0.1', heartbeat: false, handleProtocols: (protocols) => (protocols.has('chat') ? 'chat' : false) });
      await once(wss, 'listening');
      wsPort = (wss.address() as AddressInfo).port;
      sides.track(wss);

      page = await browser.newPage();
      await page.goto(`${pageOrigin}/`);
      assert.equal(await page.evaluate('location.origin'), pageOrigin);
    },
    { timeout: TIMEOUT },
  );

  after(
    async () => {
      await browser?.close();
      if (wss !== undefined) await new Promise<void>((resolve) => wss.close(() => resolve()));
      if (pageServer !== undefined) {
        pageServer.closeAllConnections();
        await new Promise<void>((resolve) => pageServer.close(() => resolve()));
      }
    },
    { timeout: TIMEOUT },
  );

  /** Open from the page, echo every text and binary message, and check both sides saw the same bytes. */
  async function openAndEcho(t: TestContext, name: string, port = wsPort, extensions = ''): Promise<ServerSide> {
    const opened = await call<{ protocol: string; extensions: string; url: string }>(page, 'open', name, `ws://127.0.0.1:${port}/echo?id=${name}`, ['chat', 'superchat']);
    const side = await sides.get(name);

    // The negotiation, as the browser saw it: our chosen subprotocol, and the extension we agreed to.
    assert.equal(opened.protocol, 'chat');
    assert.equal(opened.extensions, extensions);
    assert.equal(side.ws.protocol, 'chat');
    assert.equal(side.ws.extensionsHeader, extensions);

    // What the browser sent: its page's origin, and an extension offer the server leaves unanswered.
    const headers = side.headers;
    assert.equal(headers['origin'], pageOrigin);
    assert.equal(headers['sec-websocket-version'], '13');
    assert.equal(headers['sec-websocket-protocol'], 'chat, superchat');
    assert.match(String(headers['user-agent']), /Chrome\//);
    const offer = headers['sec-websocket-extensions'];
    assert.equal(typeof offer, 'string', 'Chromium offers an extension');
    assert.match(offer as string, /permessage-deflate/);
    const answered = side.responseLines.find((line) => /^sec-websocket-extensions:/i.test(line));
    if (extensions === '') assert.equal(answered, undefined, `the 101 response must not answer the extension offer: ${JSON.stringify(side.responseLines)}`);
    else assert.equal(answered, `Sec-WebSocket-Extensions: ${extensions}`);
    t.diagnostic(`Chromium offered Sec-WebSocket-Extensions: ${offer as string}`);
    t.diagnostic(`Origin: ${String(headers['origin'])}; User-Agent: ${String(headers['user-agent'])}`);

    const sent: Message[] = [
      ...TEXTS.map((text): Message => ({ kind: 'text', text })),
      ...BINARIES.map((bytes): Message => ({ kind: 'binary', hex: bytes.toString('hex') })),
    ];
    await echoEach(page, name, side, sent);
    return side;
  }

  it('echoes text and binary; the browser closes with 4000 and a reason', { skip, timeout: TIMEOUT }, async (t) => {
    const side = await openAndEcho(t, 'browser-closes');
    await call(page, 'close', 'browser-closes', 4000, 'browser says goodbye');
    const browserClose = await call<PageClose>(page, 'closed', 'browser-closes');
    const serverClose = await side.closed;

    // The server saw the browser's code and reason, after a clean closing handshake.
    assert.deepEqual(serverClose, { code: 4000, reason: 'browser says goodbye', wasClean: true });
    // The browser got our echo of its code (RFC 6455 §5.5.1; the reason is not echoed) and a clean close.
    assert.equal(browserClose.code, 4000);
    assert.equal(browserClose.wasClean, true);
    assert.equal(browserClose.errors, 0);
    assert.equal(browserClose.readyState, 3);
    t.diagnostic(`browser CloseEvent: ${JSON.stringify(browserClose)}`);
  });

  it('echoes text and binary; the server closes with 4000 and a reason', { skip, timeout: TIMEOUT }, async (t) => {
    const side = await openAndEcho(t, 'server-closes');
    await call(page, 'send', 'server-closes', 'close-from-server');
    const browserClose = await call<PageClose>(page, 'closed', 'server-closes');
    const serverClose = await side.closed;

    // The browser saw the server's code and reason, cleanly.
    assert.equal(browserClose.code, 4000);
    assert.equal(browserClose.reason, 'server says goodbye');
    assert.equal(browserClose.wasClean, true);
    assert.equal(browserClose.errors, 0);
    // The server got the browser's answering close frame (Chromium echoes the code) and closed TCP.
    assert.equal(serverClose.code, 4000);
    assert.equal(serverClose.wasClean, true);
    t.diagnostic(`server close event: ${JSON.stringify(serverClose)}`);
  });

  for (const [label, options, agreed] of [
    ['default parameters', {}, 'permessage-deflate'],
    [
      'no context takeover and small windows',
      { serverNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 9 },
      'permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9',
    ],
  ] as const) {
    it(`permessage-deflate with Chromium (${label}): negotiated, and every message round-trips`, { skip, timeout: TIMEOUT }, async (t) => {
      const compressing = new WebSocketServer({
        port: 0,
        host: '127.0.0.1',
        heartbeat: false,
        perMessageDeflate: options,
        handleProtocols: (protocols) => (protocols.has('chat') ? 'chat' : false),
      });
      await once(compressing, 'listening');
      sides.track(compressing);
      const name = `deflate-${label.replace(/\W+/g, '-')}`;
      try {
        const side = await openAndEcho(t, name, (compressing.address() as AddressInfo).port, agreed);
        // Text that compresses well, several times (context takeover, when agreed, carries over).
        const json = JSON.stringify(Array.from({ length: 400 }, (_, i) => ({ id: i, user: `user${i % 17}`, text: 'the quick brown fox', ok: i % 3 === 0 })));
        for (let i = 0; i < 3; i++) {
          const echo = await call<Received>(page, 'roundTrip', name, { kind: 'text', text: json });
          assert.ok(echo.text === json, 'compressed text echo differs');
        }
        t.diagnostic(`negotiated with Chromium: ${agreed}`);
        await call(page, 'close', name, 1000, 'done');
        assert.equal((await side.closed).code, 1000);
      } finally {
        await new Promise<void>((resolve) => compressing.close(() => resolve()));
      }
    });
  }

  it('a graceful server shutdown reaches the browser as 1001', { skip, timeout: TIMEOUT }, async () => {
    const other = new WebSocketServer({ port: 0, host: '127.0.0.1', heartbeat: false });
    await once(other, 'listening');
    const port = (other.address() as AddressInfo).port;
    sides.track(other);
    try {
      await call(page, 'open', 'shutdown', `ws://127.0.0.1:${port}/?id=shutdown`, []);
      const side = await sides.get('shutdown');
      assert.equal(side.ws.protocol, '');
      const stopped = new Promise<void>((resolve) => other.close(() => resolve()));
      const browserClose = await call<PageClose>(page, 'closed', 'shutdown');
      await stopped;
      assert.equal(browserClose.code, 1001);
      assert.equal(browserClose.reason, 'Server shutting down');
      assert.equal(browserClose.wasClean, true);
      assert.equal((await side.closed).code, 1001);
    } finally {
      other.close();
    }
  });
});
