/**
 * The client's address from forwarding headers, trusting only configured proxies (pure: header values
 * and the peer's address in, an address out; src/node/client-address.ts reads a request with it).
 *
 * Headers:
 * - `Forwarded` (RFC 7239): a list of elements (§4), one per proxy, each `pair *(";" pair)` with
 *   `pair = token "=" (token / quoted-string)`; only `for=` is read (§5.2), a node (§6): an IPv4
 *   address, a quoted `"[IPv6]"`, `unknown` (§6.2) or an obfuscated identifier `_name` (§6.3), each with
 *   an optional `:port`. A parameter twice in one element (§4: MUST NOT) or any syntax error makes that
 *   element invalid.
 * - `X-Forwarded-For` (de facto): a comma-separated list of addresses, nearest proxy's peer last;
 *   entries may carry a port (`203.0.113.7:4711`, `[2001:db8::1]:4711`, as some load balancers write).
 *
 * The walk (as Express's `trust proxy` and RFC 7239 §8.1 describe it): start at the socket's peer (hop
 * 0); while the current hop is trusted, step to the next entry from the right. The first untrusted hop
 * is the client. Entries left of it were written by the client or an untrusted proxy and are never
 * looked at, so anything an untrusted peer sends is ignored. When the walk reaches an entry that is
 * not an address (`unknown`, garbage), it stops at the nearest address it knows (the trusted proxy
 * that wrote the entry); when every entry is trusted, the leftmost one is the client.
 *
 * Hostile input: parsing is linear in the header's length and keeps only the last `MAX_FORWARDED_HOPS`
 * entries (a walk longer than that stops at the last one kept); each header line is parsed on its
 * own, so an unterminated quoted string in a line a client wrote cannot swallow the line a proxy added.
 */
import { canonicalIP, parseRanges, inRange, parseIP, type IPRange } from './ip-address.js';

/** One hop of a forwarding header. */
export type ForwardedNode =
  | { readonly kind: 'ip'; readonly address: string; readonly port?: number }
  | { readonly kind: 'obfuscated'; readonly name: string }
  | { readonly kind: 'unknown' }
  | { readonly kind: 'invalid' };

/** The most entries kept from the right of the forwarding headers. */
export const MAX_FORWARDED_HOPS = 64;

/** Which header carries the chain: the one your proxies write (the other is ignored: a client could write it). */
export type ForwardedHeaderName = 'x-forwarded-for' | 'forwarded';

/**
 * Whom to trust as a proxy (the `trustProxy` server option):
 * - `false` / unset: nobody (the socket's peer is the client);
 * - a number n: the n nearest hops, whatever their address (1 = only the socket's peer);
 * - addresses, CIDR ranges and the names `loopback`, `linklocal`, `uniquelocal`, as an array or one
 *   comma-separated string (`'loopback, 10.0.0.0/8'`);
 * - a function `(address, hop) => boolean`: `address` is an IP address (canonical text) or an obfuscated
 *   identifier (`_name`, from `Forwarded`), `hop` 0 for the socket's peer, 1 for the entry it wrote, ...
 */
export type TrustProxy = false | number | string | readonly string[] | ((address: string, hop: number) => boolean);

/** A compiled `TrustProxy`: whether the hop's address is a trusted proxy. */
export type TrustTest = (address: string, hop: number) => boolean;

const NEVER: TrustTest = () => false;

/** Check and compile a `TrustProxy` value; TypeError/RangeError naming the bad entry. */
export function compileTrust(option: TrustProxy | undefined): TrustTest {
  if (option === undefined || option === false) return NEVER;
  if (typeof option === 'function') return option;
  if (typeof option === 'number') {
    if (!Number.isInteger(option) || option < 0) throw new RangeError(`trustProxy as a number counts trusted hops: a whole number >= 0, not ${option}`);
    return option === 0 ? NEVER : (_address, hop) => hop < option;
  }
  if ((option as unknown) === true) {
    throw new TypeError('trustProxy: true would trust every hop, so any client could choose its address: give the proxies\' addresses (e.g. ["10.0.0.0/8"]) or a number of hops');
  }
  let entries: readonly unknown[];
  if (typeof option === 'string') entries = option.split(',');
  else if (Array.isArray(option)) entries = option;
  else throw new TypeError('trustProxy must be false, a number of hops, an address list (array or comma-separated string), or a function');
  const ranges: IPRange[] = [];
  for (const raw of entries) {
    if (typeof raw !== 'string') throw new TypeError('trustProxy entries must be strings (addresses, CIDR ranges, or loopback/linklocal/uniquelocal)');
    const entry = raw.trim();
    if (entry === '') continue;
    const parsed = parseRanges(entry);
    if (parsed === null) throw new TypeError(`trustProxy entry "${entry}" is not an IP address, a CIDR range, or one of loopback, linklocal, uniquelocal`);
    ranges.push(...parsed);
  }
  if (ranges.length === 0) return NEVER;
  return (address) => {
    const bytes = parseIP(address);
    return bytes !== null && ranges.some((range) => inRange(bytes, range));
  };
}

/**
 * The client's address: `peer` is the socket's peer (hop 0), `chain` the forwarding header's entries,
 * nearest last. See the walk above.
 */
export function resolveClientAddress(peer: string, chain: readonly ForwardedNode[], trust: TrustTest): string {
  let current = peer;
  let hop = 0;
  for (let i = chain.length - 1; i >= 0; i--) {
    if (!trust(current, hop)) return current;
    const node = chain[i]!;
    if (node.kind === 'ip') current = node.address;
    else if (node.kind === 'obfuscated') current = node.name;
    else return current; // unknown or invalid: nothing further can be believed
    hop++;
  }
  return current;
}

/** Header values as the request has them: one string per header line (or a joined string), or none. */
export type HeaderLines = string | readonly string[] | undefined;

function linesOf(value: HeaderLines): readonly string[] {
  return value === undefined ? [] : typeof value === 'string' ? [value] : value;
}

/** Keep at most `limit` entries (the rightmost): trims in batches, so a long header stays linear. */
function keepLast(nodes: ForwardedNode[], limit: number): void {
  if (nodes.length > 2 * limit) nodes.splice(0, nodes.length - limit);
}

/** The entries of `X-Forwarded-For` lines, nearest last (at most `limit`). */
export function parseXForwardedFor(value: HeaderLines, limit = MAX_FORWARDED_HOPS): ForwardedNode[] {
  const nodes: ForwardedNode[] = [];
  for (const line of linesOf(value)) {
    let start = 0;
    while (start <= line.length) {
      let end = line.indexOf(',', start);
      if (end === -1) end = line.length;
      const entry = line.slice(start, end).trim();
      // RFC 9110 §5.6.1: empty list elements are allowed and mean nothing.
      if (entry !== '') {
        nodes.push(xffNode(entry));
        keepLast(nodes, limit);
      }
      start = end + 1;
    }
  }
  return nodes.length > limit ? nodes.slice(-limit) : nodes;
}

function xffNode(entry: string): ForwardedNode {
  if (entry.toLowerCase() === 'unknown') return { kind: 'unknown' };
  const bare = canonicalIP(entry);
  if (bare !== null) return { kind: 'ip', address: bare };
  return hostPort(entry) ?? { kind: 'invalid' };
}

/** `1.2.3.4:port`, `[v6]`, `[v6]:port` → an address node, else null. */
function hostPort(text: string): ForwardedNode | null {
  let host: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close === -1) return null;
    host = text.slice(1, close);
    const after = text.slice(close + 1);
    if (after !== '') {
      if (!after.startsWith(':')) return null;
      portText = after.slice(1);
    }
    if (!host.includes(':')) return null;
  } else {
    const colon = text.indexOf(':');
    if (colon === -1 || text.indexOf(':', colon + 1) !== -1) return null;
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) return null;
  }
  const address = canonicalIP(host);
  if (address === null) return null;
  if (portText === undefined) return { kind: 'ip', address };
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) return null;
  return { kind: 'ip', address, port: Number(portText) };
}

// RFC 9110 §5.6.2 tchar.
const TCHAR = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const OBFUSCATED = /^_[A-Za-z0-9._-]+$/;

/** The `for=` nodes of `Forwarded` lines, one per element, nearest last (at most `limit`). */
export function parseForwarded(value: HeaderLines, limit = MAX_FORWARDED_HOPS): ForwardedNode[] {
  const nodes: ForwardedNode[] = [];
  for (const line of linesOf(value)) {
    for (const element of splitElements(line)) {
      if (element === null) nodes.push({ kind: 'invalid' });
      else if (element.length > 0) nodes.push(forwardedNode(element));
      else continue;
      keepLast(nodes, limit);
    }
  }
  return nodes.length > limit ? nodes.slice(-limit) : nodes;
}

/**
 * Split one line into elements at commas outside quoted strings, each element into its `name=value`
 * pairs (value unquoted); null for a malformed element; [] for an empty one. One pass over the line.
 */
function splitElements(line: string): Array<Array<[string, string]> | null> {
  const elements: Array<Array<[string, string]> | null> = [];
  let pairs: Array<[string, string]> | null = [];
  let i = 0;
  const n = line.length;
  const skipSpace = (): void => {
    while (i < n && (line[i] === ' ' || line[i] === '\t')) i++;
  };
  const endElement = (): void => {
    elements.push(pairs);
    pairs = [];
  };
  // Skip to the next top-level comma (after a syntax error), honouring quoted strings.
  const recover = (): void => {
    pairs = null;
    while (i < n && line[i] !== ',') {
      if (line[i] === '"') {
        i++;
        while (i < n && line[i] !== '"') i += line[i] === '\\' ? 2 : 1;
      }
      i++;
    }
  };
  while (i <= n) {
    skipSpace();
    if (i >= n || line[i] === ',') {
      endElement();
      i++;
      continue;
    }
    if (line[i] === ';') {
      // An empty pair (the grammar's `[ forwarded-pair ]`).
      i++;
      continue;
    }
    const nameStart = i;
    while (i < n && line[i] !== '=' && line[i] !== ';' && line[i] !== ',' && line[i] !== ' ' && line[i] !== '\t') i++;
    const name = line.slice(nameStart, i);
    if (line[i] !== '=' || !TCHAR.test(name)) {
      recover();
      continue;
    }
    i++;
    let value: string;
    if (line[i] === '"') {
      i++;
      let text = '';
      let closed = false;
      while (i < n) {
        const c = line[i]!;
        if (c === '"') {
          closed = true;
          i++;
          break;
        }
        if (c === '\\') {
          if (i + 1 >= n) break;
          text += line[i + 1];
          i += 2;
          continue;
        }
        text += c;
        i++;
      }
      if (!closed) {
        // The rest of the line is one malformed element.
        elements.push(null);
        return elements;
      }
      value = text;
    } else {
      const valueStart = i;
      while (i < n && line[i] !== ';' && line[i] !== ',' && line[i] !== ' ' && line[i] !== '\t') i++;
      value = line.slice(valueStart, i);
      if (!TCHAR.test(value)) {
        recover();
        continue;
      }
    }
    if (pairs !== null) pairs.push([name.toLowerCase(), value]);
    skipSpace();
    if (i < n && line[i] !== ';' && line[i] !== ',') recover();
    else if (line[i] === ';') i++;
  }
  return elements;
}

function forwardedNode(pairs: ReadonlyArray<readonly [string, string]>): ForwardedNode {
  let node: ForwardedNode | null = null;
  const seen = new Set<string>();
  for (const [name, value] of pairs) {
    if (seen.has(name)) return { kind: 'invalid' }; // RFC 7239 §4: each parameter at most once per element
    seen.add(name);
    if (name === 'for') node = nodeOf(value);
  }
  // An element without `for=` does not say who the proxy's peer was.
  return node ?? { kind: 'unknown' };
}

/** RFC 7239 §6: `nodename [ ":" node-port ]`. */
function nodeOf(value: string): ForwardedNode {
  let name = value;
  let port: string | undefined;
  if (value.startsWith('[')) {
    const close = value.indexOf(']');
    if (close === -1) return { kind: 'invalid' };
    name = value.slice(0, close + 1);
    const after = value.slice(close + 1);
    if (after !== '') {
      if (!after.startsWith(':')) return { kind: 'invalid' };
      port = after.slice(1);
    }
  } else {
    const colon = value.indexOf(':');
    if (colon !== -1) {
      name = value.slice(0, colon);
      port = value.slice(colon + 1);
    }
  }
  let portNumber: number | undefined;
  if (port !== undefined) {
    if (/^\d{1,5}$/.test(port) && Number(port) <= 65535) portNumber = Number(port);
    else if (!OBFUSCATED.test(port)) return { kind: 'invalid' }; // an obfuscated port (§6.3) is allowed and ignored
  }
  if (name.toLowerCase() === 'unknown') return { kind: 'unknown' };
  if (OBFUSCATED.test(name)) return { kind: 'obfuscated', name };
  // §6.1: IPv6 in brackets, IPv4 bare.
  const bracketed = name.startsWith('[') && name.endsWith(']');
  const host = bracketed ? name.slice(1, -1) : name;
  if (bracketed !== host.includes(':')) return { kind: 'invalid' };
  const address = canonicalIP(host);
  if (address === null) return { kind: 'invalid' };
  return portNumber === undefined ? { kind: 'ip', address } : { kind: 'ip', address, port: portNumber };
}
