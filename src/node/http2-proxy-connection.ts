/**
 * The connection under an HTTP/2 session that goes through a proxy (RFC 8441 over a tunnel): the
 * tunnel first (`openProxyTunnel`: HTTP CONNECT, RFC 9110 §9.3.6, or SOCKS5, RFC 1928), then
 *
 * - for https (wss://): TLS to the target inside the tunnel, with ALPN ["h2", "http/1.1"] (RFC 7301),
 *   SNI and the certificate checked against the target with the client's TLS options, never the
 *   proxy's. The target's ALPN choice is known before any HTTP/2 byte is sent: "h2" gives the socket
 *   to an HTTP/2 session; anything else is reported with the socket still open, so that an HTTP/1.1
 *   handshake can take it over (no second tunnel);
 * - for http (ws://, h2c with prior knowledge, RFC 9113 §3.3): the tunnel itself.
 */
import { connect as tlsConnect, type ConnectionOptions as TlsConnectionOptions, type TLSSocket } from 'node:tls';
import { isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ResolvedProxy } from './proxy-environment.js';
import { openProxyTunnel } from './proxy-tunnel.js';
import type { ProxyError } from './proxy-tunnel-types.js';
import { bareHostname } from './url-host.js';

/** What came out of the tunnel: a connection for HTTP/2, or the reason the target will not speak it. */
export type ProxiedConnection =
  | { readonly http2: true; readonly socket: Duplex }
  /** `socket`: the TLS connection to the target (ALPN chose HTTP/1.1 or nothing), null when it failed. */
  | { readonly http2: false; readonly reason: string; readonly socket: Duplex | null };

export type ProxiedConnectionCallback = (error: Error | null, connection?: ProxiedConnection) => void;

/** ALPN for the TLS inside the tunnel: HTTP/2 first, HTTP/1.1 so that a fallback can keep the connection. */
const ALPN = ['h2', 'http/1.1'];

/** The reason given when the target does not choose "h2" by ALPN (`false`: it chose nothing). */
export function alpnReason(chosen: string | false | null | undefined): string {
  return typeof chosen === 'string' && chosen !== ''
    ? `the server chose ${JSON.stringify(chosen)} by TLS ALPN, not "h2"`
    : 'the server does not offer HTTP/2 (TLS ALPN "h2")';
}

/**
 * Open a connection to `target` (ws:/wss:) through `proxy`; `tls` holds the client's TLS options (for
 * wss://). Calls back once, unless the returned function abandons the attempt first (it then destroys
 * whatever was opened, and never calls back).
 */
export function openProxiedConnection(proxy: ResolvedProxy, target: URL, tls: TlsConnectionOptions, callback: ProxiedConnectionCallback): () => void {
  const secure = target.protocol === 'wss:';
  const host = bareHostname(target);
  const port = target.port === '' ? (secure ? 443 : 80) : Number(target.port);
  let done = false;
  let tlsSocket: TLSSocket | null = null;

  const finish = (error: Error | null, connection?: ProxiedConnection): void => {
    if (done) return;
    done = true;
    callback(error, connection);
  };

  const cancelTunnel = openProxyTunnel(proxy, host, port, (error: ProxyError | null, tunnel?: Socket | Duplex) => {
    if (done) {
      tunnel?.destroy();
      return;
    }
    if (error !== null || tunnel === undefined) {
      finish(error ?? new Error('The proxy tunnel closed'));
      return;
    }
    if (!secure) {
      finish(null, { http2: true, socket: tunnel });
      return;
    }
    // The tunnel's own failures surface as the TLS socket's (it reads and writes through it).
    tunnel.on('error', () => {});
    const socket = tlsConnect({
      ...tls,
      socket: tunnel as Socket,
      host,
      // SNI names a host, never an IP address (RFC 6066 §3); the identity check still uses `host`.
      servername: tls.servername ?? (isIP(host) === 0 ? host : ''),
      ALPNProtocols: ALPN,
    });
    tlsSocket = socket;
    const onError = (tlsError: Error & { code?: string }): void => {
      socket.destroy();
      // A server whose ALPN list has neither protocol refuses the handshake (RFC 7301 §3.2).
      if (tlsError.code === 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL') finish(null, { http2: false, reason: alpnReason(false), socket: null });
      else finish(tlsError);
    };
    socket.once('error', onError);
    socket.once('secureConnect', () => {
      socket.removeListener('error', onError);
      if (done) {
        socket.destroy();
        return;
      }
      // Until the session or the HTTP/1.1 request takes it, an error must not go unheard.
      socket.on('error', () => {});
      const chosen = socket.alpnProtocol;
      if (chosen === 'h2') finish(null, { http2: true, socket });
      else finish(null, { http2: false, reason: alpnReason(chosen), socket });
    });
  });

  return () => {
    if (done) return;
    done = true;
    cancelTunnel();
    (tlsSocket as TLSSocket | null)?.destroy();
  };
}
