/**
 * The URL and subprotocol checks shared by the WHATWG constructors (`WebSocket`, `WebSocketStream`):
 * the WebSockets Standard's "get a URL record" (with the API base URL) and the subprotocol list rules (§3.1 constructor steps
 * 1–9, and the WebSocketStream constructor steps 2–4). Each failure is a "SyntaxError" `DOMException`.
 */
import { isToken } from '../protocol/header-grammar.js';

import { toUSVString } from './webidl.js';

/**
 * "Get a URL record" for `url`: parse it against `baseURL` (see `apiBaseURL`; without one a relative
 * URL fails), map http/https to ws/wss, and refuse any other scheme and any fragment (even an empty
 * one). `context` starts each message, for example "Failed to construct 'WebSocketStream'".
 */
export function getWebSocketURLRecord(url: string, context: string, baseURL?: string): URL {
  let record: URL;
  try {
    record = new URL(url, baseURL);
  } catch {
    throw new DOMException(`${context}: the URL '${url}' is invalid.`, 'SyntaxError');
  }
  if (record.protocol === 'http:') record.protocol = 'ws:';
  else if (record.protocol === 'https:') record.protocol = 'wss:';
  if (record.protocol !== 'ws:' && record.protocol !== 'wss:') {
    throw new DOMException(
      `${context}: the URL's scheme must be 'ws', 'wss', 'http' or 'https'; '${record.protocol.slice(0, -1)}' is not allowed.`,
      'SyntaxError',
    );
  }
  // A fragment, even an empty one ("ws://host/#"), is non-null; the serializer writes "#" only then.
  if (record.href.includes('#')) {
    throw new DOMException(`${context}: the URL contains a fragment identifier ('${record.hash}').`, 'SyntaxError');
  }
  return record;
}

/**
 * Each subprotocol must be an HTTP token (RFC 6455 §4.1, the `Sec-WebSocket-Protocol` elements), and
 * none may occur twice. Twice is compared ASCII case-insensitively ("chat" and "Chat" are one), as
 * the web-platform test Create-protocols-repeated-case-insensitive and undici (Node's own WebSocket)
 * do; Chromium and Firefox still accept such pairs (whatwg/websockets#47), listed in docs/web-api.md.
 */
export function checkSubprotocols(protocols: readonly string[], context: string): void {
  const seen = new Set<string>();
  for (const protocol of protocols) {
    if (!isToken(protocol)) throw new DOMException(`${context}: the subprotocol '${protocol}' is invalid.`, 'SyntaxError');
    // A token is ASCII, so toLowerCase() folds exactly the ASCII letters.
    const folded = protocol.toLowerCase();
    if (seen.has(folded)) throw new DOMException(`${context}: the subprotocol '${protocol}' is duplicated.`, 'SyntaxError');
    seen.add(folded);
  }
}

/**
 * The API base URL a relative `url` resolves against (WebSockets Standard §3.1 constructor step 1). A
 * browser page has one; Node has none. We take the non-standard `baseURL` option, else
 * `globalThis.location.href` where an environment defines it (Deno with `--location`, jsdom-like
 * globals), else none. A `baseURL` that is not an absolute URL is a TypeError.
 */
export function apiBaseURL(given: unknown, context: string): string | undefined {
  if (given !== undefined) {
    const base = toUSVString(given, `${context}: options.baseURL`);
    if (!URL.canParse(base)) throw new TypeError(`${context}: options.baseURL '${base}' is not an absolute URL.`);
    return base;
  }
  let href: unknown;
  try {
    href = (globalThis as { location?: { href?: unknown } }).location?.href;
  } catch {
    // Deno's `location` getter throws when no --location was given: no base URL.
    return undefined;
  }
  return typeof href === 'string' && URL.canParse(href) ? href : undefined;
}
