/**
 * The head of an HTTP/1.1 request (RFC 9112 §2–§5), sans I/O: the request line and the header
 * fields, read incrementally from the bytes a server receives, with the bounds a public endpoint
 * needs. `push(chunk)` answers "need more", the request (and the bytes after its head: a WebSocket
 * client may send its first frame right behind its handshake), or an error with the HTTP status to
 * answer (400, 414, 431 or 505). The body is not read: a server that wants one reads it from `rest`.
 *
 * Strict where Node's parser (llhttp) is strict, so that a request refused by one is refused by the
 * other: every line ends with CRLF (a bare LF or a lone CR is an error, as in llhttp; RFC 9112 §2.2
 * allows either), no obs-fold (§5.2: rejected), no whitespace between a field name and its colon
 * (§5.1: MUST reject), no control character in a field value (§5.5), a request-target of visible
 * ASCII only, a Content-Length of digits that appears once (§6.3). Empty lines before the request line
 * are skipped (§2.2). Stricter than llhttp on purpose: exactly one space between the parts of the
 * request line (§3), any method token (llhttp knows a fixed list), only HTTP/1.0 and HTTP/1.1 (other
 * well-formed versions: 505, RFC 9110 §15.6.6).
 */
import { Buffer } from 'node:buffer';
import { listContainsToken } from './header-grammar.js';

/** The bounds on a request head. Every one is a number of bytes or fields; beyond it, the request is refused. */
export interface RequestHeadLimits {
  /**
   * The whole head in bytes (empty lines before it, the request line, the field lines, their line
   * ends and the blank line): beyond, 431 (`FD_ERR_HTTP_HEAD_TOO_LARGE`). Default 16 KiB, Node's
   * `maxHeaderSize` (Node counts only the target, names and values against it: a head of many short
   * fields that Node lets through may be refused here).
   */
  readonly maxHeaderSize?: number;
  /** Header field lines: beyond, 431 (`FD_ERR_HTTP_TOO_MANY_HEADERS`). Default 1,000 (Node 24 refuses beyond it too). */
  readonly maxHeaderCount?: number;
  /**
   * The request line in bytes (without its CRLF): beyond, 414 URI Too Long
   * (`FD_ERR_HTTP_REQUEST_LINE_TOO_LONG`, RFC 9112 §3). Default 16 KiB (Node answers 431 there).
   */
  readonly maxRequestLineLength?: number;
}

export const DEFAULT_MAX_HEADER_SIZE = 16 * 1024;
export const DEFAULT_MAX_HEADER_COUNT = 1000;
export const DEFAULT_MAX_REQUEST_LINE_LENGTH = 16 * 1024;

/** A request head that parsed. */
export interface RequestHead {
  /** The method token, as sent (case-sensitive, RFC 9110 §9.1). */
  readonly method: string;
  /** The request-target, as sent (latin1 of visible ASCII: the bytes as characters). */
  readonly target: string;
  readonly versionMajor: 1;
  readonly versionMinor: 0 | 1;
  /**
   * The field lines in order, as Node's `rawHeaders`: name (as sent), value (without the whitespace
   * around it, bytes as latin1 characters), name, value... A repeated field appears each time.
   */
  readonly rawHeaders: string[];
  /** `Upgrade` is present and `Connection` lists `upgrade` (RFC 9110 §7.8): what Node calls an upgrade request. */
  readonly upgrade: boolean;
}

export type RequestHeadErrorCode =
  | 'FD_ERR_HTTP_MALFORMED'
  | 'FD_ERR_HTTP_HEAD_TOO_LARGE'
  | 'FD_ERR_HTTP_TOO_MANY_HEADERS'
  | 'FD_ERR_HTTP_REQUEST_LINE_TOO_LONG'
  | 'FD_ERR_HTTP_VERSION';

/** A request head that cannot be accepted: `status` is the answer (400, 414, 431 or 505). */
export class RequestHeadError extends Error {
  override readonly name = 'RequestHeadError';
  readonly code: RequestHeadErrorCode;
  readonly status: 400 | 414 | 431 | 505;
  constructor(code: RequestHeadErrorCode, status: 400 | 414 | 431 | 505, message: string) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

export type RequestHeadResult =
  | { readonly state: 'more' }
  | { readonly state: 'done'; readonly request: RequestHead; readonly rest: Buffer }
  | { readonly state: 'error'; readonly error: RequestHeadError };

const NEED_MORE: RequestHeadResult = Object.freeze({ state: 'more' });

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;

/** tchar (RFC 9110 §5.6.2), by byte. */
const TCHAR = new Uint8Array(256);
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;
for (const ch of "!#$%&'*+-.^_`|~") TCHAR[ch.charCodeAt(0)] = 1;

/** field-vchar / SP / HTAB (RFC 9110 §5.5: VCHAR and obs-text; no other control character, no DEL). */
const FIELD_CHAR = new Uint8Array(256);
FIELD_CHAR[HTAB] = 1;
for (let c = 0x20; c <= 0xff; c++) if (c !== 0x7f) FIELD_CHAR[c] = 1;

const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');

function checkLimit(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${String(value)}`);
  return value;
}

/** Limits that went through `requestHeadLimits`: a parser takes them as they are. */
const CHECKED = new WeakSet<RequestHeadLimits>();

/** The limits with their defaults, checked (a RangeError for a bad one); frozen, for many parsers to share. */
export function requestHeadLimits(limits: RequestHeadLimits = {}): Required<RequestHeadLimits> {
  if (CHECKED.has(limits)) return limits as Required<RequestHeadLimits>;
  const checked = Object.freeze({
    maxHeaderSize: checkLimit(limits.maxHeaderSize, DEFAULT_MAX_HEADER_SIZE, 'maxHeaderSize'),
    maxHeaderCount: checkLimit(limits.maxHeaderCount, DEFAULT_MAX_HEADER_COUNT, 'maxHeaderCount'),
    maxRequestLineLength: checkLimit(limits.maxRequestLineLength, DEFAULT_MAX_REQUEST_LINE_LENGTH, 'maxRequestLineLength'),
  });
  CHECKED.add(checked);
  return checked;
}

/**
 * Reads one request head. Give it the connection's bytes as they come; it keeps what it needs (only
 * when a head comes in more than one chunk, and never more than the head limit) and answers once.
 * Linear in the bytes received: every byte is looked at a bounded number of times, whatever the chunking.
 */
export class RequestHeadParser {
  readonly #limits: Required<RequestHeadLimits>;
  /** The bytes so far, when the head did not come in one chunk (grown by doubling, up to the limit). */
  #buffer: Buffer | null = null;
  #length = 0;
  /** Where the request line starts (after empty lines), once a byte other than CRLF has come; -1 before. */
  #start = -1;
  /** How far the checks of an incomplete head got. */
  #checked = 0;
  /** The method is complete (its SP has come). */
  #methodDone = false;
  /** The request line is complete and valid. */
  #lineDone = false;
  #done = false;

  /** `limits`: from `requestHeadLimits` (taken as they are: one object for every parser of a server), or options (checked here). */
  constructor(limits: RequestHeadLimits = {}) {
    this.#limits = requestHeadLimits(limits);
  }

  push(chunk: Buffer): RequestHeadResult {
    if (this.#done) throw new Error('The request head was already read');
    const limits = this.#limits;
    const previous = this.#length;
    let bytes: Buffer;
    let taken = chunk.length;
    if (previous === 0) {
      bytes = chunk; // the usual case: the whole head in one chunk, no copy
    } else {
      // Only bytes within the head limit can belong to an acceptable head: keep those.
      taken = Math.min(chunk.length, limits.maxHeaderSize + 1 - previous);
      bytes = this.#append(chunk, taken);
    }
    const start = this.#skipEmptyLines(bytes);
    const end = start === -1 ? -1 : bytes.indexOf(HEAD_END, Math.max(previous - 3, start));
    if (end !== -1 && end + 4 <= limits.maxHeaderSize) {
      this.#done = true;
      this.#buffer = null;
      let rest = bytes.subarray(end + 4);
      if (previous !== 0) rest = taken < chunk.length ? Buffer.concat([rest, chunk.subarray(taken)]) : Buffer.from(rest);
      const parsed = parseHead(bytes.toString('latin1', start, end + 2), limits);
      return parsed instanceof RequestHeadError ? { state: 'error', error: parsed } : { state: 'done', request: parsed, rest };
    }
    if (end !== -1 || bytes.length > limits.maxHeaderSize) return this.#tooLarge(bytes, start);
    const early = start === -1 ? null : this.#checkPartial(bytes, start);
    if (early !== null) return this.#fail(early);
    if (previous === 0) this.#append(chunk, chunk.length);
    return NEED_MORE;
  }

  /** Copy `chunk[0, count)` after the bytes so far; the bytes so far. */
  #append(chunk: Buffer, count: number): Buffer {
    const needed = this.#length + count;
    let buffer = this.#buffer;
    if (buffer === null || buffer.length < needed) {
      const grown = Buffer.allocUnsafe(Math.min(Math.max(needed, (buffer?.length ?? 128) * 2), this.#limits.maxHeaderSize + 1));
      if (buffer !== null) buffer.copy(grown, 0, 0, this.#length);
      buffer = grown;
      this.#buffer = buffer;
    }
    chunk.copy(buffer, this.#length, 0, count);
    this.#length = needed;
    return buffer.subarray(0, needed);
  }

  /** RFC 9112 §2.2: empty lines before the request line are ignored. Where the line starts, or -1 (not yet known). */
  #skipEmptyLines(bytes: Buffer): number {
    if (this.#start !== -1) return this.#start;
    let start = 0;
    while (start + 1 < bytes.length && bytes[start] === CR && bytes[start + 1] === LF) start += 2;
    if (start === bytes.length || (start + 1 === bytes.length && bytes[start] === CR)) return -1;
    this.#start = start;
    this.#checked = start;
    return start;
  }

  /**
   * An incomplete head: refuse at once what cannot become a request (so that garbage, or a TLS hello
   * on a plain port, is answered without waiting for the limit or the timeout), and a request line
   * over its limit. Looks at each byte once over all calls.
   */
  #checkPartial(bytes: Buffer, start: number): RequestHeadError | null {
    const limits = this.#limits;
    const from = this.#checked;
    const length = bytes.length;
    for (let i = from; i < length; i++) {
      const c = bytes[i]!;
      if (c === LF) {
        if (i === start || bytes[i - 1] !== CR) return malformed('A line of the request head ends with a bare LF (CRLF expected)');
        if (!this.#lineDone) {
          const line = parseRequestLine(bytes.toString('latin1', start, i - 1), limits);
          if (line instanceof RequestHeadError) return line;
          this.#lineDone = true;
        }
      } else if (c === CR) {
        if (i + 1 < length && bytes[i + 1] !== LF) return malformed('A CR in the request head is not followed by LF');
      } else if (!this.#methodDone) {
        if (c === SP) this.#methodDone = true;
        else if (TCHAR[c] !== 1) return malformed('Invalid request method');
      }
    }
    // A CR at the end is looked at again with the byte after it.
    this.#checked = length > from && bytes[length - 1] === CR ? length - 1 : length;
    if (!this.#lineDone && length - start > limits.maxRequestLineLength) return requestLineTooLong(limits);
    return null;
  }

  /** Over the head limit: 431, or 414 when the request line alone is over its own limit (the more precise answer). */
  #tooLarge(bytes: Buffer, start: number): RequestHeadResult {
    const limits = this.#limits;
    if (start !== -1 && !this.#lineDone) {
      const lineEnd = bytes.indexOf(LF, start);
      if ((lineEnd === -1 ? bytes.length : lineEnd - 1) - start > limits.maxRequestLineLength) return this.#fail(requestLineTooLong(limits));
    }
    return this.#fail(new RequestHeadError('FD_ERR_HTTP_HEAD_TOO_LARGE', 431, `The request head exceeds ${limits.maxHeaderSize} bytes`));
  }

  #fail(error: RequestHeadError): RequestHeadResult {
    this.#done = true;
    this.#buffer = null;
    return { state: 'error', error };
  }
}

function requestLineTooLong(limits: Required<RequestHeadLimits>): RequestHeadError {
  return new RequestHeadError('FD_ERR_HTTP_REQUEST_LINE_TOO_LONG', 414, `The request line exceeds ${limits.maxRequestLineLength} bytes`);
}

interface RequestLine {
  method: string;
  target: string;
  minor: 0 | 1;
}

/** `method SP request-target SP HTTP-version` (RFC 9112 §3), without its CRLF. */
function parseRequestLine(line: string, limits: Required<RequestHeadLimits>): RequestLine | RequestHeadError {
  if (line.length > limits.maxRequestLineLength) return requestLineTooLong(limits);
  const methodEnd = line.indexOf(' ');
  if (methodEnd <= 0) return malformed('Invalid request line');
  for (let i = 0; i < methodEnd; i++) if (TCHAR[line.charCodeAt(i)] !== 1) return malformed('Invalid request method');
  const targetEnd = line.indexOf(' ', methodEnd + 1);
  if (targetEnd === -1 || targetEnd === methodEnd + 1) return malformed('Invalid request line');
  // request-target: visible ASCII (RFC 9112 §3.2; RFC 3986 allows fewer, but servers take more).
  for (let i = methodEnd + 1; i < targetEnd; i++) {
    const c = line.charCodeAt(i);
    if (c <= SP || c >= 0x7f) return malformed('Invalid character in the request-target');
  }
  // HTTP-version = "HTTP" "/" DIGIT "." DIGIT (RFC 9112 §2.3)
  const version = targetEnd + 1;
  if (line.length !== version + 8 || !line.startsWith('HTTP/', version) || line.charCodeAt(version + 6) !== 0x2e || !isDigit(line.charCodeAt(version + 5)) || !isDigit(line.charCodeAt(version + 7))) {
    return malformed('Invalid HTTP version in the request line');
  }
  const major = line.charCodeAt(version + 5) - 0x30;
  const minor = line.charCodeAt(version + 7) - 0x30;
  if (major !== 1 || minor > 1) return new RequestHeadError('FD_ERR_HTTP_VERSION', 505, `HTTP/${major}.${minor} is not supported (HTTP/1.1 or HTTP/1.0)`);
  return { method: line.slice(0, methodEnd), target: line.slice(methodEnd + 1, targetEnd), minor: minor as 0 | 1 };
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

function malformed(message: string): RequestHeadError {
  return new RequestHeadError('FD_ERR_HTTP_MALFORMED', 400, message);
}

/** The head as latin1 text, from the request line to the CRLF of the last field line. */
function parseHead(text: string, limits: Required<RequestHeadLimits>): RequestHead | RequestHeadError {
  let lineEnd = text.indexOf('\r\n');
  const requestLine = parseRequestLine(text.slice(0, lineEnd), limits);
  if (requestLine instanceof RequestHeadError) return requestLine;
  const rawHeaders: string[] = [];
  let connection: string | undefined;
  let upgrade = false;
  let contentLength = false;
  let transferEncoding = false;
  let count = 0;
  for (let lineStart = lineEnd + 2; lineStart < text.length; lineStart = lineEnd + 2) {
    lineEnd = text.indexOf('\r\n', lineStart);
    if (++count > limits.maxHeaderCount) {
      return new RequestHeadError('FD_ERR_HTTP_TOO_MANY_HEADERS', 431, `The request has more than ${limits.maxHeaderCount} header fields`);
    }
    // field-name: a token, right before the colon (RFC 9112 §5.1). A line that starts with
    // whitespace is obs-fold (§5.2), refused here.
    let colon = lineStart;
    while (colon < lineEnd && TCHAR[text.charCodeAt(colon)] === 1) colon++;
    if (colon === lineStart || colon === lineEnd || text.charCodeAt(colon) !== COLON) {
      const first = text.charCodeAt(lineStart);
      return malformed(first === SP || first === HTAB ? 'Obsolete line folding (obs-fold) in the request head' : 'Invalid header field name');
    }
    // field-value, without the optional whitespace around it (§5.1); no control character but HTAB (§5.5).
    let valueStart = colon + 1;
    let valueEnd = lineEnd;
    while (valueStart < valueEnd && isOws(text.charCodeAt(valueStart))) valueStart++;
    while (valueEnd > valueStart && isOws(text.charCodeAt(valueEnd - 1))) valueEnd--;
    for (let i = valueStart; i < valueEnd; i++) {
      if (FIELD_CHAR[text.charCodeAt(i)] !== 1) return malformed('Invalid character in a header field value');
    }
    const name = text.slice(lineStart, colon);
    const value = text.slice(valueStart, valueEnd);
    rawHeaders.push(name, value);
    switch (name.length) {
      case 7:
        if (name.toLowerCase() === 'upgrade') upgrade = true;
        break;
      case 10:
        if (name.toLowerCase() === 'connection') connection = connection === undefined ? value : `${connection}, ${value}`;
        break;
      case 14:
        if (name.toLowerCase() === 'content-length') {
          // §6.3: a repeated or non-numeric Content-Length is unrecoverable framing (llhttp refuses both).
          if (contentLength) return malformed('Repeated Content-Length');
          if (value.length === 0) return malformed('Invalid Content-Length');
          for (let i = 0; i < value.length; i++) if (!isDigit(value.charCodeAt(i))) return malformed('Invalid Content-Length');
          contentLength = true;
        }
        break;
      case 17:
        if (name.toLowerCase() === 'transfer-encoding') transferEncoding = true;
        break;
    }
  }
  // §6.1: a sender MUST NOT send both; refusing is the safe answer to a smuggling attempt (llhttp does).
  if (contentLength && transferEncoding) return malformed('Both Content-Length and Transfer-Encoding');
  return {
    method: requestLine.method,
    target: requestLine.target,
    versionMajor: 1,
    versionMinor: requestLine.minor,
    rawHeaders,
    upgrade: upgrade && connection !== undefined && listContainsToken(connection, 'upgrade'),
  };
}

function isOws(code: number): boolean {
  return code === SP || code === HTAB;
}
