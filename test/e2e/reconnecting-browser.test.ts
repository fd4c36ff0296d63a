/**
 * The browser build of ReconnectingWebSocket in a real browser (Chromium): the test compiles
 * src/browser with the build's own settings (tsconfig.build.json) into a temporary dist/, serves it,
 * and a page imports it as a plain ES module from the path the package's "./browser" export names —
 * what ships, loaded as a browser loads it (no bundler: every import must resolve as written). The page
 * connects over the browser's own WebSocket; the test stops the server (1001) and restarts it on the
 * same port; the page goes through failed attempts (Chromium's error + close 1006), queues what it
 * sends meanwhile, reconnects, and the server receives the queue in order. Then a final close (4001)
 * ends it with one `close`.
 *
 * Skips (with the Debian package to install) when Chromium is not installed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { WebSocketServer, type WebSocket as ServerSocket } from '../../src/node/index.js';
import { chromiumSkipReason } from '../helpers/browser.js';
import { BrowserBuildPage, pagePoller, ROOT } from '../helpers/browser-build.js';
import { scaled } from '../helpers/time.js';

const skip = chromiumSkipReason();
const TIMEOUT = scaled(120_000);

/** The page's driver: plain JavaScript; `window.rws` is set by the module script once it has loaded. */
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>reconnecting</title></head><body>
<script type="module">
import { ReconnectingWebSocket, ReconnectingEvent, ReconnectedEvent } from '/dist/browser/index.js';
const log = [];
let ws = null;
window.rws = {
  start(url) {
    ws = new ReconnectingWebSocket(url, [], { reconnect: { initialDelay: 50, maxDelay: 400, jitter: 0, queue: { maxMessages: 10, maxBytes: 1000 } } });
    ws.addEventListener('open', () => log.push('open'));
    ws.addEventListener('error', () => log.push('error'));
    ws.addEventListener('message', (event) => log.push('message ' + event.data));
    ws.addEventListener('close', (event) => log.push('close ' + event.code + ' ' + event.reason + ' ' + (event instanceof CloseEvent)));
    ws.addEventListener('reconnecting', (event) => log.push('reconnecting ' + event.detail.attempt + ' ' + event.detail.code + ' ' + (event instanceof ReconnectingEvent)));
    ws.addEventListener('reconnected', (event) => log.push('reconnected ' + event.detail.attempt + ' ' + (event instanceof ReconnectedEvent)));
  },
  send(text) { ws.send(text); },
  trySend(text) { try { ws.send(text); return 'sent'; } catch (error) { return error.name; } },
  state() { return { log: log.slice(), readyState: ws.readyState, bufferedAmount: ws.bufferedAmount, url: ws.url }; },
};
</script></body></html>`;

describe('ReconnectingWebSocket in Chromium (the browser build)', () => {
  const build = new BrowserBuildPage({ html: PAGE, ready: 'window.rws !== undefined', tmpPrefix: 'fullduplex-browser-' });
  before(() => build.open(), { timeout: TIMEOUT });
  after(() => build.close(), { timeout: TIMEOUT });

  it('the "./browser" export names the module the page loaded', { skip }, () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, { default: string; types: string }> };
    assert.deepEqual(manifest.exports['./browser'], { types: './dist/browser/index.d.ts', default: './dist/browser/index.js' });
    assert.ok(existsSync(join(build.outDir, 'dist/browser/index.js')));
    assert.ok(existsSync(join(build.outDir, 'dist/protocol/reconnect-policy.js')));
  });

  it('the server stops and restarts: the page reconnects, and what it sent meanwhile arrives in order', { skip, timeout: TIMEOUT }, async () => {
    const received: string[] = [];
    const sockets: ServerSocket[] = [];
    let port = 0;
    const start = async (): Promise<WebSocketServer> => {
      const wss = new WebSocketServer({ port, host: '127.0.0.1', heartbeat: false });
      await once(wss, 'listening');
      port = (wss.address() as AddressInfo).port;
      wss.on('connection', (ws) => {
        sockets.push(ws);
        ws.on('error', () => {});
        ws.on('message', (data) => {
          received.push(String(data));
          ws.send(`echo ${String(data)}`);
        });
      });
      return wss;
    };
    const stop = (wss: WebSocketServer): Promise<void> => new Promise((resolve) => wss.close(() => resolve()));
    type State = { log: string[]; readyState: number; bufferedAmount: number; url: string };
    const page = build.page;
    const { state, waitFor } = pagePoller<State>(page, 'window.rws.state()');

    let wss = await start();
    await page.evaluate(`window.rws.start(${JSON.stringify(`ws://127.0.0.1:${port}/`)})`);
    await page.evaluate(`window.rws.send('before open')`); // queued: the first connection is not open yet
    await waitFor('the echo', (s) => s.log.includes('message echo before open'));

    await stop(wss); // every client gets 1001 Going Away
    const waiting = await waitFor('a failed attempt', (s) => s.log.includes('reconnecting 2 1006 true'));
    assert.equal(waiting.readyState, 0);
    await page.evaluate(`window.rws.send('q1'); window.rws.send('q2'); window.rws.send('q3')`);
    assert.equal((await state()).bufferedAmount, 6);

    wss = await start();
    try {
      const back = await waitFor('reconnected', (s) => s.log.some((e) => e.startsWith('reconnected')) && s.log.includes('message echo q3'));
      assert.deepEqual(received, ['before open', 'q1', 'q2', 'q3']);
      const log = back.log;
      assert.deepEqual(log.slice(0, 3), ['open', 'message echo before open', 'reconnecting 1 1001 true']);
      // Chromium reports a refused connection as error, then close 1006: each is a failed attempt.
      const between = log.slice(3, log.lastIndexOf('open'));
      between.forEach((entry, i) => assert.equal(entry, i % 2 === 0 ? 'error' : `reconnecting ${(i + 1) / 2 + 1} 1006 true`));
      const attempts = between.length / 2 + 1;
      assert.deepEqual(log.slice(log.lastIndexOf('open')), ['open', `reconnected ${attempts} true`, 'message echo q1', 'message echo q2', 'message echo q3']);
      assert.equal(log.filter((e) => e.startsWith('close')).length, 0, 'no close between connections');
      assert.equal(back.readyState, 1);
      assert.equal(back.url, `ws://127.0.0.1:${port}/`);

      // A final close from the server (4000–4999) ends it: one close, with the platform's CloseEvent.
      sockets.at(-1)!.close(4001, 'go away for good');
      const closed = await waitFor('close', (s) => s.readyState === 3);
      assert.deepEqual(closed.log.filter((e) => e.startsWith('close')), ['close 4001 go away for good true']);
      assert.equal(await page.evaluate(`window.rws.trySend('late')`), 'sent'); // as a closed WebSocket: no exception
      assert.equal(sockets.length, 2);
    } finally {
      await stop(wss);
    }
  });
});
