/**
 * `fullduplex connect --http2` when a proxy applies (from --proxy or the environment). The client
 * opens HTTP/2 sessions by itself and cannot tunnel them through a proxy yet (src/node/client.ts
 * throws a TypeError for `http2: 'require'`/`'h2c'` with a proxy); `--try-http2` (`http2: true`) goes
 * over HTTP/1.1 through the proxy instead, as browsers fall back. This finds the conflict before the
 * client is made, so that the command says it in one line, with the ways out, and exits with 2.
 */
import { resolveProxy, type ProxyOption } from '../node/proxy-environment.js';
import { redactProxyUrl } from '../node/proxy-tunnel-types.js';

/**
 * The one-line complaint when `--http2` meets a proxy for `url`, or null when there is none (no
 * --http2, no proxy for this target, or a URL or proxy the client will report itself).
 */
export function http2ProxyConflict(url: string, http2: 'require' | 'try' | undefined, proxy: ProxyOption | undefined, env: NodeJS.ProcessEnv): string | null {
  if (http2 !== 'require') return null;
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return null; // the client's SyntaxError says what is wrong with the URL
  }
  let resolved;
  try {
    resolved = resolveProxy(target, proxy, env);
  } catch {
    return null; // an unusable proxy URL in the environment: the client reports it, naming the variable
  }
  if (resolved === null) return null;
  const from = resolved.source === 'option' ? '--proxy' : `$${resolved.source}`;
  return (
    `--http2 cannot go through the proxy ${redactProxyUrl(resolved.url)} (from ${from}): WebSockets over HTTP/2 ` +
    'are not tunnelled through proxies; use --no-proxy to connect directly, or --try-http2 to go over HTTP/1.1 through the proxy'
  );
}
