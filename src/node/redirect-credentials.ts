/**
 * Which credentials each request of a client handshake carries when redirects are followed.
 *
 * As in `ws` 8 (which follows curl 7.77): the `Authorization` and `Cookie` headers, and the `auth`
 * option or the URL's userinfo (sent as `Authorization: Basic`), belong to the first URL's host — its
 * `URL.host`, host and port as written, the default port left out. A request to another host, or from
 * `wss:` down to `ws:` on the same host, goes without them; a `Host` header given by the user goes only
 * to the first host. The checks are against the first URL, not the previous hop: a chain that comes
 * back to the first host sends them again there. Unlike `ws`, they are dropped even when a `redirect`
 * listener is attached (`ws` then leaves them all to the listener); a listener that trusts the target can
 * set them again with `request.setHeader()`.
 */
import type { OutgoingHttpHeaders } from 'node:http';

export class RedirectCredentials {
  readonly #firstHost: string;
  readonly #firstSecure: boolean;
  /** The user's headers, and the `Authorization` made from `auth` once it is known (the first one wins, as in curl). */
  readonly #headers: OutgoingHttpHeaders;

  constructor(first: URL, headers: OutgoingHttpHeaders | undefined) {
    this.#firstHost = endpointOf(first);
    this.#firstSecure = first.protocol === 'wss:';
    this.#headers = { ...headers };
  }

  /**
   * The headers of the request to `target` (a `ws:`/`wss:` URL). `auth` is `user:password`, from the
   * target's userinfo or the `auth` option; it becomes `Authorization: Basic` unless one is set already.
   */
  headersFor(target: URL, auth: string | undefined): OutgoingHttpHeaders {
    const sameHost = endpointOf(target) === this.#firstHost;
    const trusted = sameHost && !(this.#firstSecure && target.protocol !== 'wss:');
    if (!trusted) {
      const headers: OutgoingHttpHeaders = {};
      for (const [name, value] of Object.entries(this.#headers)) {
        const lower = name.toLowerCase();
        if (lower === 'authorization' || lower === 'cookie' || (lower === 'host' && !sameHost)) continue;
        headers[name] = value;
      }
      return headers;
    }
    if (auth !== undefined && auth !== '' && !hasHeader(this.#headers, 'authorization')) {
      this.#headers['authorization'] = `Basic ${Buffer.from(auth).toString('base64')}`;
    }
    return { ...this.#headers };
  }
}

/** Whom a URL reaches: its `host`, or for `ws+unix:` the socket's path (two sockets are two parties). */
function endpointOf(url: URL): string {
  return url.protocol === 'ws+unix:' ? `unix:${ipcTarget(url).socketPath}` : url.host;
}

/**
 * A `ws+unix:/path/to/socket:/request/path?query` URL (as `ws` spells them): the Unix socket's path
 * before the first ':' of the pathname, the request's path after it ('/' when there is none).
 */
export function ipcTarget(url: URL): { socketPath: string; path: string } {
  const pathname = url.pathname;
  const colon = pathname.indexOf(':');
  if (colon === -1) return { socketPath: pathname, path: `/${url.search}` };
  const path = pathname.slice(colon + 1);
  return { socketPath: pathname.slice(0, colon), path: `${path === '' ? '/' : path}${url.search}` };
}

/** `user:password` from a URL's userinfo, percent-decoded (as `ws` does), or undefined when it has none. */
export function userinfoOf(url: URL): string | undefined {
  if (url.username === '' && url.password === '') return undefined;
  return `${percentDecode(url.username)}:${percentDecode(url.password)}`;
}

function percentDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text; // a stray '%' stays as written
  }
}

function hasHeader(headers: OutgoingHttpHeaders, lowerName: string): boolean {
  return Object.keys(headers).some((name) => name.toLowerCase() === lowerName && headers[name] !== undefined);
}
