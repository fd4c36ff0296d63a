/**
 * What every proxy tunnel (HTTP CONNECT, RFC 9110 §9.3.6; SOCKS5, RFC 1928/1929) shares: the request
 * to open one, the callback that receives the tunnel's socket, and the error that names the proxy.
 * The client's handshake then runs through the socket as if it were a direct connection (TLS to the
 * target inside it for wss://: SNI and certificate checks against the target, never the proxy).
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** Open a tunnel to `host:port` through `proxy`. */
export interface TunnelRequest {
  /** The proxy: `http:`, `https:`, `socks5:` (the client resolves the target) or `socks5h:` (the proxy does). */
  readonly proxy: URL;
  /** The target host (a name or an IP address, without brackets) and port. */
  readonly host: string;
  readonly port: number;
}

/** Receives the tunnel (its socket, reading the target's bytes) or the error that ended the attempt. */
export type TunnelCallback = (error: ProxyError | null, socket?: Socket | Duplex) => void;

/**
 * Opens a tunnel; the callback runs once, never synchronously. The returned function abandons the
 * attempt: before the callback has run, it destroys whatever the attempt opened and the callback never
 * runs; after the callback has delivered a socket, it does nothing (the socket is the caller's).
 * tunnel-attempt.ts implements this once for every opener.
 */
export type TunnelOpener = (request: TunnelRequest, callback: TunnelCallback) => () => void;

/** Stable identifiers of proxy failures. */
export type ProxyErrorCode =
  /** The proxy could not be reached (refused, unreachable, DNS, TLS to an https:// proxy). */
  | 'FD_ERR_PROXY_CONNECT'
  /** An HTTP proxy answered CONNECT with a status other than 2xx (407, 403, 502, ...): see `status`. */
  | 'FD_ERR_PROXY_STATUS'
  /** A SOCKS5 proxy refused the method or the credentials (RFC 1929). */
  | 'FD_ERR_PROXY_AUTH'
  /** A SOCKS5 proxy answered CONNECT with a failure reply (RFC 1928 §6): see `reply`. */
  | 'FD_ERR_PROXY_REFUSED'
  /** The proxy's answer was not HTTP or SOCKS5 as specified, or too large. */
  | 'FD_ERR_PROXY_RESPONSE'
  /** The proxy closed the connection before the tunnel was open. */
  | 'FD_ERR_PROXY_CLOSED'
  /** The proxy URL or its credentials are unusable (unknown scheme, credentials too long). */
  | 'FD_ERR_PROXY_URL';

/**
 * A proxy failure. The message names the proxy (its URL without credentials) and what it said; the
 * WebSocket then closes with 1006, as for any failed opening handshake.
 */
export class ProxyError extends Error {
  /** Always `'ProxyError'`. */
  override readonly name = 'ProxyError';
  /** What failed ({@link ProxyErrorCode}). */
  readonly code: ProxyErrorCode;
  /** The proxy's URL, credentials removed. */
  readonly proxy: string;
  /** HTTP proxies: the status of the answer to CONNECT. */
  readonly status: number | undefined;
  /** SOCKS5 proxies: the reply code (RFC 1928 §6). */
  readonly reply: number | undefined;

  constructor(code: ProxyErrorCode, proxy: URL, message: string, details: { status?: number; reply?: number; cause?: unknown } = {}) {
    const shown = redactProxyUrl(proxy);
    super(`Proxy ${shown}: ${message}`, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.proxy = shown;
    this.status = details.status;
    this.reply = details.reply;
  }
}

/** The proxy URL as it may be shown in errors and logs: scheme, host and port, never credentials. */
export function redactProxyUrl(proxy: URL): string {
  return `${proxy.protocol}//${proxy.host}`;
}
