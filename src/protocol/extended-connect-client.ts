/**
 * The client's side of the WebSocket handshake over HTTP/2 (RFC 8441): build the extended CONNECT
 * request's header block, and check the server's answer. Sans-I/O: header maps in, header maps out.
 *
 * Differences from HTTP/1.1 (RFC 6455 §4.1), per RFC 8441 §5: the method is CONNECT with a `:protocol`
 * pseudo-header of "websocket"; there is no `Sec-WebSocket-Key`, no `Upgrade`/`Connection`; the
 * answer is any 2xx status (RFC 9113 §8.5: a CONNECT succeeds with a 2xx) and carries no
 * `Sec-WebSocket-Accept`. The subprotocol and extension checks are those of HTTP/1.1.
 */
import { HandshakeError } from './errors.js';
import { WEBSOCKET_VERSION } from './constants.js';
import { formatExtensions, type ExtensionOffer } from './header-grammar.js';
import { acceptedExtensions, checkProtocols, selectedProtocol, type AcceptedHandshake } from './handshake-client.js';
import type { HeaderMap } from './handshake.js';

/** A user header value, as Node's `OutgoingHttpHeaders` holds one. */
export type RequestHeaderValue = string | number | readonly string[] | undefined;

export interface ExtendedConnectOptions {
  /** `:scheme`: "https" for wss://, "http" for ws:// (h2c). */
  readonly scheme: 'https' | 'http';
  /** `:authority`: host[:port] of the target URI (RFC 9113 §8.3.1); a user `Host` header replaces it. */
  readonly authority: string;
  /** `:path`: the path and query of the target URI ("/" at least). */
  readonly path: string;
  /** Subprotocols to offer, in order of preference: distinct tokens. */
  readonly protocols?: readonly string[];
  /** Extension offers, in order of preference. */
  readonly extensions?: readonly ExtensionOffer[];
  /** The `origin` header, when the client sends one (RFC 8441 §5 keeps RFC 6455's `Origin`). */
  readonly origin?: string;
  /** Extra headers from the user: names in any case; connection-specific ones are left out. */
  readonly headers?: Readonly<Record<string, RequestHeaderValue>>;
}

/** The request: the header block to send, and what the response is checked against. */
export interface ExtendedConnectRequest {
  /** Pseudo-headers first, then regular headers; every name in lower case (RFC 9113 §8.2.1). */
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  readonly protocols: readonly string[];
  readonly extensions: readonly ExtensionOffer[];
}

/**
 * Headers a user may give for HTTP/1.1 that have no place in an HTTP/2 request: connection-specific
 * fields (RFC 9113 §8.2.2: a message carrying them is malformed), `Host` (carried by `:authority`,
 * §8.3.1), and the HTTP/1.1 WebSocket handshake's own (`Sec-WebSocket-Key` does not exist over
 * HTTP/2, RFC 8441 §5). `TE` is allowed with the value "trailers" only (§8.2.2).
 */
const DROPPED = new Set(['connection', 'upgrade', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'host', 'sec-websocket-key']);

/** Headers this module sets itself: a user's value is replaced (as the HTTP/1.1 handshake does). */
const OWN = new Set(['sec-websocket-version', 'sec-websocket-protocol', 'sec-websocket-extensions']);

/** Build the extended CONNECT request (RFC 8441 §4, §5). Throws `SyntaxError`/`TypeError` for bad input. */
export function createExtendedConnectRequest(options: ExtendedConnectOptions): ExtendedConnectRequest {
  const protocols = options.protocols ?? [];
  checkProtocols(protocols);
  const extensions = options.extensions ?? [];
  if (options.scheme !== 'https' && options.scheme !== 'http') {
    throw new TypeError(`The :scheme must be "https" or "http" (got ${JSON.stringify(options.scheme)})`);
  }
  if (typeof options.path !== 'string' || !options.path.startsWith('/')) {
    throw new TypeError(`The :path must start with "/" (got ${JSON.stringify(options.path)})`);
  }
  let authority = options.authority;
  const extra: Record<string, string | readonly string[]> = {};
  for (const [rawName, value] of Object.entries(options.headers ?? {})) {
    if (value === undefined) continue;
    const name = rawName.toLowerCase();
    if (name.startsWith(':')) throw new TypeError(`Pseudo-header ${JSON.stringify(rawName)} cannot be set through the headers option`);
    if (name === 'host') {
      // RFC 9113 §8.3.1: the target's authority goes in :authority, which a user Host header names.
      authority = String(Array.isArray(value) ? value[0] : value);
      continue;
    }
    if (DROPPED.has(name) || OWN.has(name)) continue;
    if (name === 'te') {
      if (String(value).trim().toLowerCase() === 'trailers') extra[name] = 'trailers';
      continue;
    }
    extra[name] = typeof value === 'number' ? String(value) : (value as string | readonly string[]);
  }
  if (typeof authority !== 'string' || authority === '') throw new TypeError('The :authority must be a non-empty host[:port]');
  const headers: Record<string, string | readonly string[]> = {
    ':method': 'CONNECT',
    ':protocol': 'websocket',
    ':scheme': options.scheme,
    ':path': options.path,
    ':authority': authority,
    ...extra,
    'sec-websocket-version': String(WEBSOCKET_VERSION),
  };
  if (protocols.length > 0) headers['sec-websocket-protocol'] = protocols.join(', ');
  if (extensions.length > 0) headers['sec-websocket-extensions'] = formatExtensions(extensions);
  if (options.origin !== undefined) headers['origin'] = options.origin;
  return { headers, protocols, extensions };
}

/** The server's response headers, as `ClientHttp2Stream`'s `response` event gives them. */
export type ExtendedConnectResponse = HeaderMap & { readonly ':status'?: string | number | readonly string[] | undefined };

/** The numeric `:status` of a response (0 when missing or not a number). */
export function responseStatus(headers: ExtendedConnectResponse): number {
  const value = headers[':status'];
  const status = Number(Array.isArray(value) ? value[0] : value);
  return Number.isInteger(status) ? status : 0;
}

/**
 * Check the server's answer to `request` (RFC 8441 §5): a 2xx status (RFC 9113 §8.5), the selected
 * subprotocol one of those offered, the accepted extensions ones offered, each once.
 */
export function validateExtendedConnectResponse(headers: ExtendedConnectResponse, request: ExtendedConnectRequest): AcceptedHandshake {
  const status = responseStatus(headers);
  if (status < 200 || status > 299) {
    throw new HandshakeError('FD_ERR_HANDSHAKE_STATUS', status, `Unexpected server response: ${status} (expected a 2xx answer to the extended CONNECT)`);
  }
  return { protocol: selectedProtocol(headers, request.protocols), extensions: acceptedExtensions(headers, request.extensions) };
}
