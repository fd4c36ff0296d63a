/**
 * The tunnel for a resolved proxy, by its scheme: `http:`/`https:` → HTTP CONNECT (http-tunnel.ts),
 * `socks5:`/`socks5h:` → SOCKS5 (not wired on this branch yet).
 */
import { openHttpTunnel } from './http-tunnel.js';
import type { ResolvedProxy } from './proxy-environment.js';
import { ProxyError, type TunnelCallback } from './proxy-tunnel-types.js';

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
    default: {
      let cancelled = false;
      const message = url.protocol === 'socks5:' || url.protocol === 'socks5h:' ? 'SOCKS5 not wired yet' : `unsupported proxy scheme ${url.protocol}`;
      process.nextTick(() => {
        if (!cancelled) callback(new ProxyError('FD_ERR_PROXY_URL', url, message));
      });
      return () => {
        cancelled = true;
      };
    }
  }
}
