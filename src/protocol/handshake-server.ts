/**
 * The server's side of the opening handshake (RFC 6455 §4.2): validate the client's request, answer
 * with the exact HTTP status when it is refused, and build the 101 response when it is accepted.
 */
import { HandshakeError } from './errors.js';
import { WEBSOCKET_VERSION } from './constants.js';
import { HeaderSyntaxError, isToken, listContainsToken, parseExtensions, parseTokenList, type ExtensionOffer } from './header-grammar.js';
import {
  computeAcceptKey,
  formatHeaderLines,
  listHeader,
  singleHeader,
  type HeaderMap,
  type ResponseHeaders,
} from './handshake.js';

/** The parts of an HTTP request the handshake looks at (an `IncomingMessage` fits). */
export interface HandshakeRequest {
  /** The request method (GET required; absent: not checked). */
  readonly method?: string | undefined;
  /** "1.1", as in `IncomingMessage#httpVersion`. */
  readonly httpVersion: string;
  /** The request headers, names in lower case (as Node gives them). */
  readonly headers: HeaderMap;
}

/** A request that passed validation. */
export interface ValidatedRequest {
  /** The client's `Sec-WebSocket-Key` (valid: base64 of 16 bytes), from which the accept value is computed. */
  readonly key: string;
  /** Subprotocols offered, in the client's order of preference. */
  readonly protocols: readonly string[];
  /** Extensions offered, in order (the same extension may appear several times). */
  readonly extensions: readonly ExtensionOffer[];
  /** The `Origin` header (sent by browsers; RFC 6455 §10.2), or undefined. */
  readonly origin: string | undefined;
}

/**
 * `Sec-WebSocket-Key` must be base64 of exactly 16 bytes (RFC 6455 §4.1): 22 base64 characters
 * followed by "==". (Like every common decoder, the 4 unused bits of the last character are ignored.)
 */
export function isValidKey(key: string): boolean {
  if (key.length !== 24 || key.charCodeAt(22) !== 0x3d || key.charCodeAt(23) !== 0x3d) return false;
  for (let i = 0; i < 22; i++) if (BASE64_VALUE[key.charCodeAt(i)] === undefined) return false;
  return true;
}

const BASE64_VALUE: Array<number | undefined> = [];
'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.split('').forEach((ch, value) => {
  BASE64_VALUE[ch.charCodeAt(0)] = value;
});

/** What `validateRequest` looks at beyond RFC 6455's required headers. */
export interface ValidateOptions {
  /**
   * Parse `Sec-WebSocket-Extensions` (a syntax error is a 400). Default true. A server that supports
   * no extension may pass false: the header is then ignored (as `ws` does with compression off) and
   * `extensions` is empty.
   */
  readonly extensions?: boolean;
}

/**
 * Validate an opening handshake request (RFC 6455 §4.2.1). Throws `HandshakeError` whose `status` is
 * the response to give: 405 (with `Allow: GET`) for another method, 426 (with
 * `Sec-WebSocket-Version: 13`) for another protocol version, 400 for anything else malformed.
 */
export function validateRequest(request: HandshakeRequest, options: ValidateOptions = {}): ValidatedRequest {
  const headers = request.headers;

  if (request.method !== undefined && request.method !== 'GET') {
    throw new HandshakeError('FD_ERR_HANDSHAKE_METHOD', 405, `Method ${request.method} is not allowed; the handshake is a GET request`, { Allow: 'GET' });
  }
  if (!isHttp11OrLater(request.httpVersion)) {
    throw new HandshakeError('FD_ERR_HANDSHAKE_HTTP_VERSION', 400, `HTTP/${request.httpVersion} cannot upgrade; HTTP/1.1 or later is required`);
  }
  const host = singleHeader(headers, 'host');
  if (host.value === undefined || host.value.length === 0 || host.repeated) {
    throw new HandshakeError('FD_ERR_HANDSHAKE_HOST', 400, 'Missing or repeated Host header');
  }
  // A GET request with a body cannot be followed by WebSocket frames on the same connection.
  const contentLength = singleHeader(headers, 'content-length');
  if ((contentLength.value !== undefined && contentLength.value.trim() !== '0') || headers['transfer-encoding'] !== undefined) {
    throw new HandshakeError('FD_ERR_HANDSHAKE_BODY', 400, 'The handshake request must not have a body');
  }

  const upgrade = listHeader(headers, 'upgrade');
  if (upgrade === undefined || !upgradeOffersWebSocket(upgrade)) {
    throw new HandshakeError('FD_ERR_HANDSHAKE_UPGRADE', 400, 'Missing or invalid Upgrade header: expected "websocket"');
  }
  const connection = listHeader(headers, 'connection');
  if (connection === undefined || !listContainsToken(connection, 'upgrade')) {
    throw new HandshakeError('FD_ERR_HANDSHAKE_CONNECTION', 400, 'Missing or invalid Connection header: expected a list containing "Upgrade"');
  }

  const fields = validateWebSocketFields(headers, options, 426);
  const key = singleHeader(headers, 'sec-websocket-key');
  if (key.value === undefined || key.repeated || !isValidKey(key.value.trim())) {
    throw new HandshakeError('FD_ERR_HANDSHAKE_KEY', 400, 'Missing, repeated or invalid Sec-WebSocket-Key header: expected base64 of 16 bytes');
  }

  return { key: key.value.trim(), ...fields };
}

/** What both handshakes (HTTP/1.1 Upgrade and HTTP/2 extended CONNECT) carry in the same headers. */
export interface WebSocketFields {
  /** Subprotocols offered, in the client's order of preference. */
  readonly protocols: readonly string[];
  /** Extensions offered, in order (the same extension may appear several times). */
  readonly extensions: readonly ExtensionOffer[];
  /** The `Origin` header (sent by browsers; RFC 6455 §10.2), or undefined. */
  readonly origin: string | undefined;
}

/**
 * The WebSocket headers of an opening handshake, shared by RFC 6455 §4.2.1 and RFC 8441 §5:
 * `Sec-WebSocket-Version` (13; another version is refused with `versionStatus` and
 * `Sec-WebSocket-Version: 13`, RFC 6455 §4.4), `Sec-WebSocket-Protocol`, `Sec-WebSocket-Extensions`,
 * `Origin`. Throws `HandshakeError`.
 */
export function validateWebSocketFields(headers: HeaderMap, options: ValidateOptions, versionStatus: number): WebSocketFields {
  const version = singleHeader(headers, 'sec-websocket-version');
  if (version.value === undefined || version.repeated) {
    throw new HandshakeError('FD_ERR_HANDSHAKE_VERSION', 400, 'Missing or repeated Sec-WebSocket-Version header');
  }
  if (version.value.trim() !== String(WEBSOCKET_VERSION)) {
    // RFC 6455 §4.4: say which versions we speak.
    throw new HandshakeError('FD_ERR_HANDSHAKE_VERSION', versionStatus, `Unsupported WebSocket version ${JSON.stringify(version.value)}; this server speaks version 13`, {
      'Sec-WebSocket-Version': String(WEBSOCKET_VERSION),
    });
  }

  let protocols: string[] = [];
  const protocolHeader = listHeader(headers, 'sec-websocket-protocol');
  if (protocolHeader !== undefined) {
    try {
      protocols = parseTokenList(protocolHeader, 'Sec-WebSocket-Protocol');
    } catch (error) {
      throw new HandshakeError('FD_ERR_HANDSHAKE_PROTOCOL', 400, (error as HeaderSyntaxError).message);
    }
    if (new Set(protocols).size !== protocols.length) {
      throw new HandshakeError('FD_ERR_HANDSHAKE_PROTOCOL', 400, 'Invalid Sec-WebSocket-Protocol header: a subprotocol is offered twice');
    }
  }

  let extensions: ExtensionOffer[] = [];
  const extensionHeader = options.extensions === false ? undefined : listHeader(headers, 'sec-websocket-extensions');
  if (extensionHeader !== undefined) {
    try {
      extensions = parseExtensions(extensionHeader);
    } catch (error) {
      throw new HandshakeError('FD_ERR_HANDSHAKE_EXTENSIONS', 400, (error as HeaderSyntaxError).message);
    }
  }

  const origin = singleHeader(headers, 'origin').value ?? singleHeader(headers, 'sec-websocket-origin').value;
  return { protocols, extensions, origin };
}

/** What the server decided, for the 101 response. */
export interface AcceptOptions {
  /** The client's `Sec-WebSocket-Key` (the 101's `Sec-WebSocket-Accept` is computed from it, RFC 6455 §4.2.2). */
  readonly key: string;
  /** The chosen subprotocol (one the client offered), if any. */
  readonly protocol?: string | undefined;
  /** The accepted extensions, formatted (`permessage-deflate; server_no_context_takeover`). */
  readonly extensions?: string | undefined;
  /** Extra response headers (from the `headers` event, cookies, ...). */
  readonly headers?: ResponseHeaders | undefined;
}

/**
 * The lines of the 101 response (RFC 6455 §4.2.2), status line first, without line ends: a server may
 * add lines (cookies...) before joining them with `formatResponseLines`.
 */
export function acceptResponseLines(options: AcceptOptions): string[] {
  if (options.protocol !== undefined && !isToken(options.protocol)) {
    throw new TypeError(`Invalid subprotocol ${JSON.stringify(options.protocol)}: not an HTTP token`);
  }
  const lines = [
    'HTTP/1.1 101 Switching Protocols',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Accept: ${computeAcceptKey(options.key)}`,
  ];
  if (options.protocol !== undefined) lines.push(`Sec-WebSocket-Protocol: ${options.protocol}`);
  if (options.extensions !== undefined && options.extensions.length > 0) lines.push(`Sec-WebSocket-Extensions: ${options.extensions}`);
  if (options.headers !== undefined) {
    const extra = formatHeaderLines(options.headers);
    if (extra.length > 0) lines.push(...extra.slice(0, -2).split('\r\n'));
  }
  return lines;
}

/** Join response lines into the bytes to write, refusing any line that would smuggle in another. */
export function formatResponseLines(lines: readonly string[]): string {
  for (const line of lines) {
    if (/[\r\n\0]/.test(line)) throw new TypeError(`Invalid response header line: ${JSON.stringify(line)}`);
  }
  return lines.join('\r\n') + '\r\n\r\n';
}

/**
 * The same bytes as `formatResponseLines(acceptResponseLines(options))` without extra headers, built
 * in one concatenation (no array of lines to join and check one by one): for a server that lets
 * nobody change the lines. The subprotocol must be a token; the extensions (our own negotiated
 * string) must hold no CR, LF or NUL.
 */
export function acceptResponse(key: string, protocol: string | undefined, extensions: string): string {
  let response = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${computeAcceptKey(key)}\r\n`;
  if (protocol !== undefined) {
    if (!isToken(protocol)) throw new TypeError(`Invalid subprotocol ${JSON.stringify(protocol)}: not an HTTP token`);
    response += `Sec-WebSocket-Protocol: ${protocol}\r\n`;
  }
  if (extensions.length > 0) {
    if (/[\r\n\0]/.test(extensions)) throw new TypeError(`Invalid response header line: ${JSON.stringify(`Sec-WebSocket-Extensions: ${extensions}`)}`);
    response += `Sec-WebSocket-Extensions: ${extensions}\r\n`;
  }
  return response + '\r\n';
}

/** The complete 101 response (RFC 6455 §4.2.2), ending with the blank line. */
export function formatAcceptResponse(options: AcceptOptions): string {
  if (options.extensions !== undefined && /[\r\n\0]/.test(options.extensions)) {
    throw new TypeError('Invalid Sec-WebSocket-Extensions value');
  }
  return formatResponseLines(acceptResponseLines(options));
}

function isHttp11OrLater(version: string): boolean {
  if (version === '1.1') return true;
  const dot = version.indexOf('.');
  const major = Number(dot === -1 ? version : version.slice(0, dot));
  const minor = dot === -1 ? 0 : Number(version.slice(dot + 1));
  if (!Number.isInteger(major) || !Number.isInteger(minor)) return false;
  return major > 1 || (major === 1 && minor >= 1);
}

/** `Upgrade` is a list of `protocol[/version]`; one of them must be "websocket" (case-insensitive). */
function upgradeOffersWebSocket(value: string): boolean {
  if (value === 'websocket') return true; // what clients send: no list to split
  for (const item of value.split(',')) {
    if (item.trim().toLowerCase() === 'websocket') return true;
  }
  return false;
}
