/**
 * The URL and subprotocol checks shared by the WHATWG constructors (`WebSocket`, `WebSocketStream`):
 * the WebSockets Standard's "get a URL record" and the subprotocol list rules (§3.1 constructor steps
 * 1–9, and the WebSocketStream constructor steps 2–4). Each failure is a "SyntaxError" `DOMException`.
 */
import { isToken } from '../protocol/header-grammar.js';

/**
 * "Get a URL record" for `url`: parse it (Node has no API base URL, so a relative URL fails), map
 * http/https to ws/wss, and refuse any other scheme and any fragment (even an empty one).
 * `context` starts each message, for example "Failed to construct 'WebSocketStream'".
 */
export function getWebSocketURLRecord(url: string, context: string): URL {
  let record: URL;
  try {
    record = new URL(url);
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
 * none may occur twice.
 */
export function checkSubprotocols(protocols: readonly string[], context: string): void {
  const seen = new Set<string>();
  for (const protocol of protocols) {
    if (!isToken(protocol)) throw new DOMException(`${context}: the subprotocol '${protocol}' is invalid.`, 'SyntaxError');
    if (seen.has(protocol)) throw new DOMException(`${context}: the subprotocol '${protocol}' is duplicated.`, 'SyntaxError');
    seen.add(protocol);
  }
}
