/**
 * End to end: `fullduplex serve --mode inspector` as a real process, and two Chromium tabs on its page.
 * Both connect to the chat room; tab A's message reaches tab B; tab A's inspector panel shows the
 * opening handshake and every frame both ways with the right opcode, flags and length (text, binary,
 * a server ping and the browser's pong, and the closing handshake as 1000 Normal Closure).
 *
 * Over HTTPS (--tls-cert, HTTP/2 and HTTP/1.1 on one port) a tab's WebSocket travels over HTTP/2 (RFC 8441;
 * Chromium needs no flag) and the inspector shows the extended CONNECT and "HTTP/2 (RFC 8441)".
 *
 * The page's sockets are fullduplex/browser's ReconnectingWebSocket: stopping the server turns the status
 * to "reconnecting" (attempt, delay), and a server started again on the same port gets the page back,
 * chat and inspector feed, with the new connection's handshake shown.
 *
 * Screenshots go to test-results/inspector/. With UPDATE_DOCS_SCREENSHOT=1 the test also writes
 * docs/inspector.png (the picture in docs/cli.md).
 *
 * Skips (with the Debian package to install) when Chromium is not installed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { chromiumSkipReason, launchChromium } from '../helpers/browser.js';
import { killAll, root, startCli, startInspector, type CliProcess } from '../cli/cli-process.js';
import { scaled } from '../helpers/time.js';
import { selfSignedCertificate, type Certificate } from '../helpers/tls.js';

const skip = chromiumSkipReason();
const TIMEOUT = scaled(120_000);
const OUTPUT = join(root, 'test-results', 'inspector');

interface Row {
  dir: string;
  opcode: number;
  length: number;
  fin: string;
  rsv1: string;
  mask: string;
  deflate: string;
  payload: string;
  closeCode: string | undefined;
}

/** The inspector's frame rows, as the page shows them (a string expression: the page has the DOM, this file does not). */
const ROWS = `Array.from(document.querySelectorAll('#frames tr.frame'), (tr) => {
  const cells = Array.from(tr.querySelectorAll('td'), (td) => td.textContent ?? '');
  return {
    dir: tr.dataset.dir ?? '', opcode: Number(tr.dataset.opcode), length: Number(tr.dataset.length),
    fin: cells[3] ?? '', rsv1: cells[4] ?? '', mask: cells[5] ?? '', deflate: cells[7] ?? '', payload: cells[8] ?? '',
    closeCode: tr.dataset.closeCode, hidden: tr.classList.contains('hidden'),
  };
})`;

function rows(page: Page): Promise<Array<Row & { hidden: boolean }>> {
  return page.evaluate(ROWS) as Promise<Array<Row & { hidden: boolean }>>;
}

/** The text of every element matching `selector`. */
function texts(page: Page, selector: string): Promise<string[]> {
  return page.evaluate(`Array.from(document.querySelectorAll(${JSON.stringify(selector)}), (e) => (e.textContent ?? '').toLowerCase())`) as Promise<string[]>;
}

/** Wait until a row matching `match` is there, and return it. */
async function waitForRow(page: Page, match: (row: Row) => boolean, what: string): Promise<Row> {
  const deadline = Date.now() + scaled(15_000);
  for (;;) {
    const found = (await rows(page)).find(match);
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`no inspector row for ${what}; rows: ${JSON.stringify(await rows(page), null, 1)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function sendText(page: Page, text: string): Promise<void> {
  await page.click('label:has(input[value=text]) span');
  await page.fill('#message', text);
  await page.press('#message', 'Enter');
}

async function sendHex(page: Page, hex: string): Promise<void> {
  await page.click('label:has(input[value=hex]) span');
  await page.fill('#message', hex);
  await page.click('#send');
}

/**
 * The end of every describe below: close the browser, stop the CLIs that still run (SIGTERM, then wait
 * for them to exit; anything startCli left is killed), remove the certificate if there was one.
 */
async function shutDown(browser: Browser | null, clis: ReadonlyArray<CliProcess | undefined>, certificate?: Certificate): Promise<void> {
  await browser?.close();
  for (const cli of clis) {
    if (cli !== undefined && cli.running) {
      cli.child.kill('SIGTERM');
      await cli.exit().catch(() => {});
    }
  }
  certificate?.remove();
  await killAll();
}

describe('the inspector page (fullduplex serve --mode inspector) in two Chromium tabs', () => {
  let browser: Browser | null = null;
  let cli: CliProcess;
  let pageUrl: string;
  let a: Page;
  let b: Page;

  before(
    async () => {
      if (skip !== false) return;
      ({ cli, pageUrl } = await startInspector());
      browser = await launchChromium();
      if (browser === null) return;
      mkdirSync(OUTPUT, { recursive: true });
      a = await browser.newPage({ viewport: { width: 1440, height: 900 } });
      b = await browser.newPage({ viewport: { width: 1440, height: 900 } });
      for (const page of [a, b]) page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
      await a.goto(pageUrl);
      await b.goto(pageUrl);
      await a.waitForSelector('#feed-status[data-state=open]');
      await b.waitForSelector('#feed-status[data-state=open]');
    },
    { timeout: TIMEOUT },
  );

  after(() => shutDown(browser, [cli]), { timeout: TIMEOUT });

  it('serves the page: HTML, CSS and the compiled script as an ES module', { skip, timeout: TIMEOUT }, async () => {
    const html = await fetch(pageUrl);
    assert.equal(html.status, 200);
    assert.match(html.headers.get('content-type') ?? '', /^text\/html/);
    const script = await fetch(new URL('/js/app.js', pageUrl));
    assert.equal(script.status, 200);
    assert.match(script.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.doesNotMatch(await script.text(), /\binterface\s+\w+\s*\{/, 'the script is JavaScript, not TypeScript');
    assert.equal((await fetch(new URL('/style.css', pageUrl))).headers.get('content-type'), 'text/css; charset=utf-8');
    assert.equal((await fetch(new URL('/nothing-here', pageUrl))).status, 404);
  });

  it('A and B chat; A sees its handshake and every frame, with opcodes, flags and lengths', { skip, timeout: TIMEOUT }, async () => {
    await a.fill('#name', 'ada');
    await b.fill('#name', 'grace');
    await a.click('#connect');
    await a.waitForSelector('#status[data-state=open]');
    await b.click('#connect');
    await b.waitForSelector('#status[data-state=open]');
    assert.equal(await a.textContent('#fact-protocol'), 'chat');

    // The handshake, as the server saw it: this tab's request and the 101 response.
    await a.waitForFunction(`document.getElementById('response-line')?.textContent?.includes('101') === true`);
    assert.match((await a.textContent('#request-line')) ?? '', /^GET \/\?tap=[\w-]+&name=ada HTTP\/1\.1$/);
    assert.equal(await a.textContent('#response-line'), 'HTTP/1.1 101 Switching Protocols');
    assert.match((await a.textContent('#handshake-summary')) ?? '', /^HTTP\/1\.1 Upgrade · GET \/\?tap=/);
    const requestHeaders = await texts(a, '#request-headers th');
    const responseHeaders = await texts(a, '#response-headers th');
    for (const name of ['sec-websocket-key', 'sec-websocket-version', 'origin', 'upgrade']) assert.ok(requestHeaders.includes(name), name);
    for (const name of ['sec-websocket-accept', 'upgrade', 'connection', 'sec-websocket-protocol']) assert.ok(responseHeaders.includes(name), name);

    // A says hello; B gets it in the room, verbatim.
    const text = 'hello from ada, over the wire';
    await sendText(a, text);
    await b.waitForSelector('#chat-log li.chat-msg[data-from="ada"]');
    assert.equal(await b.textContent('#chat-log li.chat-msg[data-from="ada"] .text'), text);

    // A's inspector: its text frame up (masked, FIN; compressed when Chromium deflated it, with the
    // text the server inflated as the preview)...
    const up = await waitForRow(a, (row) => row.dir === 'up' && row.opcode === 1 && row.payload.includes(text), 'the text frame sent');
    assert.equal(up.fin, '1');
    assert.equal(up.mask, '1');
    if (up.rsv1 === '1') assert.equal(up.deflate, 'compressed');
    else assert.equal(up.length, Buffer.byteLength(text));
    // ...and the room's envelope down (unmasked; small, so not compressed): its length is its size.
    const down = await waitForRow(a, (row) => row.dir === 'down' && row.opcode === 1 && row.payload.includes('"type":"chat"'), 'the chat envelope');
    assert.equal(down.mask, '0');
    assert.equal(down.rsv1, '0');
    const envelope = JSON.parse(down.payload) as { type: string; from: string; text: string; time: string };
    assert.deepEqual({ ...envelope, time: '' }, { type: 'chat', from: 'ada', text, time: '' });
    assert.equal(down.length, Buffer.byteLength(down.payload));

    // Binary, given as hex: echoed to A alone, opcode 2, 6 bytes down.
    await sendHex(a, 'de ad be ef 00 ff');
    await waitForRow(a, (row) => row.dir === 'up' && row.opcode === 2, 'the binary frame sent');
    const binaryDown = await waitForRow(a, (row) => row.dir === 'down' && row.opcode === 2, 'the binary echo');
    assert.equal(binaryDown.length, 6);
    assert.equal(binaryDown.payload, 'de ad be ef 00 ff');

    // Ping from the server (the Ping button asks over the feed), and Chromium's pong.
    await a.click('#ping');
    const ping = await waitForRow(a, (row) => row.dir === 'down' && row.opcode === 9, 'the ping');
    const pong = await waitForRow(a, (row) => row.dir === 'up' && row.opcode === 10, 'the pong');
    assert.equal(ping.length, 'inspector ping'.length);
    assert.equal(pong.length, ping.length);
    assert.equal(pong.payload, 'inspector ping');

    // The filter hides what does not match.
    await a.fill('#filter', 'pong');
    const visible = (await rows(a)).filter((row) => !row.hidden).map((row) => row.opcode);
    assert.deepEqual(visible, [10]);
    await a.fill('#filter', '');
    await a.screenshot({ path: join(OUTPUT, 'inspector-open.png') });
    await b.screenshot({ path: join(OUTPUT, 'inspector-tab-b.png') });

    // Disconnect: the closing handshake, 1000 Normal Closure both ways.
    await a.click('#connect');
    await a.waitForSelector('#status[data-state=closed]');
    const closeUp = await waitForRow(a, (row) => row.dir === 'up' && row.opcode === 8, 'the close frame sent');
    const closeDown = await waitForRow(a, (row) => row.dir === 'down' && row.opcode === 8, 'the close frame answered');
    for (const row of [closeUp, closeDown]) {
      assert.equal(row.closeCode, '1000');
      assert.match(row.payload, /^1000 Normal Closure/);
    }
    assert.match((await a.textContent('#chat-log li.closed')) ?? '', /1000 Normal Closure/);
    await b.waitForSelector('#chat-log li.chat-note >> text=ada left the room');
    await a.screenshot({ path: join(OUTPUT, 'inspector-closed.png') });
  });

  it('a realistic session for the docs (docs/inspector.png with UPDATE_DOCS_SCREENSHOT=1)', { skip, timeout: TIMEOUT }, async () => {
    const page = await browser!.newPage({ viewport: { width: 1440, height: 1000 }, deviceScaleFactor: 1 });
    await page.goto(pageUrl);
    await page.waitForSelector('#feed-status[data-state=open]');
    await page.fill('#name', 'ada');
    await page.click('#connect');
    await page.waitForSelector('#status[data-state=open]');
    if ((await b.getAttribute('#status', 'data-state')) !== 'open') {
      await b.click('#connect');
      await b.waitForSelector('#status[data-state=open]');
    }
    const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
    await sendText(page, 'hello, room');
    await pause(400);
    await sendText(b, 'hi ada! grace here');
    await pause(500);
    await sendHex(page, 'de ad be ef 00 01 02 7f 80 ff');
    await pause(400);
    await page.click('#ping');
    await pause(600);
    await sendText(page, JSON.stringify({ op: 'subscribe', channels: ['prices', 'trades'], since: 1732449000 }));
    for (let i = 0; i < 5; i++) {
      await pause(i % 2 === 0 ? 700 : 300);
      await sendText(b, ['tick', 'the price moved', 'tick', 'ok', 'bye for now'][i]!);
    }
    await pause(600);
    await page.locator('#message').blur();
    await page.waitForFunction(`document.querySelectorAll('#frames tr.frame').length >= 13`);
    await page.screenshot({ path: join(OUTPUT, 'inspector-docs.png') });
    if (process.env['UPDATE_DOCS_SCREENSHOT'] === '1') await page.screenshot({ path: join(root, 'docs', 'inspector.png') });
    await page.close();
  });
});

describe('the inspector page comes back by itself when the server restarts (ReconnectingWebSocket)', () => {
  let browser: Browser | null = null;
  const clis: CliProcess[] = [];

  after(() => shutDown(browser, clis), { timeout: TIMEOUT });

  it('stop the server: the page shows "reconnecting" (attempt, delay); start it on the same port: chat and feed are live again, with a new connection shown', { skip, timeout: TIMEOUT }, async () => {
    const first = startCli('serve', '--mode', 'inspector', '--port', '0');
    clis.push(first);
    const match = await first.waitFor(/Inspector: open (http:\/\/\S+:(\d+)\/) in a browser/);
    const url = match[1]!;
    const port = match[2]!;
    browser = await launchChromium();
    if (browser === null) return;
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(url);
    await page.waitForSelector('#feed-status[data-state=open]');
    await page.fill('#name', 'ada');
    await page.click('#connect');
    await page.waitForSelector('#status[data-state=open]');
    const dividers = `document.querySelectorAll('#frames tr.divider').length`;
    await page.waitForFunction(`${dividers} === 1`);
    await sendText(page, 'before the restart');
    await waitForRow(page, (row) => row.dir === 'up' && row.payload.includes('before the restart'), 'the text frame before the restart');

    // The server goes away (SIGTERM: 1001 Going Away to every client) and stays away.
    first.child.kill('SIGTERM');
    assert.equal((await first.exit()).code, 0);
    await page.waitForSelector('#status[data-state=reconnecting]');
    await page.waitForSelector('#feed-status[data-state=reconnecting]');
    const attempt = Number(await page.getAttribute('#status', 'data-attempt'));
    const delay = Number(await page.getAttribute('#status', 'data-delay'));
    assert.ok(attempt >= 1, `attempt ${attempt}`);
    assert.ok(delay >= 0 && delay <= 5_000, `delay ${delay}`);
    assert.match((await page.textContent('#status-text')) ?? '', /^reconnecting · attempt \d+ in \d+\.\d s$/);
    assert.match((await page.textContent('#chat-log li.lost')) ?? '', /^connection lost: 1001 Going Away/);
    // While away, sending is not possible (nothing is queued silently) and the Connect button disconnects.
    assert.equal(await page.isDisabled('#send'), true);
    assert.equal(await page.textContent('#connect'), 'Disconnect');
    // Failed attempts (connection refused) keep it reconnecting, with the attempt counting up.
    await page.waitForFunction(`Number(document.getElementById('status')?.dataset.attempt) >= ${attempt + 1}`, undefined, { timeout: scaled(30_000) });
    await page.screenshot({ path: join(OUTPUT, 'inspector-reconnecting.png') });

    // Back on the same port: both sockets reconnect; the feed pairs again by the token in its URL.
    const second = startCli('serve', '--mode', 'inspector', '--port', port);
    clis.push(second);
    await second.waitFor(/Inspector: open /);
    await page.waitForSelector('#status[data-state=open]', { timeout: scaled(30_000) });
    await page.waitForSelector('#feed-status[data-state=open]', { timeout: scaled(30_000) });
    await second.waitFor(/\[#1\] open .*name=ada/);
    assert.equal(await page.getAttribute('#status', 'data-attempt'), null);
    assert.match((await page.textContent('#chat-log li.reconnected')) ?? '', /^reconnected after \d+\.\d s \(attempt \d+\)$/);
    // The inspector shows the new connection's handshake (a second divider) and its frames, live.
    await page.waitForFunction(`${dividers} === 2`, undefined, { timeout: scaled(15_000) });
    assert.match((await page.textContent('#request-line')) ?? '', /^GET \/\?tap=[\w-]+&name=ada HTTP\/1\.1$/);
    await sendText(page, 'after the restart');
    await waitForRow(page, (row) => row.dir === 'up' && row.payload.includes('after the restart'), 'the text frame after the restart');
    await waitForRow(page, (row) => row.dir === 'down' && row.payload.includes('after the restart'), 'the room echo after the restart');
    await page.click('#ping');
    await waitForRow(page, (row) => row.dir === 'up' && row.opcode === 10, 'the pong after the restart');
    await page.screenshot({ path: join(OUTPUT, 'inspector-reconnected.png') });
    assert.deepEqual(errors, []);
  });
});

describe('the inspector page over HTTPS: HTTP/2 (RFC 8441) in Chromium', () => {
  let browser: Browser | null = null;
  let cli: CliProcess;
  let certificate: Certificate;

  after(() => shutDown(browser, [cli], certificate), { timeout: TIMEOUT });

  it("a tab's WebSocket goes over the page's HTTP/2 connection, and the inspector shows the extended CONNECT", { skip, timeout: TIMEOUT }, async () => {
    certificate = selfSignedCertificate();
    cli = startCli('serve', '--mode', 'inspector', '--port', '0', '--tls-cert', certificate.certPath, '--tls-key', certificate.keyPath);
    const match = await cli.waitFor(/Inspector: open (https:\/\/\S+:(\d+)\/) in a browser/);
    browser = await launchChromium();
    if (browser === null) return;
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1440, height: 900 } });
    const page = await context.newPage();
    page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
    const response = await page.goto(match[1]!);
    assert.equal(await response?.request().headerValue(':method'), 'GET', 'the page itself came over HTTP/2');
    await page.waitForSelector('#feed-status[data-state=open]');
    await page.fill('#name', 'ada');
    await page.click('#connect');
    await page.waitForSelector('#status[data-state=open]');
    await page.waitForFunction(`document.getElementById('response-line')?.textContent === 'HTTP/2 200'`);
    assert.match((await page.textContent('#request-line')) ?? '', /^CONNECT \/\?tap=[\w-]+&name=ada HTTP\/2$/);
    assert.match((await page.textContent('#handshake-summary')) ?? '', /^HTTP\/2 \(RFC 8441\) · CONNECT \/\?tap=\S+ → 200$/);
    const requestHeaders = await texts(page, '#request-headers th');
    for (const name of [':method', ':protocol', ':scheme', ':path', ':authority', 'sec-websocket-version']) assert.ok(requestHeaders.includes(name), name);
    assert.ok(!requestHeaders.includes('sec-websocket-key'), 'RFC 8441 §5: no Sec-WebSocket-Key');
    const responseHeaders = await texts(page, '#response-headers th');
    assert.equal(responseHeaders[0], ':status');
    assert.ok(!responseHeaders.includes('sec-websocket-accept'));
    // The server's log agrees: the connection came over HTTP/2.
    await cli.waitFor(/\[#1\] open .*name=ada protocol=chat http=2\n/);

    const text = 'hello over an HTTP/2 stream';
    await sendText(page, text);
    await waitForRow(page, (row) => row.dir === 'up' && row.opcode === 1 && row.payload.includes(text), 'the text frame sent');
    await waitForRow(page, (row) => row.dir === 'down' && row.opcode === 1 && row.payload.includes('"type":"chat"'), 'the chat envelope');
    await page.screenshot({ path: join(OUTPUT, 'inspector-http2.png') });
    await page.click('#connect');
    await page.waitForSelector('#status[data-state=closed]');
    const closeDown = await waitForRow(page, (row) => row.dir === 'down' && row.opcode === 8, 'the close frame answered');
    assert.equal(closeDown.closeCode, '1000');
  });
});
