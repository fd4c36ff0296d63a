/**
 * What both sides of the opening handshake share (RFC 6455 §4): the accept key, header access over
 * Node-style header maps (lower-case names; a repeated header is an array or, as Node joins most
 * repeated headers, a comma-joined string), and the formatting of HTTP responses.
 */
import * as crypto from 'node:crypto';
import { WEBSOCKET_GUID } from './constants.js';

/** Header values as Node's `IncomingMessage#headers` holds them: names are lower case. */
export type HeaderValue = string | readonly string[] | undefined;
/** Request or response headers by lower-case name, as Node's `IncomingMessage#headers`. */
export interface HeaderMap {
  /** The value(s) of the header `name` (lower case). */
  readonly [name: string]: HeaderValue;
}

/** `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64(SHA-1(key + GUID)) (RFC 6455 §4.2.2). */
export function computeAcceptKey(key: string): string {
  return sha1Base64(key + WEBSOCKET_GUID);
}

/** `crypto.hash` (Node 20.12+, 21.7+) hashes in one call, several times faster than `createHash`: one per handshake. */
const oneShotHash = (crypto as { hash?: (algorithm: string, data: string, encoding: 'base64') => string }).hash;
const sha1Base64: (text: string) => string =
  typeof oneShotHash === 'function' ? (text) => oneShotHash('sha1', text, 'base64') : (text) => crypto.createHash('sha1').update(text).digest('base64');

/** A list-valued header (e.g. `Sec-WebSocket-Protocol`), its repeated lines joined with commas. */
export function listHeader(headers: HeaderMap, name: string): string | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : value.join(', ');
}

/** Outcome of reading a header that must appear at most once. */
export type SingleHeader = { readonly value: string | undefined; readonly repeated: boolean };

/** A header that must appear at most once: `repeated` when it came as an array. */
export function singleHeader(headers: HeaderMap, name: string): SingleHeader {
  const value = headers[name];
  if (value === undefined || typeof value === 'string') return { value, repeated: false };
  if (value.length === 1) return { value: value[0], repeated: false };
  return { value: value[0], repeated: true };
}

const STATUS_TEXT: ReadonlyMap<number, string> = new Map([
  [101, 'Switching Protocols'],
  [400, 'Bad Request'],
  [401, 'Unauthorized'],
  [403, 'Forbidden'],
  [404, 'Not Found'],
  [405, 'Method Not Allowed'],
  [408, 'Request Timeout'],
  [426, 'Upgrade Required'],
  [429, 'Too Many Requests'],
  [431, 'Request Header Fields Too Large'],
  [500, 'Internal Server Error'],
  [503, 'Service Unavailable'],
]);

/** The reason phrase for an HTTP status this library answers with (e.g. 426 → "Upgrade Required"); "Error" for others. */
export function statusText(status: number): string {
  return STATUS_TEXT.get(status) ?? 'Error';
}

/** Header values for a response: one value or several lines of the same header. */
export type ResponseHeaders = Readonly<Record<string, string | number | readonly string[]>>;

/** Refuse CR and LF in header names and values: a header must not smuggle another in. */
function checkHeaderText(text: string, what: string): void {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x0d || code === 0x0a || code === 0x00) throw new TypeError(`Invalid character in response ${what}: ${JSON.stringify(text)}`);
  }
}

/** Format header lines (`Name: value\r\n` each). */
export function formatHeaderLines(headers: ResponseHeaders): string {
  let out = '';
  for (const name of Object.keys(headers)) {
    const value = headers[name]!;
    checkHeaderText(name, 'header name');
    const values = typeof value === 'string' || typeof value === 'number' ? [String(value)] : value;
    for (const line of values) {
      checkHeaderText(line, 'header value');
      out += `${name}: ${line}\r\n`;
    }
  }
  return out;
}

/**
 * A complete HTTP/1.1 error response that closes the connection, with a short text body:
 * what a server answers to a handshake it refuses.
 */
export function formatRejection(status: number, message: string, headers: ResponseHeaders = {}): string {
  const body = message.length > 0 ? message : statusText(status);
  const bodyBytes = Buffer.byteLength(body);
  return (
    `HTTP/1.1 ${status} ${statusText(status)}\r\n` +
    'Connection: close\r\n' +
    'Content-Type: text/plain; charset=utf-8\r\n' +
    `Content-Length: ${bodyBytes}\r\n` +
    formatHeaderLines(headers) +
    '\r\n' +
    body
  );
}
