/**
 * End to end: the inspector page shows the stats of the server it talks to (`wss.stats()`, pushed over
 * its feed every second), live: `fullduplex serve --mode inspector` as a real process, Chromium tabs on
 * its page. Tab A sees its own connection counted, its message in the server's messages and bytes,
 * tab B's connection arrive without doing anything, and a refused handshake (made from here with a
 * bad version) in the refusals by reason. `GET /metrics` answers the same stats in the Prometheus
 * text format.
 *
 * Screenshot: test-results/inspector/inspector-stats.png. Skips (with the Debian package to install)
 * when Chromium is not installed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { once } from 'node:events';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { chromiumSkipReason, launchChromium } from '../helpers/browser.js';
import { killAll, root, startInspector, type CliProcess } from '../cli/cli-process.js';
import { scaled } from '../helpers/time.js';

const skip = chromiumSkipReason();
const TIMEOUT = scaled(120_000);
const OUTPUT = join(root, 'test-results', 'inspector');

/** The number a stat shows (its `data-value`), or null before the first stats arrived. */
async function stat(page: Page, id: string): Promise<number | null> {
  const value = await page.getAttribute(`#${id}`, 'data-value');
  return value === null ? null : Number(value);
}

/** Wait until the page shows `id` satisfying `test` (the page updates itself every second). */
async function waitForStat(page: Page, id: string, test: (value: number) => boolean, what: string): Promise<number> {
  const deadline = Date.now() + scaled(15_000);
  for (;;) {
    const value = await stat(page, id);
    if (value !== null && test(value)) return value;
    if (Date.now() > deadline) throw new Error(`the page never showed ${what} (#${id} is ${String(value)})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A handshake with Sec-WebSocket-Version 8 (the server answers 426): its status line. */
async function refusedHandshake(port: number): Promise<string> {
  const socket = connect({ port, host: '127.0.0.1' });
  await once(socket, 'connect');
  socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n');
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  await once(socket, 'close');
  return received.split('\r\n', 1)[0] ?? '';
}

describe('the inspector page shows its server\'s stats, live', () => {
  let browser: Browser | null = null;
  let cli: CliProcess | undefined;
  let pageUrl: string;
  let port: number;

  before(
    async () => {
      if (skip !== false) return;
      ({ cli, pageUrl, port } = await startInspector());
      browser = await launchChromium();
      mkdirSync(OUTPUT, { recursive: true });
    },
    { timeout: TIMEOUT },
  );

  after(
    async () => {
      await browser?.close();
      if (cli !== undefined && cli.running) {
        cli.child.kill('SIGTERM');
        await cli.exit().catch(() => {});
      }
      await killAll();
    },
    { timeout: TIMEOUT },
  );

  it('GET /metrics: the stats in the Prometheus text format', { skip, timeout: TIMEOUT }, async () => {
    const response = await fetch(new URL('/metrics', pageUrl));
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    const text = await response.text();
    assert.match(text, /^# HELP fullduplex_connections /m);
    assert.match(text, /^# TYPE fullduplex_connections gauge$/m);
    assert.match(text, /^# TYPE fullduplex_handshakes_total counter$/m);
    assert.match(text, /^fullduplex_connections \d+$/m);
  });

  it('counts this tab, its messages, another tab, and a refused handshake, as they happen', { skip, timeout: TIMEOUT }, async () => {
    const a = await browser!.newPage({ viewport: { width: 1440, height: 900 } });
    const b = await browser!.newPage({ viewport: { width: 1440, height: 900 } });
    for (const page of [a, b]) page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
    await a.goto(pageUrl);
    await a.waitForSelector('#feed-status[data-state=open]');
    // The feed brings the stats at once: nothing is connected to the chat server yet (the feed is not counted).
    await a.waitForSelector('#server-stats[data-state=live]');
    assert.equal(await stat(a, 'stat-connections'), 0);

    await a.fill('#name', 'ada');
    await a.click('#connect');
    await a.waitForSelector('#status[data-state=open]');
    await waitForStat(a, 'stat-connections', (n) => n === 1, 'one connection');
    assert.ok((await stat(a, 'stat-handshakes'))! >= 1);
    assert.ok((await stat(a, 'stat-handshakes-rate'))! > 0);

    const messagesBefore = (await stat(a, 'stat-messages-in'))!;
    const bytesBefore = (await stat(a, 'stat-bytes-in'))!;
    await a.click('label:has(input[value=text]) span');
    await a.fill('#message', 'counted by the server');
    await a.press('#message', 'Enter');
    await waitForStat(a, 'stat-messages-in', (n) => n === messagesBefore + 1, 'the message received');
    await waitForStat(a, 'stat-bytes-in', (n) => n > bytesBefore, 'the bytes received');
    assert.ok((await stat(a, 'stat-messages-out'))! >= 1, 'the room sent the message back');

    // Tab B connects: tab A learns of it without doing anything.
    await b.goto(pageUrl);
    await b.fill('#name', 'grace');
    await b.waitForSelector('#feed-status[data-state=open]');
    await b.click('#connect');
    await b.waitForSelector('#status[data-state=open]');
    await waitForStat(a, 'stat-connections', (n) => n === 2, 'two connections');

    // A refused handshake shows with its status and reason code.
    assert.equal(await refusedHandshake(port), 'HTTP/1.1 426 Upgrade Required');
    await a.waitForSelector('#stat-rejects li[data-status="426"][data-code="FD_ERR_HANDSHAKE_VERSION"]', { timeout: scaled(15_000) });
    assert.match((await a.textContent('#stat-rejects li[data-code="FD_ERR_HANDSHAKE_VERSION"]')) ?? '', /426 FD_ERR_HANDSHAKE_VERSION\s*× 1/);
    assert.equal(await stat(a, 'stat-rejected'), 1);

    // /metrics says the same.
    const metrics = await (await fetch(new URL('/metrics', pageUrl))).text();
    assert.match(metrics, /^fullduplex_connections 2$/m);
    assert.match(metrics, /^fullduplex_handshake_rejects_total\{status="426",code="FD_ERR_HANDSHAKE_VERSION"\} 1$/m);
    await a.screenshot({ path: join(OUTPUT, 'inspector-stats.png') });

    // B leaves: A sees one connection again.
    await b.click('#connect');
    await b.waitForSelector('#status[data-state=closed]');
    await waitForStat(a, 'stat-connections', (n) => n === 1, 'one connection after B left');
    await a.close();
    await b.close();
  });
});
