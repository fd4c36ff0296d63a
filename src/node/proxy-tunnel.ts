/**
 * The tunnel for a resolved proxy, by its scheme: `http:`/`https:` → HTTP CONNECT (http-tunnel.ts),
 * `socks5:`/`socks5h:` → SOCKS5 (socks-tunnel.ts; RFC 1928, credentials RFC 1929).
 */
import { openHttpTunnel } from './http-tunnel.js';
import { openSocksTunnel } from './socks-tunnel.js';
import type { ResolvedProxy } from './proxy-environment.js';
import { ProxyError, type TunnelCallback } from './proxy-tunnel-types.js';
import { TunnelAttempt } from './tunnel-attempt.js';

/** Open a tunnel to `host:port` through `proxy`; the returned function abandons it. */
export function openProxyTunnel(proxy: ResolvedProxy, host: string, port: number, callback: TunnelCallback): () => void {
  const { url } = proxy;
  switch (url.protocol) {
    case 'http:':
    case 'https:':
      return openHttpTunnel(
        {
          proxy: url,
          host,
          port,
          ...(proxy.headers !== undefined && { headers: proxy.headers }),
          ...(proxy.credentials !== undefined && { credentials: proxy.credentials }),
          ...(proxy.tls !== undefined && { tls: proxy.tls }),
        },
        callback,
      );
    case 'socks5:':
    case 'socks5h:':
      return openSocksTunnel({ proxy: withCredentials(url, proxy.credentials), host, port }, callback);
    default:
      return new TunnelAttempt(callback).failSoon(new ProxyError('FD_ERR_PROXY_URL', url, `unsupported proxy scheme ${url.protocol}`));
  }
}

/**
 * SOCKS5 reads its credentials from the URL's userinfo: the `credentials` of the proxy option, when
 * given, take the place of any in the URL (as they do for HTTP proxies).
 */
function withCredentials(url: URL, credentials: ResolvedProxy['credentials']): URL {
  if (credentials === undefined) return url;
  const copy = new URL(url.href);
  copy.username = encodeURIComponent(credentials.username);
  copy.password = encodeURIComponent(credentials.password);
  return copy;
}
