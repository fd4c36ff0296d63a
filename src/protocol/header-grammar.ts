/**
 * The HTTP header grammar the handshake needs (RFC 7230 §3.2.6, §7; RFC 6455 §4.3, §9.1), parsed by
 * hand in one left-to-right pass with a lookup table: linear time on any input, no regular expressions,
 * no backtracking. Parsed names go into arrays and `Map`s, never into plain objects, so a name such as
 * `__proto__` is just a name.
 */

/** tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA */
const TOKEN_CHAR = new Uint8Array(128);
for (let c = 0x30; c <= 0x39; c++) TOKEN_CHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN_CHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TOKEN_CHAR[c] = 1;
for (const ch of "!#$%&'*+-.^_`|~") TOKEN_CHAR[ch.charCodeAt(0)] = 1;

export function isTokenChar(code: number): boolean {
  return code < 128 && TOKEN_CHAR[code] === 1;
}

/** Whether `value` is a non-empty RFC 7230 token. */
export function isToken(value: string): boolean {
  if (value.length === 0) return false;
  for (let i = 0; i < value.length; i++) if (!isTokenChar(value.charCodeAt(i))) return false;
  return true;
}

const SP = 0x20;
const HTAB = 0x09;
const COMMA = 0x2c;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;

function isOws(code: number): boolean {
  return code === SP || code === HTAB;
}

/** A syntax error in a header value, with the offset of the offending character. */
export class HeaderSyntaxError extends Error {
  /** Always `'HeaderSyntaxError'`. */
  override readonly name = 'HeaderSyntaxError';
  /** The offset of the offending character in the header value. */
  readonly offset: number;
  constructor(header: string, offset: number, what: string) {
    super(`Invalid ${header} header: ${what} at offset ${offset}`);
    this.offset = offset;
  }
}

function describe(value: string, i: number): string {
  if (i >= value.length) return 'unexpected end';
  const code = value.charCodeAt(i);
  const shown = code >= 0x21 && code <= 0x7e ? `'${value[i]}'` : `byte 0x${code.toString(16).padStart(2, '0')}`;
  return `unexpected ${shown}`;
}

/**
 * Parse `1#token` (a comma-separated list of tokens with optional whitespace). Empty elements are
 * ignored as RFC 7230 §7 asks; a list with no element at all is an error. Throws `HeaderSyntaxError`.
 */
export function parseTokenList(value: string, header = 'token list'): string[] {
  const tokens: string[] = [];
  const length = value.length;
  let i = 0;
  for (;;) {
    while (i < length && isOws(value.charCodeAt(i))) i++;
    const start = i;
    while (i < length && isTokenChar(value.charCodeAt(i))) i++;
    if (i > start) tokens.push(value.slice(start, i));
    while (i < length && isOws(value.charCodeAt(i))) i++;
    if (i === length) break;
    if (value.charCodeAt(i) !== COMMA) throw new HeaderSyntaxError(header, i, describe(value, i));
    i++;
  }
  if (tokens.length === 0) throw new HeaderSyntaxError(header, 0, 'empty list');
  return tokens;
}

/** One extension parameter: `name` or `name=value` (value `null` when absent). */
export interface ExtensionParam {
  /** The parameter's name (a token). */
  readonly name: string;
  /** Its value (a token, or a quoted string unquoted), or null when absent. */
  readonly value: string | null;
}

/** One element of `Sec-WebSocket-Extensions`: an extension name and its parameters, in order. */
export interface ExtensionOffer {
  /** The extension's name (a token, e.g. `permessage-deflate`). */
  readonly name: string;
  /** Its parameters, in order. */
  readonly params: readonly ExtensionParam[];
}

/**
 * Parse `Sec-WebSocket-Extensions` (RFC 6455 §9.1):
 *   extension-list = 1#extension
 *   extension      = extension-token *( OWS ";" OWS extension-param )
 *   extension-param = token [ OWS "=" OWS ( token / quoted-string ) ]
 * A quoted value must itself be a token once unescaped. Elements are returned in order (the same
 * extension may be offered several times with different parameters). Throws `HeaderSyntaxError`.
 */
export function parseExtensions(value: string, header = 'Sec-WebSocket-Extensions'): ExtensionOffer[] {
  const offers: ExtensionOffer[] = [];
  const length = value.length;
  let i = 0;

  const skipOws = (): void => {
    while (i < length && isOws(value.charCodeAt(i))) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < length && isTokenChar(value.charCodeAt(i))) i++;
    if (i === start) throw new HeaderSyntaxError(header, i, describe(value, i));
    return value.slice(start, i);
  };
  const readQuoted = (): string => {
    const open = i;
    i++; // opening quote
    let text = '';
    let start = i;
    for (;;) {
      if (i >= length) throw new HeaderSyntaxError(header, open, 'unterminated quoted-string');
      const code = value.charCodeAt(i);
      if (code === DQUOTE) {
        text += value.slice(start, i);
        i++;
        break;
      }
      if (code === BACKSLASH) {
        text += value.slice(start, i);
        i++;
        if (i >= length) throw new HeaderSyntaxError(header, open, 'unterminated quoted-string');
        start = i; // the escaped character is kept, checked as a token character below
        i++;
        continue;
      }
      i++;
    }
    if (!isToken(text)) throw new HeaderSyntaxError(header, open, 'quoted value is not a token');
    return text;
  };

  for (;;) {
    skipOws();
    if (i < length && value.charCodeAt(i) === COMMA) {
      i++; // an empty list element
      continue;
    }
    if (i === length) break;
    const name = readToken();
    const params: ExtensionParam[] = [];
    skipOws();
    while (i < length && value.charCodeAt(i) === SEMICOLON) {
      i++;
      skipOws();
      const paramName = readToken();
      skipOws();
      let paramValue: string | null = null;
      if (i < length && value.charCodeAt(i) === EQUALS) {
        i++;
        skipOws();
        paramValue = i < length && value.charCodeAt(i) === DQUOTE ? readQuoted() : readToken();
        skipOws();
      }
      params.push({ name: paramName, value: paramValue });
    }
    offers.push({ name, params });
    if (i === length) break;
    if (value.charCodeAt(i) !== COMMA) throw new HeaderSyntaxError(header, i, describe(value, i));
    i++;
  }
  if (offers.length === 0) throw new HeaderSyntaxError(header, 0, 'empty list');
  return offers;
}

/** Serialize extension offers or responses back into a header value. */
export function formatExtensions(offers: readonly ExtensionOffer[]): string {
  let out = '';
  for (let o = 0; o < offers.length; o++) {
    const offer = offers[o]!;
    if (o > 0) out += ', ';
    out += offer.name;
    for (const param of offer.params) {
      out += '; ' + param.name;
      if (param.value !== null) out += '=' + param.value;
    }
  }
  return out;
}

/**
 * Case-insensitive membership test on a token list (e.g. `Connection: keep-alive, Upgrade`); a value
 * that is not a valid token list contains nothing.
 */
export function listContainsToken(value: string, token: string): boolean {
  const wanted = token.toLowerCase();
  // The usual value is the token alone ("Upgrade"): a one-item list, nothing to parse.
  if (value.length === wanted.length && equalsAsciiLowercase(value, wanted)) return true;
  try {
    for (const item of parseTokenList(value)) if (item.toLowerCase() === wanted) return true;
  } catch {
    return false;
  }
  return false;
}

/** Whether `value` is `lower` (all lowercase) but for the case of its ASCII letters (A-Z only: no Unicode case mapping). */
function equalsAsciiLowercase(value: string, lower: string): boolean {
  for (let i = 0; i < value.length; i++) {
    let c = value.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}
