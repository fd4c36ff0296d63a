/**
 * The page side of the Chromium end-to-end tests (test/e2e/browser.test.ts over HTTP/1.1,
 * test/e2e/http2-browser.test.ts over HTTP/2): a page whose script drives the browser's own
 * `WebSocket` through `page.evaluate`, and the server side of each connection it opens (named by the
 * `id` query parameter of its URL), with the checks both tests make of an echo.
 */
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Page } from 'playwright-core';
import type { WebSocket, WebSocketServer } from '../../src/node/index.js';

/**
 * The page's script: plain JavaScript run by the browser, driven through `call`. `window.fullduplex`
 * opens named connections, round-trips text and binary (binary given and returned as hex), sends,
 * closes, reports the close event, and says which protocol the page itself came over.
 */
export const PAGE_SCRIPT = String.raw`
'use strict';
function toHex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('');
}
function fromHex(hex) {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return bytes.buffer; // an ArrayBuffer, exactly these bytes
}
const sockets = new Map();
window.fullduplex = {
  /** Open a connection; resolves when open with what was negotiated. */
  async open(name, url, protocols) {
    const ws = new WebSocket(url, protocols);
    ws.binaryType = 'arraybuffer';
    const entry = { ws, inbox: [], waiting: [], errors: 0, closed: null };
    sockets.set(name, entry);
    ws.onmessage = (event) => {
      const item = typeof event.data === 'string'
        ? { kind: 'text', text: event.data }
        : { kind: event.data instanceof ArrayBuffer ? 'arraybuffer' : String(event.data), hex: toHex(event.data) };
      const waiter = entry.waiting.shift();
      if (waiter) waiter.resolve(item); else entry.inbox.push(item);
    };
    ws.onerror = () => { entry.errors++; };
    entry.closed = new Promise((resolve) => {
      ws.onclose = (event) => {
        for (const waiter of entry.waiting.splice(0)) waiter.reject(new Error('closed while waiting for a message'));
        resolve({ code: event.code, reason: event.reason, wasClean: event.wasClean });
      };
    });
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      entry.closed.then((close) => reject(new Error('closed before open: ' + JSON.stringify(close))));
    });
    return { protocol: ws.protocol, extensions: ws.extensions, url: ws.url };
  },
  /** Send text, or binary given as hex (sent as an ArrayBuffer); resolve with the next message. */
  async roundTrip(name, message) {
    const entry = sockets.get(name);
    entry.ws.send(message.kind === 'text' ? message.text : fromHex(message.hex));
    if (entry.inbox.length > 0) return entry.inbox.shift();
    return new Promise((resolve, reject) => entry.waiting.push({ resolve, reject }));
  },
  send(name, text) {
    sockets.get(name).ws.send(text);
  },
  close(name, code, reason) {
    sockets.get(name).ws.close(code, reason);
  },
  /** Resolves with the CloseEvent's code, reason and wasClean, and the number of error events. */
  async closed(name) {
    const entry = sockets.get(name);
    const close = await entry.closed;
    return { ...close, errors: entry.errors, readyState: entry.ws.readyState };
  },
  /** The protocol the page itself came over ('h2', 'http/1.1'). */
  protocol() {
    const entry = performance.getEntriesByType('navigation')[0];
    return entry ? entry.nextHopProtocol : '';
  },
};
`;

/** The page: `PAGE_SCRIPT` under a title. */
export function pageHtml(title: string): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${title}</title></head>
<body><script>${PAGE_SCRIPT}</script></body></html>`;
}

export type Message = { kind: 'text'; text: string } | { kind: 'binary'; hex: string };
/** A message as the page received it: binary as 'arraybuffer' (its binaryType) with the bytes in hex. */
export type Received = { kind: string; text?: string; hex?: string };
/** The page's close event, its error count and the WebSocket's readyState after it. */
export interface PageClose {
  code: number;
  reason: string;
  wasClean: boolean;
  errors: number;
  readyState: number;
}

/** Call `window.fullduplex[method](...args)` in the page (a string expression: no compiled code crosses over). */
export function call<T>(page: Page, method: string, ...args: unknown[]): Promise<T> {
  return page.evaluate(`window.fullduplex.${method}(${args.map((arg) => JSON.stringify(arg)).join(', ')})`) as Promise<T>;
}

/** A deterministic byte pattern (a simple LCG), so failures are reproducible. */
export function pattern(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let state = seed >>> 0;
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state >>> 24;
  }
  return out;
}

/** What the server saw of one WebSocket from the page. */
export interface ServerSide {
  ws: WebSocket;
  request: IncomingMessage;
  headers: IncomingHttpHeaders;
  url: string;
  /** The response lines of the handshake (the `headers` event) just before this connection. */
  responseLines: string[];
  received: Array<{ isBinary: boolean; data: Buffer }>;
  closed: Promise<{ code: number; reason: string; wasClean: boolean | undefined }>;
}

/**
 * The server side of the page's connections, by name (`?id=name`). Tracked servers echo every message,
 * except the text "close-from-server", which they answer by closing with `closeCode` and
 * "server says goodbye".
 */
export class ServerSides {
  readonly #connections = new Map<string, ServerSide>();
  readonly #waiters = new Map<string, (side: ServerSide) => void>();
  readonly #closeCode: number;

  constructor(closeCode: number) {
    this.#closeCode = closeCode;
  }

  /** The server side of the connection the page opened as `?id=name`. */
  get(name: string): Promise<ServerSide> {
    const known = this.#connections.get(name);
    if (known !== undefined) return Promise.resolve(known);
    return new Promise((resolve) => this.#waiters.set(name, resolve));
  }

  track(server: WebSocketServer): void {
    let lastLines: string[] = [];
    server.on('headers', (lines) => {
      lastLines = lines;
    });
    server.on('connection', (ws, request) => {
      const url = request.url ?? '/';
      const name = new URL(url, 'http://x').searchParams.get('id') ?? url;
      const side: ServerSide = {
        ws,
        request,
        headers: request.headers,
        url,
        responseLines: [...lastLines],
        received: [],
        closed: new Promise((resolve) =>
          ws.once('close', (code, reason) => resolve({ code, reason: reason.toString('utf8'), wasClean: ws.closeResult?.wasClean })),
        ),
      };
      ws.on('error', () => {}); // reported through `close` (and asserted there)
      ws.on('message', (data, isBinary) => {
        const bytes = Buffer.from(data as Buffer);
        side.received.push({ isBinary, data: bytes });
        if (!isBinary && bytes.toString('utf8') === 'close-from-server') ws.close(this.#closeCode, 'server says goodbye');
        else ws.send(bytes, { binary: isBinary });
      });
      this.#connections.set(name, side);
      this.#waiters.get(name)?.(side);
    });
  }
}

/**
 * Round-trip every message from the page over connection `name`: each echo is what was sent (binary
 * arrives as an ArrayBuffer), and the server received exactly what the page sent, typed as sent.
 */
export async function echoEach(page: Page, name: string, side: ServerSide, sent: readonly Message[]): Promise<void> {
  for (const message of sent) {
    const echo = await call<Received>(page, 'roundTrip', name, message);
    if (message.kind === 'text') {
      assert.equal(echo.kind, 'text');
      assert.ok(echo.text === message.text, `text echo of ${message.text.length} chars differs`);
    } else {
      assert.equal(echo.kind, 'arraybuffer', 'binary arrives as an ArrayBuffer');
      assert.ok(echo.hex === message.hex, `binary echo of ${message.hex.length / 2} bytes differs`);
    }
  }
  assert.equal(side.received.length, sent.length);
  side.received.forEach((got, i) => {
    const message = sent[i]!;
    assert.equal(got.isBinary, message.kind === 'binary', `message ${i} type`);
    const expected = message.kind === 'text' ? Buffer.from(message.text, 'utf8') : Buffer.from(message.hex, 'hex');
    assert.ok(got.data.equals(expected), `message ${i}: the server received different bytes`);
  });
}
