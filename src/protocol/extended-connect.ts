/**
 * The server's side of the WebSocket handshake over HTTP/2 (RFC 8441): an extended CONNECT request
 * (`:method CONNECT`, `:protocol websocket`, `:scheme`, `:path`, `:authority`, §4) carrying the same
 * WebSocket headers as RFC 6455 §4.2.1 but no `Sec-WebSocket-Key`, `Upgrade` or `Connection` (§5),
 * answered with a 2xx response and no `Sec-WebSocket-Accept`. The headers are Node's HTTP/2 header
 * objects (lower-case names, pseudo-headers included); nothing here touches a stream.
 */
import { HandshakeError } from './errors.js';
import { singleHeader, type HeaderMap, type ResponseHeaders } from './handshake.js';
import { validateWebSocketFields, type ValidateOptions, type WebSocketFields } from './handshake-server.js';
import { isToken } from './header-grammar.js';

/** The `:protocol` value that bootstraps a WebSocket (RFC 8441 §4, §9.1). */
export const WEBSOCKET_CONNECT_PROTOCOL = 'websocket';

/** An extended CONNECT request that passed validation. */
export interface ValidatedConnect extends WebSocketFields {
  /** `:path`: the request target, path and query (the `url` of an HTTP/1.1 request). */
  readonly path: string;
  /** `:authority`: what HTTP/1.1 carries in `Host`. */
  readonly authority: string;
  /** `:scheme`: "https" or "http". */
  readonly scheme: string;
}

/**
 * Whether the request asks for a WebSocket: `:method CONNECT` with `:protocol websocket` (RFC 8441 §4).
 * A server routes such streams to its WebSocket handling and leaves every other stream alone.
 */
export function isWebSocketConnect(headers: HeaderMap): boolean {
  return headers[':method'] === 'CONNECT' && typeof headers[':protocol'] === 'string' && headers[':protocol'].toLowerCase() === WEBSOCKET_CONNECT_PROTOCOL;
}

/**
 * Validate an extended CONNECT request for a WebSocket (RFC 8441 §4 and §5). Throws `HandshakeError`
 * whose `status` is the response to give:
 * - 405 (with `Allow: CONNECT`) for another method: over HTTP/2 the handshake is a CONNECT;
 * - 400 for a CONNECT without `:protocol` (a plain CONNECT, RFC 9113 §8.5, is not a WebSocket request);
 * - 501 for a `:protocol` other than "websocket" (RFC 9220 §3 asks for 501 for an unknown protocol,
 *   by analogy with RFC 8441, which does not say);
 * - 400 for a missing, empty or repeated `:path`, `:scheme` or `:authority` (RFC 8441 §4: all three are
 *   required with `:protocol`), a `:path` that is neither origin-form nor `*`, or a body announced;
 * - 400 with `Sec-WebSocket-Version: 13` for another version: RFC 6455 §4.4 names 426 as an example,
 *   but a 426 must carry `Upgrade` (RFC 9110 §15.5.22), a header HTTP/2 forbids (RFC 9113 §8.2.2);
 * - 400 for malformed `Sec-WebSocket-Protocol` / `Sec-WebSocket-Extensions`, as over HTTP/1.1.
 */
export function validateExtendedConnect(headers: HeaderMap, options: ValidateOptions = {}): ValidatedConnect {
  const method = singleHeader(headers, ':method').value;
  if (method !== 'CONNECT') {
    throw new HandshakeError('FD_ERR_HANDSHAKE_METHOD', 405, `Method ${method ?? '(none)'} is not allowed; a WebSocket over HTTP/2 is an extended CONNECT request`, { Allow: 'CONNECT' });
  }
  const protocol = singleHeader(headers, ':protocol');
  if (protocol.value === undefined) {
    throw new HandshakeError('FD_ERR_HANDSHAKE_CONNECT_PROTOCOL', 400, 'A CONNECT request without :protocol is not a WebSocket request (RFC 8441 §4)');
  }
  if (protocol.repeated || protocol.value.toLowerCase() !== WEBSOCKET_CONNECT_PROTOCOL) {
    throw new HandshakeError('FD_ERR_HANDSHAKE_CONNECT_PROTOCOL', 501, `The protocol ${JSON.stringify(protocol.value)} is not supported here; expected "websocket"`);
  }
  const path = requiredPseudoHeader(headers, ':path');
  // RFC 9113 §8.3.1: origin-form (starts with "/"), or "*" for OPTIONS; a WebSocket needs a path.
  if (path.charCodeAt(0) !== 0x2f) {
    throw new HandshakeError('FD_ERR_HANDSHAKE_PSEUDO_HEADER', 400, `Invalid :path ${JSON.stringify(path)}: expected a path starting with "/"`);
  }
  const scheme = requiredPseudoHeader(headers, ':scheme');
  const authority = requiredPseudoHeader(headers, ':authority');
  // As over HTTP/1.1: the stream after the response is the WebSocket's, a body has no place before it.
  const contentLength = singleHeader(headers, 'content-length').value;
  if (contentLength !== undefined && contentLength.trim() !== '0') {
    throw new HandshakeError('FD_ERR_HANDSHAKE_BODY', 400, 'The handshake request must not have a body');
  }
  const fields = validateWebSocketFields(headers, options, 400);
  return { ...fields, path, authority, scheme };
}

function requiredPseudoHeader(headers: HeaderMap, name: string): string {
  const header = singleHeader(headers, name);
  if (header.value === undefined || header.value.length === 0 || header.repeated) {
    throw new HandshakeError('FD_ERR_HANDSHAKE_PSEUDO_HEADER', 400, `Missing, empty or repeated ${name} pseudo-header (RFC 8441 §4)`);
  }
  return header.value;
}

/** What the server decided, for the 2xx response. */
export interface ConnectAcceptOptions {
  /** The chosen subprotocol (one the client offered), if any. */
  readonly protocol?: string | undefined;
  /** The accepted extensions, formatted (`permessage-deflate; server_no_context_takeover`). */
  readonly extensions?: string | undefined;
}

/** Headers that are connection-specific and forbidden in HTTP/2 (RFC 9113 §8.2.2). */
const CONNECTION_SPECIFIC = new Set(['connection', 'upgrade', 'keep-alive', 'proxy-connection', 'transfer-encoding']);

/** The first line of the `headers` event's lines for an HTTP/2 response, in place of HTTP/1.1's status line. */
export const HTTP2_ACCEPT_STATUS_LINE = 'HTTP/2 200';

/**
 * The lines of the 200 response (RFC 8441 §5: no `Sec-WebSocket-Accept`), as `Name: value` after a
 * status line, the shape the HTTP/1.1 side gives to `headers` listeners so that they may push more.
 */
export function connectAcceptLines(options: ConnectAcceptOptions): string[] {
  if (options.protocol !== undefined && !isToken(options.protocol)) {
    throw new TypeError(`Invalid subprotocol ${JSON.stringify(options.protocol)}: not an HTTP token`);
  }
  const lines = [HTTP2_ACCEPT_STATUS_LINE];
  if (options.protocol !== undefined) lines.push(`sec-websocket-protocol: ${options.protocol}`);
  if (options.extensions !== undefined && options.extensions.length > 0) lines.push(`sec-websocket-extensions: ${options.extensions}`);
  return lines;
}

/** HTTP/2 response headers: lower-case names (RFC 9113 §8.2), `:status` first. */
export type Http2ResponseHeaders = Record<string, string | number | string[]>;

/**
 * Turn the response lines (after the status line) into an HTTP/2 header object with `:status 200`.
 * Names are lower-cased (RFC 9113 §8.2); a repeated name gathers its values; connection-specific
 * headers, which HTTP/2 forbids (RFC 9113 §8.2.2), and pseudo-headers are dropped. Throws `TypeError`
 * for a line that is not `Name: value` or carries CR, LF or NUL.
 */
export function connectResponseHeaders(lines: readonly string[]): Http2ResponseHeaders {
  const out: Http2ResponseHeaders = { ':status': 200 };
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    const name = colon <= 0 ? '' : line.slice(0, colon).trim().toLowerCase();
    if (!isToken(name) || /[\r\n\0]/.test(line)) throw new TypeError(`Invalid response header line: ${JSON.stringify(line)}`);
    if (CONNECTION_SPECIFIC.has(name)) continue;
    const value = line.slice(colon + 1).trim();
    const previous = out[name];
    if (previous === undefined) out[name] = value;
    else out[name] = Array.isArray(previous) ? [...previous, value] : [String(previous), value];
  }
  return out;
}

/**
 * The headers of a refusal: `:status`, a text body's type, and the rejection's own headers
 * lower-cased, without the connection-specific ones (a `Connection: close` means nothing on a stream).
 */
export function connectRejectionHeaders(status: number, headers: ResponseHeaders = {}): Http2ResponseHeaders {
  const out: Http2ResponseHeaders = { ':status': status, 'content-type': 'text/plain; charset=utf-8' };
  for (const name of Object.keys(headers)) {
    const lower = name.toLowerCase();
    if (CONNECTION_SPECIFIC.has(lower) || lower.startsWith(':')) continue;
    const value = headers[name]!;
    out[lower] = typeof value === 'string' || typeof value === 'number' ? String(value) : [...value];
  }
  return out;
}
