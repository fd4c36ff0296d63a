/**
 * `WebSocketStream` and `WebSocketError` (src/web) against Chromium's own, the browser being the
 * oracle the standard's behaviour is checked with (test/web/websocket-stream.test.ts compares with
 * undici). The very same scenario code (test/helpers/web-stream-scenarios.ts) runs on ours in Node
 * and on Chromium's globals in one page loaded from an http origin on 127.0.0.1, against the same
 * servers; the recorded results must match, unless docs/web-api.md ("WebSocketStream" table) lists
 * the difference with its reason.
 *
 * Skips (with the Debian package to install) when Chromium is not installed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { WebSocketStream, WebSocketError } from '../../src/web/index.js';
import { assertSameOrDocumented } from '../helpers/web-differences.js';
import { chromiumSkipReason, launchChromium } from '../helpers/browser.js';
import { scaled } from '../helpers/time.js';
import { within } from '../helpers/node.js';
import { STREAM_SCENARIOS_SOURCE, STREAM_SCENARIO_IDS, StreamServers, runStreamScenario, type StreamScenarioId } from '../helpers/web-stream-scenarios.js';

const TIMEOUT = scaled(120_000);
/** How long one scenario may take, in Node or in the page. */
const SCENARIO_TIMEOUT = scaled(10_000);

describe('WebSocketStream, differential against Chromium (one page runs every scenario)', { skip: chromiumSkipReason(), timeout: TIMEOUT }, () => {
  let servers: StreamServers;
  let browser: Browser | null = null;
  let pageServer: HttpServer;
  let pageURL: string;
  let chromium: Record<string, unknown> = {};

  before(async () => {
    servers = await new StreamServers().start();
    browser = await launchChromium();
    assert.ok(browser !== null, 'Chromium is installed but did not launch');
    pageServer = createHttpServer((_request, response) => {
      response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
      response.end(`<!doctype html><meta charset="utf-8"><title>WebSocketStream</title><script>${STREAM_SCENARIOS_SOURCE}; window.runStreamScenario = runStreamScenario;</script>`);
    });
    pageServer.listen(0, '127.0.0.1');
    await once(pageServer, 'listening');
    pageURL = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}/page/`;
    const page = await browser.newPage();
    // The scenarios' questions to the servers, answered in Node.
    await page.exposeFunction('fullduplexServer', servers.answer);
    await page.goto(pageURL);
    const targets = servers.targets('chromium', SCENARIO_TIMEOUT);
    // One evaluate runs every scenario, one after the other.
    chromium = (await within(
      page.evaluate(
        `(async (targets, ids) => {
          const env = { ...targets, Stream: WebSocketStream, Error: WebSocketError, server: (op, url) => window.fullduplexServer(op, url) };
          const out = {};
          for (const id of ids) out[id] = await window.runStreamScenario(env, id);
          return out;
        })(${JSON.stringify(targets)}, ${JSON.stringify(STREAM_SCENARIO_IDS)})`,
      ),
      'the page to run every scenario',
      TIMEOUT,
    )) as Record<string, unknown>;
  });

  after(async () => {
    await browser?.close();
    if (pageServer !== undefined) {
      pageServer.closeAllConnections();
      await new Promise<void>((resolve) => pageServer.close(() => resolve()));
    }
    await servers?.stop();
  });

  /** Ours, in Node, on the same servers; with the page's URL as `location` for the constructor checks. */
  async function ours(id: StreamScenarioId): Promise<unknown> {
    const env = { ...servers.targets('ours', SCENARIO_TIMEOUT), Stream: WebSocketStream, Error: WebSocketError, server: servers.answer };
    if (id !== 'stream-constructor-checks') return runStreamScenario(env, id);
    // A page resolves a relative URL against its own; ours takes `globalThis.location` as the base too.
    const globals = globalThis as { location?: unknown };
    globals.location = { href: pageURL };
    try {
      return await runStreamScenario(env, id);
    } finally {
      delete globals.location;
    }
  }

  for (const id of STREAM_SCENARIO_IDS) {
    it(`${id}: the same as Chromium, or a documented difference`, async () => {
      const theirs = chromium[id];
      assert.ok(theirs !== undefined, `${id} did not run in Chromium`);
      assertSameOrDocumented(`${id}.chromium`, await ours(id), theirs, 'Chromium');
    });
  }
});
