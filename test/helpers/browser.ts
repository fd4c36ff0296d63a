/**
 * A real browser for end-to-end tests: Debian's Chromium (package `chromium`) driven by playwright-core.
 * No browser is ever downloaded: when the executable is missing, `launchChromium()` returns null and
 * tests skip with `CHROMIUM_SKIP` (the one-line notice naming the package to install).
 *
 *   const skip = chromiumSkipReason();             // false, or the notice
 *   it('talks to a browser', { skip }, async () => { const browser = (await launchChromium())!; ... });
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { scaled } from './time.js';

/** The Debian package that provides the browser (`apt-get install -y chromium`). */
export const CHROMIUM_PACKAGE = 'chromium';

/** Where Debian puts the browser; `CHROMIUM_PATH` overrides it. */
export const DEFAULT_CHROMIUM_PATH = '/usr/bin/chromium';

/** The skip notice when the browser is missing. */
export const CHROMIUM_SKIP = `chromium is not installed (Debian package: ${CHROMIUM_PACKAGE})`;

/** Flags for a quiet, headless, sandbox-less run that reaches nothing but what the test serves. */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The browser executable to use, or null when it is not installed. */
export function chromiumPath(): string | null {
  const override = process.env['CHROMIUM_PATH'];
  const path = override !== undefined && override !== '' ? override : DEFAULT_CHROMIUM_PATH;
  return existsSync(path) ? path : null;
}

/** For `it(name, { skip }, ...)`: false when the browser is there, else the notice. */
export function chromiumSkipReason(): string | false {
  if (chromiumPath() !== null) return false;
  const override = process.env['CHROMIUM_PATH'];
  return override !== undefined && override !== '' ? `${CHROMIUM_SKIP}; CHROMIUM_PATH=${override} does not exist` : CHROMIUM_SKIP;
}

/**
 * Launch headless Chromium with a fresh temporary profile (playwright's `launch()` creates one and
 * removes it on `close()`). Null when the browser is not installed; a launch failure throws.
 */
export async function launchChromium(options: { timeout?: number } = {}): Promise<Browser | null> {
  const executablePath = chromiumPath();
  if (executablePath === null) return null;
  return chromium.launch({
    executablePath,
    args: [...CHROMIUM_ARGS],
    timeout: options.timeout ?? scaled(60_000),
  });
}
