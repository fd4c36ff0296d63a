/**
 * RFC 6455 §4.1 client requirement 2 ("There MUST be no more than one connection in a CONNECTING
 * state" per remote endpoint), seen from the server: a raw TCP server holds each handshake for a
 * while before answering and records whether a TCP connection arrived while another handshake was
 * still held (`overlapped`). The WHATWG `WebSocket` queues by default, as Chromium does (the same
 * scenario run in Chromium is the oracle); undici (Node's `WebSocket`) does not queue (a documented
 * difference); the ws-shaped client queues only with `queueConnecting: true`, so by default it opens
 * them all at once, as `ws` does (the same scenario run on `ws`).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Browser } from 'playwright-core';
import { WebSocket as WsWebSocket } from 'ws';
import { WebSocket } from '../../src/web/index.js';
import { WebSocket as NodeWebSocket } from '../../src/node/index.js';
import { connectingQueue } from '../../src/node/connecting-queue.js';
import { NativeWebSocket } from '../helpers/web-oracle.js';
import { assertSameOrDocumented } from '../helpers/web-differences.js';
import { chromiumSkipReason, launchChromium } from '../helpers/browser.js';
import { scaled } from '../helpers/time.js';

/**
 * How long the server holds each handshake before answering. A queueing client can never overlap,
 * however long this is; a client that does not queue overlaps as soon as its next connection
 * arrives within the hold, hence the scaling (it is the wait for something to happen).
 */
const HOLD = scaled(200);
const TEST_TIMEOUT = scaled(60_000);

type Answer = '101' | '403' | 'reset';

interface HoldServer {
  port: number;
  url: string;
  /** A TCP connection arrived while another handshake was held (not yet answered). */
  overlapped: boolean;
  /** The request paths, in the order their connections arrived. */
  paths: string[];
  /** The most handshakes held at once. */
  maxHeld: number;
  close(): Promise<void>;
}

function acceptKey(head: string): string {
  const key = /sec-websocket-key:\s*(\S+)/i.exec(head)?.[1] ?? '';
  return createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
}

/** The raw server: the nth connection is answered `answer(n)` after `hold` ms (never, for Infinity). */
async function holdServer(answer: (index: number) => Answer = () => '101', hold = HOLD): Promise<HoldServer> {
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let held = 0;
  let arrived = 0;
  const state: HoldServer = {
    port: 0,
    url: '',
    overlapped: false,
    paths: [],
    maxHeld: 0,
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  const server: Server = createServer((socket) => {
    const index = arrived++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    if (held > 0) state.overlapped = true;
    held++;
    state.maxHeld = Math.max(state.maxHeld, held);
    let head = '';
    let answered = false;
    const finish = (): void => {
      if (answered) return;
      answered = true;
      held--;
    };
    socket.on('close', finish);
    socket.on('data', (chunk: Buffer) => {
      if (head.includes('\r\n\r\n')) return;
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      state.paths.push(head.split(' ')[1] ?? '');
      if (!Number.isFinite(hold)) return;
      const timer = setTimeout(() => {
        timers.delete(timer);
        const kind = answer(index);
        finish();
        if (kind === '403') socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        else if (kind === 'reset') socket.resetAndDestroy();
        else socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(head)}\r\n\r\n`);
      }, hold);
      timers.add(timer);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  state.port = (server.address() as AddressInfo).port;
  state.url = `ws://127.0.0.1:${state.port}`;
  return state;
}

/** Something with the WHATWG shape: `onopen`/`onerror`/`onclose` and `close()`. */
interface WebLike {
  onopen: ((event: Event) => void) | null;
  onerror: ((event: Event) => void) | null;
  onclose: ((event: never) => void) | null;
  close(): void;
}

/** Resolves with 'open' or 'error' (the first of them), and closes an opened socket. */
function webOutcome(ws: WebLike): Promise<string> {
  return new Promise((resolve) => {
    ws.onopen = () => {
      resolve('open');
      ws.close();
    };
    ws.onerror = () => resolve('error');
    ws.onclose = () => resolve('closed');
  });
}

/** The same for the ws-shaped clients (`ws` and ours). */
function nodeOutcome(ws: { on(event: string, listener: (...args: unknown[]) => void): unknown; terminate(): void }): Promise<string> {
  return new Promise((resolve) => {
    ws.on('open', () => {
      resolve('open');
      ws.terminate();
    });
    ws.on('error', () => resolve('error'));
    ws.on('close', () => resolve('closed'));
  });
}

interface Result {
  outcomes: string[];
  overlapped: boolean;
}

/** Open `count` connections to a fresh hold server with `open`, wait for each to open or fail. */
async function scenario(count: number, open: (url: string) => Promise<string>, answer?: (index: number) => Answer, hold?: number): Promise<Result & { paths: string[] }> {
  const server = await holdServer(answer, hold);
  try {
    const ends: Array<Promise<string>> = [];
    for (let i = 0; i < count; i++) ends.push(open(`${server.url}/${i}`));
    const outcomes = await Promise.all(ends);
    return { outcomes, overlapped: server.overlapped, paths: server.paths };
  } finally {
    await server.close();
  }
}

const ours = (options?: object) => (url: string) => webOutcome(new WebSocket(url, [], options) as unknown as WebLike);
const undici = (url: string) => webOutcome(new NativeWebSocket(url) as unknown as WebLike);
const oursNode = (options?: object) => (url: string) => nodeOutcome(new NodeWebSocket(url, { perMessageDeflate: false, ...options }));
const wsPackage = (url: string) => nodeOutcome(new WsWebSocket(url, { perMessageDeflate: false }));

/** The scenario in Chromium: a page opens `count` WebSockets at once and reports how each ended. */
const PAGE_SCRIPT = String.raw`
window.openAll = (base, count) => Promise.all(Array.from({ length: count }, (_, i) => new Promise((resolve) => {
  const ws = new WebSocket(base + '/' + i);
  ws.onopen = () => { resolve('open'); ws.close(); };
  ws.onerror = () => resolve('error');
  ws.onclose = () => resolve('closed');
})));
`;

describe('RFC 6455 §4.1 connecting queue, seen from the server', () => {
  it('three WHATWG WebSockets to one server: one handshake at a time, as in Chromium; undici opens all three at once (documented)', { timeout: TEST_TIMEOUT }, async () => {
    const result = await scenario(3, ours());
    const { outcomes, overlapped } = result;
    assert.deepEqual({ outcomes, overlapped }, { outcomes: ['open', 'open', 'open'], overlapped: false });
    const theirs = await scenario(3, undici);
    assertSameOrDocumented('connecting-queue-three-at-once', { outcomes, overlapped }, { outcomes: theirs.outcomes, overlapped: theirs.overlapped }, 'undici');
    assert.equal(connectingQueue.size, 0);
  });

  it('with queueConnecting: false in the options bag the WHATWG WebSocket opens them all at once', { timeout: TEST_TIMEOUT }, async () => {
    const { outcomes, overlapped } = await scenario(3, ours({ queueConnecting: false }));
    assert.deepEqual({ outcomes, overlapped }, { outcomes: ['open', 'open', 'open'], overlapped: true });
  });

  it('the ws-shaped client does not queue by default, like ws; with queueConnecting: true it does', { timeout: TEST_TIMEOUT }, async () => {
    const ws = await scenario(3, wsPackage);
    const byDefault = await scenario(3, oursNode());
    assert.deepEqual({ outcomes: byDefault.outcomes, overlapped: byDefault.overlapped }, { outcomes: ws.outcomes, overlapped: ws.overlapped });
    assert.equal(byDefault.overlapped, true);
    const queued = await scenario(3, oursNode({ queueConnecting: true }));
    assert.deepEqual({ outcomes: queued.outcomes, overlapped: queued.overlapped }, { outcomes: ['open', 'open', 'open'], overlapped: false });
  });

  for (const failure of ['403', 'reset'] as const) {
    it(`a first connection that fails (${failure === '403' ? 'the server answers 403' : 'the server resets it'}) lets the next one go`, { timeout: TEST_TIMEOUT }, async () => {
      const { outcomes, overlapped } = await scenario(3, ours(), (index) => (index === 0 ? failure : '101'));
      assert.deepEqual({ outcomes, overlapped }, { outcomes: ['error', 'open', 'open'], overlapped: false });
      assert.equal(connectingQueue.size, 0);
    });
  }

  it('20 clients to one server connect one at a time, in the order they were created', { timeout: TEST_TIMEOUT }, async () => {
    const server = await holdServer(() => '101', 20);
    try {
      const ends = Array.from({ length: 20 }, (_, i) => webOutcome(new WebSocket(`${server.url}/${i}`) as unknown as WebLike));
      assert.deepEqual(await Promise.all(ends), Array(20).fill('open'));
      assert.deepEqual(server.paths, Array.from({ length: 20 }, (_, i) => `/${i}`));
      assert.equal(server.maxHeld, 1);
      assert.equal(server.overlapped, false);
      assert.equal(connectingQueue.size, 0);
    } finally {
      await server.close();
    }
  });

  it('a server on another port is not blocked by a handshake that hangs', { timeout: TEST_TIMEOUT }, async () => {
    const hanging = await holdServer(() => '101', Infinity);
    const other = await holdServer(() => '101', 0);
    try {
      const stuck = new WebSocket(`${hanging.url}/stuck`);
      const stuckEnd = webOutcome(stuck as unknown as WebLike);
      const free = new WebSocket(`${other.url}/free`);
      assert.equal(await webOutcome(free as unknown as WebLike), 'open');
      assert.equal(stuck.readyState, WebSocket.CONNECTING);
      // A second connection to the hanging server waits behind the first, and leaves when closed.
      const behind = new WebSocket(`${hanging.url}/behind`);
      const behindEnd = webOutcome(behind as unknown as WebLike);
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.deepEqual(hanging.paths, ['/stuck']);
      behind.close();
      stuck.close();
      assert.deepEqual(await Promise.all([stuckEnd, behindEnd]), ['error', 'error']);
      assert.deepEqual(hanging.paths, ['/stuck'], 'the closed waiter never connected');
      assert.equal(connectingQueue.size, 0);
    } finally {
      await hanging.close();
      await other.close();
    }
  });

  describe('Chromium as the oracle', () => {
    const skip = chromiumSkipReason();
    let browser: Browser | null = null;
    let pageServer: HttpServer;
    let pageUrl = '';

    before(
      async () => {
        if (skip !== false) return;
        browser = await launchChromium();
        pageServer = createHttpServer((_request, response) => {
          response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
          response.end(`<!doctype html><html><head><meta charset="utf-8"></head><body><script>${PAGE_SCRIPT}</script></body></html>`);
        });
        pageServer.listen(0, '127.0.0.1');
        await once(pageServer, 'listening');
        pageUrl = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}/`;
      },
      { timeout: scaled(60_000) },
    );

    after(async () => {
      await browser?.close();
      if (pageServer !== undefined) await new Promise((resolve) => pageServer.close(resolve));
    });

    it('three WebSockets from a page to a server that holds each handshake: the same arrivals as ours', { skip, timeout: TEST_TIMEOUT }, async () => {
      const page = await browser!.newPage();
      try {
        await page.goto(pageUrl);
        const server = await holdServer();
        let chromium: Result;
        try {
          const outcomes = (await page.evaluate(`window.openAll(${JSON.stringify(server.url)}, 3)`)) as string[];
          chromium = { outcomes, overlapped: server.overlapped };
        } finally {
          await server.close();
        }
        const result = await scenario(3, ours());
        assertSameOrDocumented('connecting-queue-chromium-three', { outcomes: result.outcomes, overlapped: result.overlapped }, chromium, 'Chromium');
      } finally {
        await page.close();
      }
    });
  });
});
