/**
 * The browser build (src/browser) in a real page, for the Chromium tests of the reconnecting and
 * resuming clients (test/e2e/reconnecting-browser.test.ts, test/e2e/resuming-browser.test.ts): it
 * compiles src/browser with the build's own settings (tsconfig.build.json, the same tsc as `npm run
 * build`) into a temporary dist/, serves the test's page at `/` and the compiled modules under
 * `/dist/`, and opens the page in headless Chromium, which imports the build as plain ES modules from
 * the path the package's "./browser" export names (no bundler: every import must resolve as written).
 *
 *   const build = new BrowserBuildPage({ html: PAGE, ready: 'window.rws !== undefined', tmpPrefix: 'fullduplex-browser-' });
 *   before(() => build.open(), { timeout });     // a no-op when Chromium is not installed (tests skip)
 *   after(() => build.close(), { timeout });
 *   const { state, waitFor } = pagePoller<State>(build.page, 'window.rws.state()');
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from './browser.js';
import { scaled } from './time.js';

/** The repository's root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface BrowserBuildPageOptions {
  /** The page served at `/`: its module script imports '/dist/browser/index.js'. */
  readonly html: string;
  /** A JavaScript expression true once the page's script has loaded (`window.x !== undefined`). */
  readonly ready: string;
  /** The prefix of the temporary directory that holds the build. */
  readonly tmpPrefix: string;
}

/** Chromium with one page that loaded the compiled browser build (see the file's comment). */
export class BrowserBuildPage {
  readonly #options: BrowserBuildPageOptions;
  #browser: Browser | null = null;
  #page: Page | null = null;
  #server: Server | null = null;
  #outDir = '';

  constructor(options: BrowserBuildPageOptions) {
    this.#options = options;
  }

  /** The page (after `open()`, when Chromium is installed). */
  get page(): Page {
    if (this.#page === null) throw new Error('BrowserBuildPage: no page (open() not called, or Chromium is not installed)');
    return this.#page;
  }

  /** The temporary directory: the build is in its dist/ (as the package's dist/). */
  get outDir(): string {
    return this.#outDir;
  }

  /**
   * Launch Chromium (nothing more when it is not installed), compile src/browser into a temporary
   * dist/, serve it with the page, and open the page; fails if the page reports an error or a failed
   * request before it is ready.
   */
  async open(): Promise<void> {
    const browser = await launchChromium();
    this.#browser = browser;
    if (browser === null) return;
    // Compile src/browser as `npm run build` does (same tsc, same tsconfig), into a temporary dist/.
    const outDir = mkdtempSync(join(tmpdir(), this.#options.tmpPrefix));
    this.#outDir = outDir;
    const config = join(outDir, 'tsconfig.json');
    writeFileSync(
      config,
      JSON.stringify({
        extends: join(ROOT, 'tsconfig.build.json'),
        compilerOptions: { outDir: join(outDir, 'dist'), rootDir: join(ROOT, 'src'), typeRoots: [join(ROOT, 'node_modules/@types')], declaration: false, declarationMap: false, sourceMap: false },
        include: [],
        files: [join(ROOT, 'src/browser/index.ts')],
      }),
    );
    await promisify(execFile)(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', config], { cwd: ROOT, timeout: scaled(120_000) });

    const html = this.#options.html;
    const server = createServer((request, response) => {
      const path = new URL(request.url ?? '/', 'http://x').pathname;
      if (path === '/') {
        response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
        response.end(html);
        return;
      }
      const file = normalize(join(outDir, path));
      if (path.startsWith('/dist/') && file.startsWith(join(outDir, 'dist')) && existsSync(file)) {
        response.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8' });
        response.end(readFileSync(file));
        return;
      }
      response.writeHead(404);
      response.end();
    });
    this.#server = server;
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const page = await browser.newPage();
    this.#page = page;
    const failures: string[] = [];
    page.on('pageerror', (error) => failures.push(String(error)));
    page.on('requestfailed', (request) => failures.push(request.url()));
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    await page.waitForFunction(this.#options.ready, undefined, { timeout: scaled(30_000) });
    assert.deepEqual(failures, []);
  }

  /** Close the browser, stop serving, remove the build (whatever `open()` got to). */
  async close(): Promise<void> {
    await this.#browser?.close();
    const server = this.#server;
    if (server !== null) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    if (this.#outDir !== '') rmSync(this.#outDir, { recursive: true, force: true });
  }
}

/**
 * Read the page's state with `expression` (`window.x.state()`, a plain object), and wait for a state
 * that `ready` accepts: polled every 25 ms, for at most scaled(20 s), failing with `what` and the last state.
 */
export function pagePoller<S>(page: Page, expression: string): { state(): Promise<S>; waitFor(what: string, ready: (s: S) => boolean): Promise<S> } {
  const state = (): Promise<S> => page.evaluate(expression) as Promise<S>;
  const waitFor = async (what: string, ready: (s: S) => boolean): Promise<S> => {
    const deadline = Date.now() + scaled(20_000);
    for (;;) {
      const s = await state();
      if (ready(s)) return s;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(s)}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  };
  return { state, waitFor };
}
