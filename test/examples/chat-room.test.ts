/**
 * examples/chat-room as a real process, with two Chromium pages (the example's own page, which imports
 * the package's browser build from dist/): the pages chat; the server process is killed (SIGKILL) and
 * started again on the same port; both pages show that they are reconnecting, reconnect by themselves,
 * and chat again. Skips when Chromium is missing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { chromiumSkipReason, launchChromium } from '../helpers/browser.js';
import { startExample, type RunningExample } from './example-process.js';
import { scaled } from '../helpers/time.js';

const skip = chromiumSkipReason();
const WAIT = { timeout: scaled(30_000) };

const messagesOf = (page: Page): Promise<string[]> => page.$$eval('#messages li', (items) => items.map((item) => item.textContent ?? ''));
const statusOf = (page: Page): Promise<string> => page.$eval('#status', (element) => element.textContent ?? '');

async function say(page: Page, text: string): Promise<void> {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
}

/** Wait until the page lists `line` (or fail with what it has). */
async function waitForLine(page: Page, line: string): Promise<void> {
  try {
    await page.waitForFunction(`[...document.querySelectorAll('#messages li')].some((item) => item.textContent === ${JSON.stringify(line)})`, undefined, WAIT);
  } catch (error) {
    throw new Error(`the page never showed "${line}": it has ${JSON.stringify(await messagesOf(page))}, status "${await statusOf(page)}"`, { cause: error });
  }
}

async function waitForStatus(page: Page, prefix: string): Promise<void> {
  try {
    await page.waitForFunction(`(document.getElementById('status')?.textContent ?? '').startsWith(${JSON.stringify(prefix)})`, undefined, WAIT);
  } catch (error) {
    throw new Error(`the page's status never started with "${prefix}": it is "${await statusOf(page)}"`, { cause: error });
  }
}

describe('examples/chat-room', { skip, timeout: scaled(180_000) }, () => {
  let browser: Browser | null = null;
  let server: RunningExample | undefined;
  const errors: string[] = [];

  before(async () => {
    browser = await launchChromium();
    server = await startExample('examples/chat-room', { env: { PORT: '0' } });
  });
  after(async () => {
    await browser?.close();
    await server?.kill();
  });

  it('two pages chat, the server is killed and restarted on its port, the pages reconnect and chat again', async () => {
    assert.ok(browser !== null && server !== undefined);
    const url = server.urls[0] as string;
    const port = new URL(url).port;
    const open = async (name: string): Promise<Page> => {
      const page = await browser!.newPage();
      page.on('pageerror', (error) => errors.push(`${name}: ${String(error)}`));
      await page.goto(`${url}/?name=${name}`);
      await waitForStatus(page, `connected as ${name}`);
      return page;
    };
    const alice = await open('alice');
    const bob = await open('bob');

    await say(alice, 'hello bob');
    await waitForLine(bob, 'alice: hello bob');
    await say(bob, 'hi alice');
    await waitForLine(alice, 'bob: hi alice');

    // A crash: no close frame, the pages see 1006 and start reconnecting.
    await server.kill();
    await Promise.all([waitForStatus(alice, 'reconnecting'), waitForStatus(bob, 'reconnecting')]);
    server = await startExample('examples/chat-room', { env: { PORT: port } });
    assert.equal(server.urls[0], url);
    await Promise.all([waitForStatus(alice, 'connected as alice'), waitForStatus(bob, 'connected as bob')]);

    await say(alice, 'are you back?');
    await waitForLine(bob, 'alice: are you back?');
    await say(bob, 'yes');
    await waitForLine(alice, 'bob: yes');

    const conversation = ['alice: hello bob', 'bob: hi alice', 'alice: are you back?', 'bob: yes'];
    assert.deepEqual(await messagesOf(alice), conversation);
    assert.deepEqual(await messagesOf(bob), conversation);
    assert.deepEqual(errors, []);

    await server.stop(); // SIGTERM: a clean exit
    server = undefined;
  });
});
