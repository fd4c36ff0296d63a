/**
 * The client's side of the opening handshake (RFC 6455 §4.1): build the request headers with a fresh
 * key, and check the server's response, failing with a precise `HandshakeError` for each way it can
 * be wrong.
 */
import { randomBytes } from 'node:crypto';
import { HandshakeError } from './errors.js';
import { WEBSOCKET_VERSION } from './constants.js';
import {
  HeaderSyntaxError,
  formatExtensions,
  isToken,
  parseExtensions,
  listContainsToken,
  parseTokenList,
  type ExtensionOffer,
} from './header-grammar.js';
import { computeAcceptKey, listHeader, singleHeader, type HeaderMap } from './handshake.js';

/** The options of {@link createClientHandshake}. */
export interface ClientHandshakeOptions {
  /** Subprotocols to offer, in order of preference: distinct tokens. */
  readonly protocols?: readonly string[];
  /** Extension offers, in order of preference. */
  readonly extensions?: readonly ExtensionOffer[];
  /** A fixed key (tests only): by default 16 random bytes. */
  readonly key?: string;
}

/** The request a client sends: the headers to add to `GET <path> HTTP/1.1` and what to check later. */
export interface ClientHandshake {
  /** The `Sec-WebSocket-Key` sent (16 random bytes, base64; RFC 6455 §4.1), from which the accept value is checked. */
  readonly key: string;
  /** The subprotocols offered (the server must choose one of them, or none). */
  readonly protocols: readonly string[];
  /** The extensions offered (the server may accept only these). */
  readonly extensions: readonly ExtensionOffer[];
  /** Request headers (besides `Host`, which belongs to the HTTP layer). */
  readonly headers: Readonly<Record<string, string>>;
}

/** Check a list of subprotocols to offer: each an HTTP token, none twice. Throws `SyntaxError`. */
export function checkProtocols(protocols: readonly string[]): void {
  const seen = new Set<string>();
  for (const protocol of protocols) {
    if (typeof protocol !== 'string' || !isToken(protocol)) {
      throw new SyntaxError(`Invalid subprotocol ${JSON.stringify(protocol)}: subprotocols must be HTTP tokens`);
    }
    if (seen.has(protocol)) throw new SyntaxError(`Subprotocol ${JSON.stringify(protocol)} is offered twice`);
    seen.add(protocol);
  }
}

/** Build a client handshake (RFC 6455 §4.1): Upgrade, Connection, a fresh key, version 13, offers. */
export function createClientHandshake(options: ClientHandshakeOptions = {}): ClientHandshake {
  const protocols = options.protocols ?? [];
  checkProtocols(protocols);
  const extensions = options.extensions ?? [];
  const key = options.key ?? randomBytes(16).toString('base64');
  const headers: Record<string, string> = {
    Connection: 'Upgrade',
    Upgrade: 'websocket',
    'Sec-WebSocket-Key': key,
    'Sec-WebSocket-Version': String(WEBSOCKET_VERSION),
  };
  if (protocols.length > 0) headers['Sec-WebSocket-Protocol'] = protocols.join(', ');
  if (extensions.length > 0) headers['Sec-WebSocket-Extensions'] = formatExtensions(extensions);
  return { key, protocols, extensions, headers };
}

/** The parts of the server's response the client checks (an `IncomingMessage` fits). */
export interface HandshakeResponse {
  /** The response's status (101 expected). */
  readonly statusCode?: number | undefined;
  /** The response's headers, names in lower case. */
  readonly headers: HeaderMap;
}

/** What the server agreed to. */
export interface AcceptedHandshake {
  /** The subprotocol the server chose, or "" when it chose none. */
  readonly protocol: string;
  /** The extensions the server accepted, with its parameters (each one we offered, at most once). */
  readonly extensions: readonly ExtensionOffer[];
}

/** Validate the server's answer to `handshake` (RFC 6455 §4.1, the client's checks 1–6). */
export function validateResponse(response: HandshakeResponse, handshake: ClientHandshake): AcceptedHandshake {
  const status = response.statusCode ?? 0;
  if (status !== 101) {
    throw new HandshakeError('FD_ERR_HANDSHAKE_STATUS', status, `Unexpected server response: ${status} (expected 101 Switching Protocols)`);
  }
  const headers = response.headers;
  const upgrade = singleHeader(headers, 'upgrade').value;
  if (upgrade === undefined || upgrade.trim().toLowerCase() !== 'websocket') {
    throw new HandshakeError('FD_ERR_HANDSHAKE_UPGRADE', 0, `Invalid Upgrade header in the response: ${JSON.stringify(upgrade ?? null)} (expected "websocket")`);
  }
  const connection = listHeader(headers, 'connection');
  if (connection === undefined || !listContainsToken(connection, 'upgrade')) {
    throw new HandshakeError('FD_ERR_HANDSHAKE_CONNECTION', 0, `Invalid Connection header in the response: ${JSON.stringify(connection ?? null)} (expected "Upgrade")`);
  }
  const accept = singleHeader(headers, 'sec-websocket-accept');
  if (accept.value === undefined) {
    throw new HandshakeError('FD_ERR_HANDSHAKE_ACCEPT', 0, 'Missing Sec-WebSocket-Accept header in the response');
  }
  if (accept.repeated || accept.value.trim() !== computeAcceptKey(handshake.key)) {
    throw new HandshakeError('FD_ERR_HANDSHAKE_ACCEPT', 0, 'Invalid Sec-WebSocket-Accept header: it does not match the key sent');
  }

  return { protocol: selectedProtocol(headers, handshake.protocols), extensions: acceptedExtensions(headers, handshake.extensions) };
}

/**
 * The subprotocol in the server's `Sec-WebSocket-Protocol` ("" when absent): exactly one token, one of
 * `offered` (RFC 6455 §4.1, the client's check 6; the same over HTTP/2, RFC 8441 §5).
 */
export function selectedProtocol(headers: HeaderMap, offered: readonly string[]): string {
  const protocolHeader = listHeader(headers, 'sec-websocket-protocol');
  if (protocolHeader === undefined) return '';
  let chosen: string[];
  try {
    chosen = parseTokenList(protocolHeader, 'Sec-WebSocket-Protocol');
  } catch (error) {
    throw new HandshakeError('FD_ERR_HANDSHAKE_PROTOCOL', 0, (error as HeaderSyntaxError).message);
  }
  if (chosen.length !== 1) {
    throw new HandshakeError('FD_ERR_HANDSHAKE_PROTOCOL', 0, `Server chose several subprotocols: ${JSON.stringify(protocolHeader)}`);
  }
  const protocol = chosen[0]!;
  if (offered.length === 0) {
    throw new HandshakeError('FD_ERR_HANDSHAKE_PROTOCOL', 0, `Server chose subprotocol ${JSON.stringify(protocol)} but none was offered`);
  }
  if (!offered.includes(protocol)) {
    throw new HandshakeError('FD_ERR_HANDSHAKE_PROTOCOL', 0, `Server chose subprotocol ${JSON.stringify(protocol)}, which was not offered`);
  }
  return protocol;
}

/**
 * The extensions in the server's `Sec-WebSocket-Extensions`: each one of `offered`, at most once
 * (RFC 6455 §4.1, the client's check 5; the same over HTTP/2, RFC 8441 §5).
 */
export function acceptedExtensions(headers: HeaderMap, offered: readonly ExtensionOffer[]): ExtensionOffer[] {
  const extensionHeader = listHeader(headers, 'sec-websocket-extensions');
  if (extensionHeader === undefined) return [];
  let extensions: ExtensionOffer[];
  try {
    extensions = parseExtensions(extensionHeader);
  } catch (error) {
    throw new HandshakeError('FD_ERR_HANDSHAKE_EXTENSIONS', 0, (error as HeaderSyntaxError).message);
  }
  const names = new Set(offered.map((offer) => offer.name));
  const accepted = new Set<string>();
  for (const extension of extensions) {
    if (!names.has(extension.name)) {
      throw new HandshakeError('FD_ERR_HANDSHAKE_EXTENSIONS', 0, `Server accepted extension ${JSON.stringify(extension.name)}, which was not offered`);
    }
    if (accepted.has(extension.name)) {
      throw new HandshakeError('FD_ERR_HANDSHAKE_EXTENSIONS', 0, `Server accepted extension ${JSON.stringify(extension.name)} twice`);
    }
    accepted.add(extension.name);
  }
  return extensions;
}
