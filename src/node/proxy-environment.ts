/**
 * Which proxy a client uses for a ws:/wss: URL (pure: the options and an environment record in, a
 * decision out; docs/client.md "## Proxies" has the precedence table):
 *
 * 1. the user's own `agent` or `createConnection` → no proxy of ours (they connect);
 * 2. `proxy: false` → none;
 * 3. an explicit `proxy` (string, URL, or `ProxySettings`) → that one, loopback included;
 * 4. the environment, as curl and Python's urllib read it: wss → `https_proxy`/`HTTPS_PROXY`,
 *    ws → `http_proxy`/`HTTP_PROXY` (uppercase ignored when `REQUEST_METHOD` is set: a CGI request's
 *    `Proxy:` header arrives as HTTP_PROXY, "httpoxy", CVE-2016-5385), then `all_proxy`/`ALL_PROXY`;
 *    lowercase wins, an empty value counts as unset; `no_proxy`/`NO_PROXY` exempts targets, and
 *    loopback targets are never proxied from the environment unless NO_PROXY holds `<-loopback>`
 *    (Chromium's bypass-list rule that removes the implicit loopback bypass).
 */
import { isIP } from 'node:net';
import type { ProxyCredentials } from '../protocol/http-connect.js';
import type { ProxyTlsOptions } from './http-tunnel.js';
import { bareHostname } from './url-host.js';
import { inRange, isLoopbackIP, parseIP, parseRanges } from '../protocol/ip-address.js';

/** A proxy with everything it may need (the object form of the `proxy` option). */
export interface ProxySettings {
  /** `http://`, `https://`, `socks5://` or `socks5h://`, credentials allowed in the userinfo (percent-encoded). */
  readonly url: string | URL;
  /** Extra headers for the proxy's CONNECT request (HTTP proxies only; never sent to the target). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Credentials for the proxy, instead of the URL's userinfo. */
  readonly credentials?: ProxyCredentials;
  /** TLS options for an `https://` proxy: its certificate is checked against these (`ca`, `rejectUnauthorized`, ...), not the target's. */
  readonly tls?: ProxyTlsOptions;
}

/** The `proxy` client option: a proxy, or `false` for none; unset = from the environment. */
export type ProxyOption = string | URL | ProxySettings | false;

/** The proxy chosen for one target. */
export interface ResolvedProxy {
  readonly url: URL;
  readonly headers?: Readonly<Record<string, string>>;
  readonly credentials?: ProxyCredentials;
  readonly tls?: ProxyTlsOptions;
  /** Where it came from: `'option'` or the environment variable's name. */
  readonly source: string;
}

export type ProxyEnvironment = Readonly<Record<string, string | undefined>>;

const SCHEMES = new Set(['http:', 'https:', 'socks5:', 'socks5h:']);

/** Parse a proxy URL (a bare `host:port` means `http://host:port`, as in curl). TypeError when unusable. */
export function parseProxyUrl(value: string | URL, source: string): URL {
  let url: URL;
  try {
    url = value instanceof URL ? new URL(value.href) : new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(value.trim()) ? value.trim() : `http://${value.trim()}`);
  } catch {
    throw new TypeError(`Invalid proxy URL from ${source}`);
  }
  if (!SCHEMES.has(url.protocol)) throw new TypeError(`Unsupported proxy scheme "${url.protocol}" from ${source} (http:, https:, socks5:, socks5h:)`);
  if (url.hostname === '') throw new TypeError(`The proxy URL from ${source} has no host`);
  return url;
}

/** Check the explicit `proxy` option (TypeError when unusable); null for `false`, undefined when unset. */
export function proxyFromOption(option: ProxyOption | undefined): ResolvedProxy | null | undefined {
  if (option === undefined) return undefined;
  if (option === false) return null;
  if (typeof option === 'string' || option instanceof URL) return { url: parseProxyUrl(option, 'the proxy option'), source: 'option' };
  if (typeof option !== 'object' || option === null || !('url' in option)) {
    throw new TypeError('The proxy option must be a URL string, a URL, an object with a url, or false');
  }
  const { url, headers, credentials, tls } = option;
  return { url: parseProxyUrl(url, 'the proxy option'), source: 'option', headers, credentials, tls };
}

/**
 * The proxy for `target`: the explicit option, else the environment. `ownConnection` is true when the
 * caller brings an `agent` or `createConnection` (then no proxy of ours). Throws TypeError for an
 * unusable proxy URL (naming the variable it came from).
 */
export function resolveProxy(target: URL, option: ProxyOption | undefined, env: ProxyEnvironment, ownConnection = false): ResolvedProxy | null {
  if (ownConnection) return null;
  if (target.protocol !== 'ws:' && target.protocol !== 'wss:') return null;
  const explicit = proxyFromOption(option);
  if (explicit !== undefined) return explicit;
  return proxyFromEnvironment(target, env);
}

/** The environment's proxy for `target` (ws:/wss:, or http:/https:), or null. */
export function proxyFromEnvironment(target: URL, env: ProxyEnvironment): ResolvedProxy | null {
  const secure = target.protocol === 'wss:' || target.protocol === 'https:';
  const candidates = secure ? ['https_proxy', 'HTTPS_PROXY'] : env['REQUEST_METHOD'] === undefined ? ['http_proxy', 'HTTP_PROXY'] : ['http_proxy'];
  candidates.push('all_proxy', 'ALL_PROXY');
  const variable = candidates.find((name) => nonEmpty(env[name]) !== undefined);
  if (variable === undefined) return null;
  const host = hostOf(target);
  const port = target.port === '' ? (secure ? 443 : 80) : Number(target.port);
  const noProxy = nonEmpty(env['no_proxy']) ?? nonEmpty(env['NO_PROXY']) ?? '';
  if (bypassesProxy(host, port, noProxy)) return null;
  return { url: parseProxyUrl(env[variable]!, `$${variable}`), source: variable };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

/** The host of a URL without IPv6 brackets or a trailing dot, lower-cased. */
function hostOf(url: URL): string {
  const host = bareHostname(url);
  return host.toLowerCase().replace(/\.$/, '');
}

/** localhost, *.localhost (RFC 6761 §6.3), 127.0.0.0/8, ::1 (and 127.x mapped into IPv6). */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  return isIP(h) !== 0 && isLoopbackIP(h);
}

/**
 * Whether NO_PROXY (or the implicit loopback rule) exempts `host:port`. Entries are separated by
 * commas or whitespace, case-insensitive:
 * - `*` alone: every host;
 * - `example.com`, `.example.com`, `*.example.com`: that host and every subdomain (curl's tail match
 *   at a dot boundary; `notexample.com` does not match);
 * - `name:port`, `[v6]:port`, `v4:port`: that host on that port only;
 * - an IPv4 or IPv6 address, or a CIDR range (`10.0.0.0/8`, `fd00::/8`): literal IP targets in it
 *   (host names are not resolved, as in curl);
 * - `<-loopback>`: do proxy loopback targets too (Chromium's rule); without it they never are.
 */
export function bypassesProxy(host: string, port: number, noProxy: string): boolean {
  const target = host.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
  const entries = noProxy.split(/[\s,]+/).map((entry) => entry.trim().toLowerCase()).filter((entry) => entry !== '');
  if (!entries.includes('<-loopback>') && isLoopback(target)) return true;
  for (const entry of entries) {
    if (entry === '*') return true;
    if (entry === '<-loopback>') continue;
    const { pattern, entryPort } = splitPort(entry);
    if (entryPort !== undefined && entryPort !== port) continue;
    if (matches(target, pattern)) return true;
  }
  return false;
}

/** `host:port`, `[v6]:port`, `[v6]`, a bare IPv6 address (no port: its colons are the address's). */
function splitPort(entry: string): { pattern: string; entryPort: number | undefined } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracketed !== null) return { pattern: bracketed[1]!, entryPort: bracketed[2] === undefined ? undefined : Number(bracketed[2]) };
  const colons = entry.split(':').length - 1;
  if (colons === 1) {
    const [name = '', port = ''] = entry.split(':');
    if (/^\d+$/.test(port)) return { pattern: name, entryPort: Number(port) };
  }
  return { pattern: entry, entryPort: undefined };
}

function matches(target: string, pattern: string): boolean {
  if (pattern.includes('/') || isIP(pattern) !== 0) {
    // An address or a CIDR range: literal IP targets only (src/protocol/ip-address.ts).
    const address = isIP(target) === 0 ? null : parseIP(target);
    const ranges = parseRanges(pattern);
    return address !== null && ranges !== null && ranges.some((range) => inRange(address, range));
  }
  const domain = pattern.replace(/^\*?\./, '').replace(/\.$/, '');
  if (domain === '') return false;
  return target === domain || target.endsWith(`.${domain}`);
}
