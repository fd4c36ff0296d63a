/**
 * Differential tests of the WHATWG `WebSocket`'s events (src/web/websocket.ts): every scenario runs
 * the same client code (test/helpers/web-events.ts) on fullduplex/web, on undici (Node's built-in
 * `WebSocket`) and on Chromium's own `WebSocket`, against the same server, and compares the event
 * logs — type, readyState at dispatch, close code, reason, wasClean, message data, bufferedAmount —
 * plus the frames the server received. A difference fails unless docs/web-api.md ("Events and close
 * codes") lists it with its reason.
 *
 * What the standard says (https://websockets.spec.whatwg.org/ §4): messages are delivered only while
 * OPEN; a connection closes with a `close` event whose code is RFC 6455's "connection close code"
 * (§7.1.5: the code of the peer's close frame, 1005 if it had none, 1006 if none arrived); when the
 * connection was failed (RFC 6455 §7.1.7: a bad handshake, a protocol violation) an `error` event
 * comes first, and no close frame was received from the peer, so the code is 1006 and wasClean false.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { WebSocketServer, type WebSocket as NodeWebSocket } from '../../src/node/index.js';
import { WebSocket } from '../../src/web/index.js';
import { NativeWebSocket } from '../helpers/web-oracle.js';
import { assertSameOrDocumented } from '../helpers/web-differences.js';
import { chromiumSkipReason, launchChromium } from '../helpers/browser.js';
import { selfSignedCertificate, type Certificate } from '../helpers/tls.js';
import { scaled } from '../helpers/time.js';
import { within } from '../helpers/node.js';
import {
  DRIVER_SOURCE,
  closePayload,
  nodeDriver,
  rawServer,
  serverFrame,
  switching,
  type LogEntry,
  type Plan,
  type RawServer,
  type RawScript,
} from '../helpers/web-events.js';

const TIMEOUT = scaled(120_000);

/** Where a scenario connects. */
type Target = 'node' | 'raw' | 'tls' | 'refused';

interface Scenario {
  /** The difference id prefix in docs/web-api.md (`events.<id>`, `events.<id>.chromium`). */
  id: string;
  target: Target;
  /** The request path (the query `?id=` is added per client). */
  path: string;
  plan: Plan;
  /** Compare the frames the server received too. */
  peer?: boolean;
  /**
   * False when the outcome depends on timing in a browser: Chromium parses frames in its network
   * process, in parallel with the page, so which side's close frame goes out first is a race there.
   */
  chromium?: false;
}

const BAD_UTF8 = Buffer.from([0x61, 0xff, 0xfe]);

/** The raw server's scripts (the malformed and the exact-byte cases). */
const RAW_SCRIPTS: Record<string, RawScript> = {
  // Handshakes the client must refuse (§2 "establish a WebSocket connection", RFC 6455 §4.1).
  '/forbidden': { response: () => 'HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n' },
  '/bad-accept': { response: () => switching('dGhpcyBpcyBub3QgdGhlIGFjY2VwdCB2YWx1ZT0=') },
  '/no-subprotocol': { response: (accept) => switching(accept) },
  '/other-subprotocol': { response: (accept) => switching(accept, ['Sec-WebSocket-Protocol: other']) },
  '/unknown-extension': { response: (accept) => switching(accept, ['Sec-WebSocket-Extensions: x-unknown']) },
  // Never answers: the client stays CONNECTING until it gives up.
  '/silent': { response: () => '' },
  // Closing handshakes started by the server.
  '/close-no-code': { response: (accept) => switching(accept), afterHandshake: (socket) => socket.write(serverFrame(8)) },
  '/messages-then-close': {
    response: (accept) => switching(accept),
    afterHandshake: (socket) =>
      socket.write(Buffer.concat([serverFrame(1, 'one'), serverFrame(2, Buffer.from([1, 2])), serverFrame(1, 'two'), serverFrame(8, closePayload(1000, 'done'))])),
  },
  // Both sides start the closing handshake: the server's close frame comes with the 101 response.
  '/close-with-response': {
    response: (accept) => switching(accept) + serverFrame(8, closePayload(4002, 'server first')).toString('latin1'),
  },
  // Messages that arrive after the client's close(): the answer to its close frame is two messages, then the echo.
  '/late-messages': {
    response: (accept) => switching(accept),
    onClientFrame: (socket, opcode, payload) => {
      if (opcode !== 8) return;
      socket.end(Buffer.concat([serverFrame(1, 'late'), serverFrame(2, Buffer.from([9])), serverFrame(8, payload)]));
    },
  },
  // The connection lost without a closing handshake: a TCP FIN, no close frame.
  '/fin': { response: (accept) => switching(accept), afterHandshake: (socket) => socket.end() },
  // The connection reset (TCP RST) without a closing handshake, once the client's first message shows
  // that it has read the response (a reset may discard data the client has not read yet).
  '/reset': {
    response: (accept) => switching(accept),
    onClientFrame: (socket, opcode) => {
      if (opcode === 1) socket.resetAndDestroy();
    },
  },
  // Our close frame answered by a TCP FIN without the close frame (the default for a client close frame).
  '/fin-on-close': { response: (accept) => switching(accept) },
  '/message-then-fin': { response: (accept) => switching(accept), afterHandshake: (socket) => socket.end(serverFrame(1, 'bye')) },
  // Protocol violations by the server (RFC 6455 §5.2, §5.5.1, §7.4.1, §8.1): the client fails the connection.
  '/rsv1': { response: (accept) => switching(accept), afterHandshake: (socket) => socket.write(serverFrame(1, 'x', 4)) },
  '/bad-opcode': { response: (accept) => switching(accept), afterHandshake: (socket) => socket.write(serverFrame(3, 'x')) },
  '/masked': { response: (accept) => switching(accept), afterHandshake: (socket) => socket.write(Buffer.from([0x81, 0x81, 0, 0, 0, 0, 0x78])) },
  '/invalid-utf8-text': { response: (accept) => switching(accept), afterHandshake: (socket) => socket.write(serverFrame(1, BAD_UTF8)) },
  '/invalid-utf8-reason': { response: (accept) => switching(accept), afterHandshake: (socket) => socket.write(serverFrame(8, closePayload(1000, BAD_UTF8))) },
  '/close-one-byte': { response: (accept) => switching(accept), afterHandshake: (socket) => socket.write(serverFrame(8, Buffer.from([3]))) },
  '/close-1005': { response: (accept) => switching(accept), afterHandshake: (socket) => socket.write(serverFrame(8, closePayload(1005))) },
  '/close-1006': { response: (accept) => switching(accept), afterHandshake: (socket) => socket.write(serverFrame(8, closePayload(1006))) },
  '/close-1015': { response: (accept) => switching(accept), afterHandshake: (socket) => socket.write(serverFrame(8, closePayload(1015))) },
  '/close-999': { response: (accept) => switching(accept), afterHandshake: (socket) => socket.write(serverFrame(8, closePayload(999))) },
};

const SCENARIOS: readonly Scenario[] = [
  // --- closing handshakes we start (§3.1 close()) ---
  { id: 'client-close-code-reason', target: 'node', path: '/echo', plan: { onOpen: [{ close: [4000, 'bye'] }] }, peer: true },
  { id: 'client-close-no-code', target: 'node', path: '/echo', plan: { onOpen: [{ close: [] }] }, peer: true },
  { id: 'client-close-code-only', target: 'node', path: '/echo', plan: { onOpen: [{ close: [1000] }] }, peer: true },
  { id: 'client-close-twice', target: 'node', path: '/echo', plan: { onOpen: [{ close: [4000, 'first'] }, { close: [4001, 'second'] }] }, peer: true },
  {
    id: 'client-close-bad-arguments',
    target: 'node',
    path: '/echo',
    plan: { onOpen: [{ close: [1001] }, { close: [2999] }, { close: [5000] }, { close: [1000, 'x'.repeat(124)] }, { close: [1000, 'é'.repeat(61) + 'x'] }] },
    peer: true,
  },
  { id: 'client-close-surrogate-reason', target: 'node', path: '/echo', plan: { onOpen: [{ close: [4000, 'a\uD800b'] }] }, peer: true },
  { id: 'send-surrogate', target: 'node', path: '/echo', plan: { onOpen: [{ send: 'a\uDC00b\uD83D' }, { close: [1000] }] }, peer: true },
  { id: 'send-while-connecting', target: 'node', path: '/echo', plan: { atStart: [{ send: 'early' }], onOpen: [{ close: [1000] }] }, peer: true },
  {
    id: 'send-once-closing-and-closed',
    target: 'node',
    path: '/echo',
    plan: { onOpen: [{ close: [1000] }, { send: 'abc' }], onClose: [{ send: 'defg' }] },
    peer: true,
  },
  { id: 'messages-after-close-called', target: 'raw', path: '/late-messages', plan: { onOpen: [{ close: [4000, 'go'] }] }, peer: true },
  { id: 'close-while-connecting', target: 'raw', path: '/silent', plan: { atStart: [{ close: [4000, 'never'] }, { close: [] }] } },
  // --- closing handshakes the server starts ---
  { id: 'server-close-code-reason', target: 'node', path: '/server-close', plan: {}, peer: true },
  { id: 'server-close-no-code', target: 'raw', path: '/close-no-code', plan: {}, peer: true },
  { id: 'both-close-at-once', target: 'raw', path: '/close-with-response', plan: { onOpen: [{ close: [4000, 'client'] }] }, peer: true, chromium: false },
  { id: 'server-messages-then-close-one-write', target: 'raw', path: '/messages-then-close', plan: {}, peer: true },
  // --- connections lost or failed ---
  { id: 'server-fin-without-close-frame', target: 'raw', path: '/fin', plan: {}, peer: true },
  { id: 'server-reset-without-close-frame', target: 'raw', path: '/reset', plan: { onOpen: [{ send: 'reset me' }] }, peer: true },
  { id: 'client-close-answered-by-fin', target: 'raw', path: '/fin-on-close', plan: { onOpen: [{ close: [4000, 'bye'] }] }, peer: true },
  { id: 'server-message-then-fin', target: 'raw', path: '/message-then-fin', plan: {}, peer: true },
  { id: 'server-rsv1-without-extension', target: 'raw', path: '/rsv1', plan: {}, peer: true },
  { id: 'server-reserved-opcode', target: 'raw', path: '/bad-opcode', plan: {}, peer: true },
  { id: 'server-masked-frame', target: 'raw', path: '/masked', plan: {}, peer: true },
  { id: 'server-invalid-utf8-text', target: 'raw', path: '/invalid-utf8-text', plan: {}, peer: true },
  { id: 'server-invalid-utf8-close-reason', target: 'raw', path: '/invalid-utf8-reason', plan: {}, peer: true },
  { id: 'server-close-one-byte-payload', target: 'raw', path: '/close-one-byte', plan: {}, peer: true },
  { id: 'server-close-code-1005', target: 'raw', path: '/close-1005', plan: {}, peer: true },
  { id: 'server-close-code-1006', target: 'raw', path: '/close-1006', plan: {}, peer: true },
  { id: 'server-close-code-1015', target: 'raw', path: '/close-1015', plan: {}, peer: true },
  { id: 'server-close-code-999', target: 'raw', path: '/close-999', plan: {}, peer: true },
  // --- handshakes refused ---
  { id: 'handshake-403', target: 'raw', path: '/forbidden', plan: {} },
  { id: 'handshake-wrong-accept', target: 'raw', path: '/bad-accept', plan: {} },
  { id: 'handshake-subprotocol-not-selected', target: 'raw', path: '/no-subprotocol', plan: { protocols: ['chat'] } },
  { id: 'handshake-subprotocol-not-requested', target: 'raw', path: '/other-subprotocol', plan: { protocols: ['chat'] } },
  { id: 'handshake-unknown-extension', target: 'raw', path: '/unknown-extension', plan: {} },
  { id: 'connection-refused', target: 'refused', path: '/', plan: {} },
  { id: 'tls-untrusted-certificate', target: 'tls', path: '/', plan: {} },
];

const IN_CHROMIUM = SCENARIOS.filter((scenario) => scenario.chromium !== false);

/** What one client did in one scenario: its event log, and the frames the server received. */
interface Outcome {
  events: LogEntry[];
  peer?: string[];
}

/** Our WebSocketServer: `/echo` answers each message with "got:" and it; `/server-close` closes with 4001. */
function nodeServerViews(wss: WebSocketServer): (target: string) => Promise<string[]> {
  const views = new Map<string, Promise<string[]>>();
  const waiting = new Map<string, (view: Promise<string[]>) => void>();
  wss.on('connection', (ws: NodeWebSocket, request) => {
    const target = request.url ?? '/';
    const frames: string[] = [];
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => {
      const bytes = Buffer.from(data as Buffer);
      frames.push(isBinary ? `binary:${bytes.toString('hex')}` : `text:${bytes.toString('utf8')}`);
      if (ws.readyState === 1) ws.send(`got:${bytes.toString('utf8')}`);
    });
    const view = new Promise<string[]>((resolve) =>
      ws.once('close', (code: number, reason: Buffer) => {
        frames.push(`close:${code}:${reason.toString('hex')}`);
        resolve(frames);
      }),
    );
    views.set(target, view);
    waiting.get(target)?.(view);
    if (target.startsWith('/server-close')) ws.close(4001, 'server bye');
  });
  return (target) => views.get(target) ?? new Promise<Promise<string[]>>((resolve) => waiting.set(target, resolve)).then((view) => view);
}

describe('WebSocket events in the standard\'s order, on every path (fullduplex/web vs undici vs Chromium)', { timeout: TIMEOUT }, () => {
  let wss: WebSocketServer;
  let nodeView: (target: string) => Promise<string[]>;
  let raw: RawServer;
  let certificate: Certificate;
  let tlsServer: TlsServer;
  let refusedPort: number;

  before(async () => {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1', heartbeat: false });
    await once(wss, 'listening');
    nodeView = nodeServerViews(wss);
    raw = await rawServer(RAW_SCRIPTS);
    certificate = selfSignedCertificate();
    // A TLS server the clients cannot trust (self-signed): the TLS handshake fails before any HTTP.
    tlsServer = createTlsServer({ key: certificate.key, cert: certificate.cert }, (socket) => socket.end());
    tlsServer.on('tlsClientError', () => {});
    tlsServer.listen(0, '127.0.0.1');
    await once(tlsServer, 'listening');
    const probe = createNetServer();
    probe.listen(0, '127.0.0.1');
    await once(probe, 'listening');
    refusedPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  });

  after(async () => {
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    await raw.close();
    await new Promise<void>((resolve) => tlsServer.close(() => resolve()));
    certificate.remove();
  });

  function urlFor(scenario: Scenario, client: string): { url: string; target: string } {
    const target = `${scenario.path}?id=${scenario.id}-${client}`;
    switch (scenario.target) {
      case 'node':
        return { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}${target}`, target };
      case 'raw':
        return { url: `ws://127.0.0.1:${raw.port}${target}`, target };
      case 'tls':
        return { url: `wss://127.0.0.1:${(tlsServer.address() as AddressInfo).port}${target}`, target };
      case 'refused':
        return { url: `ws://127.0.0.1:${refusedPort}${target}`, target };
    }
  }

  async function peerOf(scenario: Scenario, target: string): Promise<string[] | undefined> {
    if (scenario.peer !== true) return undefined;
    if (scenario.target === 'node') return within(nodeView(target), `the server's view of ${target}`);
    return (await within(raw.view(target), `the raw server's view of ${target}`)).frames;
  }

  async function runInNode(scenario: Scenario, client: 'ours' | 'undici'): Promise<Outcome> {
    const { url, target } = urlFor(scenario, client);
    const events = await within(nodeDriver()(client === 'ours' ? WebSocket : NativeWebSocket, url, scenario.plan), `${scenario.id} on ${client}`);
    const peer = await peerOf(scenario, target);
    return peer === undefined ? { events } : { events, peer };
  }

  const ours = new Map<string, Outcome>();

  describe('fullduplex/web and undici, scenario by scenario', () => {
    for (const scenario of SCENARIOS) {
      it(`${scenario.id}: the same events, codes and frames as undici, or a documented difference`, async () => {
        const mine = await runInNode(scenario, 'ours');
        ours.set(scenario.id, mine);
        const theirs = await runInNode(scenario, 'undici');
        assertSameOrDocumented(`events.${scenario.id}`, mine, theirs, 'undici');
      });
    }
  });

  describe('Chromium, every scenario in one page', { skip: chromiumSkipReason() }, () => {
    let browser: Browser | null = null;
    let page: Page;
    let pageServer: HttpServer;
    const chromium = new Map<string, Outcome>();

    before(async () => {
      browser = await launchChromium();
      if (browser === null) return;
      pageServer = createHttpServer((_request, response) => {
        response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
        response.end(`<!doctype html><meta charset="utf-8"><title>events</title><script>${DRIVER_SOURCE}; window.runScenario = runScenario;</script>`);
      });
      pageServer.listen(0, '127.0.0.1');
      await once(pageServer, 'listening');
      page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${(pageServer.address() as AddressInfo).port}/`);
      // One evaluate runs every scenario, one after the other.
      const batch = IN_CHROMIUM.map((scenario) => ({ id: scenario.id, url: urlFor(scenario, 'chromium').url, plan: scenario.plan }));
      const logs = (await page.evaluate(
        `(async (batch) => { const out = {}; for (const s of batch) out[s.id] = await window.runScenario(WebSocket, s.url, s.plan); return out; })(${JSON.stringify(batch)})`,
      )) as Record<string, LogEntry[]>;
      for (const scenario of IN_CHROMIUM) {
        const peer = await peerOf(scenario, urlFor(scenario, 'chromium').target);
        chromium.set(scenario.id, peer === undefined ? { events: logs[scenario.id]! } : { events: logs[scenario.id]!, peer });
      }
    });

    after(async () => {
      await browser?.close();
      if (pageServer !== undefined) {
        pageServer.closeAllConnections();
        await new Promise<void>((resolve) => pageServer.close(() => resolve()));
      }
    });

    for (const scenario of IN_CHROMIUM) {
      it(`${scenario.id}: the same events, codes and frames as Chromium, or a documented difference`, async () => {
        const mine = ours.get(scenario.id);
        assert.ok(mine !== undefined, `${scenario.id} did not run on fullduplex/web`);
        assertSameOrDocumented(`events.${scenario.id}.chromium`, mine, chromium.get(scenario.id), 'Chromium');
      });
    }
  });
});
