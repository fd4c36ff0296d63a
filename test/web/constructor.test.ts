/**
 * `new WebSocket(url, protocols)` (WebSockets Standard §3.1 constructor steps, fetch's "bad port"),
 * as a table of inputs whose outcome (the exception's name, or 'ok' with the resulting url, and for
 * bad ports the events that follow) is compared with undici's (Node's built-in WebSocket), and, for
 * the rows where implementations disagree (bad ports, duplicates that differ in case), with Chromium.
 * Every connection made goes to 127.0.0.1 and is closed at once (or fails on its own for a bad port).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { WebSocket } from '../../src/web/index.js';
import { NativeWebSocket } from '../helpers/web-oracle.js';
import { assertSameOrDocumented } from '../helpers/web-differences.js';
import { chromiumSkipReason, launchChromium } from '../helpers/browser.js';
import { scaled } from '../helpers/time.js';

type Ctor = new (url: unknown, protocols?: unknown) => globalThis.EventTarget & { url: string; close(): void };

interface Row {
  /** The row's id in docs/web-api.md (prefixed with "ctor "). */
  readonly id: string;
  readonly url: unknown;
  /** Omitted: the constructor gets one argument. */
  readonly protocols?: unknown;
  /** Wait for the connection to fail on its own (a bad port) and record its events. */
  readonly fails?: boolean;
}

const HOST = '127.0.0.1';
const ROWS: readonly Row[] = [
  // schemes
  { id: 'ws', url: `ws://${HOST}:8080/a?b` },
  { id: 'wss', url: `wss://${HOST}:8443/` },
  { id: 'http mapped to ws', url: `http://${HOST}:8080/x` },
  { id: 'https mapped to wss', url: `https://${HOST}:443/x` },
  { id: 'upper-case scheme and host', url: `WS://LOCALHOST:8080` },
  { id: 'URL object', url: new URL(`ws://${HOST}:8080/u`) },
  { id: 'ftp', url: `ftp://${HOST}/` },
  { id: 'file', url: 'file:///tmp/x' },
  { id: 'javascript', url: 'javascript:1' },
  // relative (no base URL in Node) and invalid
  { id: 'relative path', url: '/chat' },
  { id: 'relative word', url: 'chat' },
  { id: 'empty url', url: '' },
  { id: 'invalid host', url: 'ws://[::1' },
  { id: 'symbol url', url: Symbol('u') },
  // fragments
  { id: 'fragment', url: `ws://${HOST}:8080/#frag` },
  { id: 'empty fragment', url: `ws://${HOST}:8080/#` },
  { id: 'escaped hash', url: `ws://${HOST}:8080/%23` },
  // ports: fetch's bad ports fail the connection, allowed ones connect
  { id: 'port 80', url: `ws://${HOST}:80/` },
  { id: 'port 443 on ws', url: `ws://${HOST}:443/` },
  { id: 'bad port 6000', url: `ws://${HOST}:6000/`, fails: true },
  { id: 'bad port 6665', url: `ws://${HOST}:6665/`, fails: true },
  { id: 'bad port 10080', url: `ws://${HOST}:10080/`, fails: true },
  { id: 'bad port 1 on wss', url: `wss://${HOST}:1/`, fails: true },
  { id: 'bad port 6000 on http', url: `http://${HOST}:6000/`, fails: true },
  // protocols
  { id: 'one protocol', url: `ws://${HOST}:8080/`, protocols: 'echo' },
  { id: 'protocol list', url: `ws://${HOST}:8080/`, protocols: ['a', 'b'] },
  { id: 'protocol iterable', url: `ws://${HOST}:8080/`, protocols: new Set(['a', 'b']) },
  { id: 'duplicate protocols', url: `ws://${HOST}:8080/`, protocols: ['echo', 'echo'] },
  { id: 'duplicate protocols differing in case', url: `ws://${HOST}:8080/`, protocols: ['echo', 'eCho'] },
  { id: 'empty protocol string', url: `ws://${HOST}:8080/`, protocols: '' },
  { id: 'empty list', url: `ws://${HOST}:8080/`, protocols: [] },
  { id: 'empty protocol in list', url: `ws://${HOST}:8080/`, protocols: ['a', ''] },
  { id: 'protocol with space', url: `ws://${HOST}:8080/`, protocols: 'a b' },
  { id: 'protocol with comma', url: `ws://${HOST}:8080/`, protocols: 'a,b' },
  { id: 'non-ASCII protocol', url: `ws://${HOST}:8080/`, protocols: 'caf\u00e9' },
  { id: 'symbol protocol', url: `ws://${HOST}:8080/`, protocols: Symbol('p') },
  { id: 'symbol in protocol list', url: `ws://${HOST}:8080/`, protocols: [Symbol('p')] },
  { id: 'null protocols', url: `ws://${HOST}:8080/`, protocols: null },
  { id: 'undefined protocols', url: `ws://${HOST}:8080/`, protocols: undefined },
  { id: 'plain object protocols', url: `ws://${HOST}:8080/`, protocols: {} },
];

/** Rows run in Chromium too (its behaviour is the reference where undici and the standard's text disagree). */
const CHROMIUM_ROWS = new Set([
  'bad port 6000',
  'bad port 6665',
  'bad port 10080',
  'bad port 1 on wss',
  'bad port 6000 on http',
  'port 80',
  'duplicate protocols',
  'duplicate protocols differing in case',
  'plain object protocols',
]);

/** One row on one implementation: the exception's name, or 'ok', the url, and for `fails` rows the events. */
async function outcome(Class: Ctor, row: Row): Promise<unknown> {
  let ws;
  try {
    ws = 'protocols' in row ? new Class(row.url, row.protocols) : new Class(row.url);
  } catch (error) {
    return { threw: (error as Error).name };
  }
  const events: string[] = [];
  const closed = new Promise<void>((resolve) => {
    ws.addEventListener('error', () => events.push('error'));
    ws.addEventListener('open', () => events.push('open'));
    ws.addEventListener('close', (event) => {
      const close = event as Event & { code: number; wasClean: boolean };
      events.push(`close ${close.code} ${close.wasClean}`);
      resolve();
    });
  });
  const url = ws.url;
  if (row.fails !== true) {
    ws.close();
    await closed;
    return { ok: url };
  }
  await closed;
  return { ok: url, events };
}

/** The same in a Chromium page: the row as JSON (a Symbol cannot be among Chromium's rows). */
function chromiumScript(rows: readonly Row[]): string {
  const input = rows.map((row) => ({ id: row.id, url: String(row.url), hasProtocols: 'protocols' in row, protocols: row.protocols instanceof Set ? [...row.protocols] : row.protocols, fails: row.fails === true }));
  return `(async () => {
    const results = {};
    for (const row of ${JSON.stringify(input)}) {
      let ws;
      try {
        ws = row.hasProtocols ? new WebSocket(row.url, row.protocols) : new WebSocket(row.url);
      } catch (error) {
        results[row.id] = { threw: error.name };
        continue;
      }
      const events = [];
      const closed = new Promise((resolve) => {
        ws.onerror = () => events.push('error');
        ws.onopen = () => events.push('open');
        ws.onclose = (event) => { events.push('close ' + event.code + ' ' + event.wasClean); resolve(); };
      });
      const url = ws.url;
      if (!row.fails) ws.close();
      await closed;
      results[row.id] = row.fails ? { ok: url, events } : { ok: url };
    }
    return results;
  })()`;
}

describe('new WebSocket(url, protocols): a table of inputs, side by side with undici and Chromium', { timeout: scaled(120_000) }, () => {
  it('every row: the same outcome as undici, or a difference docs/web-api.md lists', async () => {
    for (const row of ROWS) {
      const ours = await outcome(WebSocket as unknown as Ctor, row);
      const theirs = await outcome(NativeWebSocket as unknown as Ctor, row);
      assertSameOrDocumented(`ctor ${row.id}`, ours, theirs);
    }
  });

  describe('Chromium as the reference for bad ports and duplicate subprotocols', { skip: chromiumSkipReason() }, () => {
    let browser: Browser;
    before(async () => {
      browser = (await launchChromium())!;
    });
    after(async () => {
      await browser?.close();
    });

    it('the rows where implementations disagree: the same outcome as Chromium, or a listed difference', async () => {
      const page = await browser.newPage();
      const rows = ROWS.filter((row) => CHROMIUM_ROWS.has(row.id));
      assert.equal(rows.length, CHROMIUM_ROWS.size);
      const results = (await page.evaluate(chromiumScript(rows))) as Record<string, unknown>;
      for (const row of rows) {
        assertSameOrDocumented(`chromium ctor ${row.id}`, await outcome(WebSocket as unknown as Ctor, row), results[row.id], 'Chromium');
      }
    });
  });

  it('non-standard base URL: options.baseURL, else globalThis.location, resolves a relative url', async () => {
    const ws = new WebSocket('chat?x=1', [], { baseURL: `https://${HOST}:8443/app/` });
    assert.equal(ws.url, `wss://${HOST}:8443/app/chat?x=1`);
    ws.close();
    assert.throws(() => new WebSocket('chat', [], { baseURL: 'not absolute' }), TypeError);
    const globals = globalThis as { location?: unknown };
    const had = Object.getOwnPropertyDescriptor(globals, 'location');
    Object.defineProperty(globals, 'location', { value: { href: `http://${HOST}:8080/dir/page.html` }, configurable: true });
    try {
      const relative = new WebSocket('/socket');
      assert.equal(relative.url, `ws://${HOST}:8080/socket`);
      relative.close();
      // The option wins over location.
      const optioned = new WebSocket('/socket', undefined, { baseURL: `ws://${HOST}:9000/` });
      assert.equal(optioned.url, `ws://${HOST}:9000/socket`);
      optioned.close();
    } finally {
      if (had === undefined) delete globals.location;
      else Object.defineProperty(globals, 'location', had);
    }
    assert.throws(() => new WebSocket('/socket'), (error: unknown) => error instanceof DOMException && error.name === 'SyntaxError');
  });

  it('a bad port never reaches the network: CONNECTING at first, then error and close 1006 (as Chromium)', async () => {
    const ws = new WebSocket(`ws://${HOST}:6000/`, [], { handshakeTimeout: scaled(10_000) });
    assert.equal(ws.readyState, WebSocket.CONNECTING);
    const events: string[] = [];
    ws.onerror = () => events.push('error');
    await new Promise<void>((resolve) => {
      ws.onclose = (event) => {
        events.push(`close ${event.code} ${event.wasClean}`);
        resolve();
      };
    });
    assert.deepEqual(events, ['error', 'close 1006 false']);
  });
});
