/**
 * HTTP CONNECT (RFC 9110 §9.3.6), sans I/O: the request that asks an HTTP proxy for a tunnel to
 * `host:port`, and an incremental reader of the proxy's answer head (RFC 9112 §2–§5). Any 2xx opens
 * the tunnel: the bytes after the head already belong to it (RFC 9110 §9.3.6: "the sender switches
 * to tunnel mode ... immediately after the blank line").
 */
import { Buffer } from 'node:buffer';

/** Proxy credentials for `Proxy-Authorization: Basic` (RFC 9110 §11.7.1, RFC 7617). */
export interface ProxyCredentials {
  readonly username: string;
  readonly password: string;
}

export interface ConnectRequestOptions {
  /** The target host: a name, an IPv4 address, or an IPv6 address (with or without brackets). */
  readonly host: string;
  readonly port: number;
  /** Sent as `Proxy-Authorization: Basic ...` when given. */
  readonly credentials?: ProxyCredentials | null;
  /** Extra headers for the proxy (never for the target). */
  readonly headers?: Readonly<Record<string, string>> | ReadonlyArray<readonly [string, string]>;
}

/** RFC 9110 §5.1 token (a header field name). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** No CR, LF or NUL anywhere a value goes on the wire (header injection). */
const LINE_BREAK = /[\r\n\0]/;

/** The target as the request-target of CONNECT (authority-form, RFC 9112 §3.2.3): IPv6 in brackets. */
export function connectAuthority(host: string, port: number): string {
  if (host === '') throw new TypeError('The CONNECT target host is empty');
  if (LINE_BREAK.test(host) || /[\s/?#@]/.test(host)) throw new TypeError(`Invalid CONNECT target host: ${JSON.stringify(host)}`);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new RangeError(`Invalid CONNECT target port: ${port}`);
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return bare.includes(':') ? `[${bare}]:${port}` : `${bare}:${port}`;
}

/** `Basic base64(user:password)` (RFC 7617 §2: a user-id containing a colon cannot be expressed). */
export function basicAuthorization(credentials: ProxyCredentials): string {
  if (credentials.username.includes(':')) throw new TypeError('A proxy username must not contain ":" (RFC 7617 §2)');
  if (LINE_BREAK.test(credentials.username) || LINE_BREAK.test(credentials.password)) {
    throw new TypeError('Proxy credentials must not contain CR, LF or NUL');
  }
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`, 'utf8').toString('base64')}`;
}

/** The percent-decoded userinfo of a proxy URL (`http://user:p%40ss@proxy:3128`), or null if none. */
export function credentialsFromUrl(url: URL): ProxyCredentials | null {
  if (url.username === '' && url.password === '') return null;
  try {
    return { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
  } catch {
    throw new TypeError('The proxy URL has malformed percent-encoding in its credentials');
  }
}

/** The CONNECT request's bytes. Throws TypeError/RangeError on anything that cannot go on the wire. */
export function buildConnectRequest(options: ConnectRequestOptions): Buffer {
  const authority = connectAuthority(options.host, options.port);
  const lines = [`CONNECT ${authority} HTTP/1.1`, `Host: ${authority}`];
  const extra: Array<readonly [string, string]> =
    options.headers === undefined ? [] : Array.isArray(options.headers) ? [...(options.headers as ReadonlyArray<readonly [string, string]>)] : Object.entries(options.headers);
  const names = new Set<string>();
  for (const [name, value] of extra) {
    if (!TOKEN.test(name)) throw new TypeError(`Invalid proxy header name: ${JSON.stringify(name)}`);
    if (typeof value !== 'string' || LINE_BREAK.test(value)) throw new TypeError(`Invalid value for proxy header ${name}: it must be a string without CR, LF or NUL`);
    const lower = name.toLowerCase();
    if (lower === 'host') throw new TypeError('The Host header of CONNECT is the target; it cannot be set');
    names.add(lower);
    lines.push(`${name}: ${value.trim()}`);
  }
  if (options.credentials != null && !names.has('proxy-authorization')) {
    lines.push(`Proxy-Authorization: ${basicAuthorization(options.credentials)}`);
  }
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

/** The proxy's answer head. */
export interface ConnectResponse {
  readonly status: number;
  readonly reason: string;
  /** Header fields, names lower-cased, repeated fields in order. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  /** Bytes received after the head: on a 2xx, the first bytes from the target. */
  readonly rest: Buffer;
}

/** The first value of a header (case-insensitive name). */
export function headerValue(response: ConnectResponse, name: string): string | undefined {
  const lower = name.toLowerCase();
  return response.headers.find(([key]) => key === lower)?.[1];
}

/** Why an answer is unusable: `'too-large'` (head over the limit) or `'malformed'`. */
export class ConnectResponseError extends Error {
  override readonly name = 'ConnectResponseError';
  constructor(
    readonly reason: 'too-large' | 'malformed',
    message: string,
  ) {
    super(message);
  }
}

/** Default limit of the answer's head: 16 KiB (proxies' error pages come in the body, not the head). */
export const DEFAULT_CONNECT_HEAD_LIMIT = 16 * 1024;

const STATUS_LINE = /^HTTP\/1\.[01] ([0-9]{3})(?: ([^\r\n]*))?$/;
const PREFIX = Buffer.from('HTTP/1.');

/**
 * Reads the answer head incrementally: `push(chunk)` returns null until the blank line has come, then
 * the response (once; later pushes are a usage error). Throws `ConnectResponseError` as soon as the
 * bytes cannot be an HTTP/1.x status line, or the head exceeds `limit` bytes.
 */
export class ConnectResponseParser {
  readonly #limit: number;
  #buffer: Buffer = Buffer.alloc(0);
  #done = false;

  constructor(limit: number = DEFAULT_CONNECT_HEAD_LIMIT) {
    if (!Number.isInteger(limit) || limit < 16) throw new RangeError(`Invalid head limit: ${limit}`);
    this.#limit = limit;
  }

  push(chunk: Uint8Array): ConnectResponse | null {
    if (this.#done) throw new Error('The CONNECT response head was already parsed');
    const searchFrom = Math.max(0, this.#buffer.length - 3);
    this.#buffer = this.#buffer.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.#buffer, chunk]);
    const buffer = this.#buffer;
    // Fail early on garbage: a proxy that does not speak HTTP/1.x should not make us wait for the limit.
    const prefix = Math.min(buffer.length, PREFIX.length);
    if (!buffer.subarray(0, prefix).equals(PREFIX.subarray(0, prefix))) {
      throw new ConnectResponseError('malformed', `Not an HTTP/1.x response (starts with ${JSON.stringify(buffer.subarray(0, 16).toString('latin1'))})`);
    }
    const end = findHeadEnd(buffer, searchFrom);
    if (end === -1) {
      if (buffer.length > this.#limit) throw new ConnectResponseError('too-large', `The response head exceeds ${this.#limit} bytes`);
      return null;
    }
    if (end.headLength > this.#limit) throw new ConnectResponseError('too-large', `The response head exceeds ${this.#limit} bytes`);
    this.#done = true;
    const response = parseHead(buffer.subarray(0, end.headLength).toString('latin1'), buffer.subarray(end.headLength + end.terminator));
    this.#buffer = Buffer.alloc(0);
    return response;
  }
}

/** The end of the head: CRLFCRLF, or LFLF / CRLFLF / LFCRLF (RFC 9112 §2.2 lets a recipient accept a bare LF). */
function findHeadEnd(buffer: Buffer, from: number): { headLength: number; terminator: number } | -1 {
  for (let i = from; i < buffer.length; i++) {
    if (buffer[i] !== 0x0a) continue;
    if (buffer[i + 1] === 0x0a) return { headLength: i, terminator: 2 };
    if (buffer[i + 1] === 0x0d && buffer[i + 2] === 0x0a) return { headLength: i, terminator: 3 };
  }
  return -1;
}

function parseHead(text: string, rest: Buffer): ConnectResponse {
  const lines = text.split('\n').map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
  const statusLine = STATUS_LINE.exec(lines[0] ?? '');
  if (statusLine === null) throw new ConnectResponseError('malformed', `Invalid status line: ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
  const status = Number(statusLine[1]);
  if (status < 100) throw new ConnectResponseError('malformed', `Invalid status code: ${status}`);
  const headers: Array<readonly [string, string]> = [];
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    // RFC 9112 §5.2: obs-fold is rejected (or replaced); we reject. §5.1: no whitespace before the colon.
    if (line.startsWith(' ') || line.startsWith('\t')) throw new ConnectResponseError('malformed', 'Obsolete line folding in the response head');
    const colon = line.indexOf(':');
    const name = colon === -1 ? '' : line.slice(0, colon);
    if (!TOKEN.test(name)) throw new ConnectResponseError('malformed', `Invalid header line: ${JSON.stringify(line.slice(0, 80))}`);
    headers.push([name.toLowerCase(), line.slice(colon + 1).trim()]);
  }
  return { status, reason: statusLine[2] ?? '', headers, rest: Buffer.from(rest) };
}
