/**
 * A tunnel through an HTTP proxy (RFC 9110 §9.3.6 CONNECT): TCP to an `http:` proxy, or TLS to an
 * `https:` proxy (SNI and certificate checks against the PROXY, with the proxy's own TLS options), the
 * CONNECT request, and on a 2xx answer the socket itself, carrying the target's bytes. Anything else
 * is a `ProxyError` naming the proxy (never its credentials) and what it said.
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import {
  buildConnectRequest,
  connectAuthority,
  credentialsFromUrl,
  ConnectResponseParser,
  ConnectResponseError,
  headerValue,
  type ConnectResponse,
  type ProxyCredentials,
} from '../protocol/http-connect.js';
import { ProxyError, type TunnelCallback, type TunnelRequest } from './proxy-tunnel-types.js';
import { TunnelAttempt } from './tunnel-attempt.js';
import { bareHostname } from './url-host.js';

/** TLS options for an `https:` proxy (its certificate, not the target's). */
export type ProxyTlsOptions = Omit<TlsConnectionOptions, 'host' | 'port' | 'socket' | 'path'>;

/** What an HTTP proxy tunnel may be given beyond the shared `TunnelRequest`. */
export interface HttpTunnelRequest extends TunnelRequest {
  /** Extra headers for the CONNECT request (for the proxy only). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Credentials for `Proxy-Authorization: Basic`; default: the proxy URL's percent-decoded userinfo. */
  readonly credentials?: ProxyCredentials | null;
  /** TLS options for an `https:` proxy (`ca`, `rejectUnauthorized`, `servername`, `cert`, `key`...). */
  readonly tls?: ProxyTlsOptions;
  /** The largest answer head accepted. Default 16 KiB. */
  readonly headLimit?: number;
}

/** The proxy's host (brackets removed) and port (the URL's, else 80 for http:, 443 for https:). */
export function proxyEndpoint(proxy: URL): { host: string; port: number } {
  const host = bareHostname(proxy);
  return { host, port: proxy.port === '' ? (proxy.protocol === 'https:' ? 443 : 80) : Number(proxy.port) };
}

/** Open a CONNECT tunnel to `request.host:request.port` through the HTTP(S) proxy `request.proxy`. */
export function openHttpTunnel(request: HttpTunnelRequest, callback: TunnelCallback): () => void {
  const { proxy } = request;
  const attempt = new TunnelAttempt(callback);
  if (proxy.protocol !== 'http:' && proxy.protocol !== 'https:') {
    return attempt.failSoon(new ProxyError('FD_ERR_PROXY_URL', proxy, `not an HTTP proxy URL (scheme ${proxy.protocol})`));
  }
  let head: Buffer;
  try {
    const credentials = request.credentials !== undefined ? request.credentials : credentialsFromUrl(proxy);
    head = buildConnectRequest({ host: request.host, port: request.port, credentials, headers: request.headers });
  } catch (error) {
    return attempt.failSoon(new ProxyError('FD_ERR_PROXY_URL', proxy, (error as Error).message, { cause: error }));
  }
  const authority = connectAuthority(request.host, request.port);
  const { host, port } = proxyEndpoint(proxy);
  const secure = proxy.protocol === 'https:';
  const socket: Socket = secure
    ? tlsConnect({ ...request.tls, host, port, servername: request.tls?.servername ?? (isIP(host) === 0 ? host : undefined), ALPNProtocols: ['http/1.1'] })
    : netConnect({ host, port });
  const parser = new ConnectResponseParser(request.headLimit);

  attempt.converse(socket, {
    connectEvent: secure ? 'secureConnect' : 'connect',
    connected: () => socket.write(head),
    receive: (chunk) => {
      let response: ConnectResponse | null;
      try {
        response = parser.push(chunk);
      } catch (error) {
        const message = error instanceof ConnectResponseError ? error.message : String(error);
        throw new ProxyError('FD_ERR_PROXY_RESPONSE', proxy, `invalid answer to CONNECT ${authority}: ${message}`, { cause: error });
      }
      if (response === null) return null;
      if (response.status < 200 || response.status >= 300) {
        throw new ProxyError('FD_ERR_PROXY_STATUS', proxy, describeRefusal(response, authority, request), { status: response.status });
      }
      // RFC 9110 §9.3.6: after the blank line the connection is the tunnel; bytes already read are the target's.
      return response.rest;
    },
    failed: (cause, connected) =>
      connected
        ? new ProxyError('FD_ERR_PROXY_CLOSED', proxy, `the connection failed before the tunnel to ${authority} was open: ${cause.message}`, { cause })
        : new ProxyError('FD_ERR_PROXY_CONNECT', proxy, `cannot connect: ${cause.message}`, { cause }),
    closed: () => new ProxyError('FD_ERR_PROXY_CLOSED', proxy, `closed the connection before answering CONNECT ${authority}`),
  });
  return attempt.cancel;
}

/** "CONNECT host:port answered 407 Proxy Authentication Required (Proxy-Authenticate: Basic; credentials were sent)". */
function describeRefusal(response: ConnectResponse, authority: string, request: HttpTunnelRequest): string {
  const line = `${response.status}${response.reason === '' ? '' : ` ${response.reason}`}`;
  let detail = '';
  // 407 is the proxy's "who are you" (RFC 9110 §15.5.8); some proxies (tinyproxy 1.11, for wrong
  // credentials) answer 401 with WWW-Authenticate instead: the same refusal, said the origin's way.
  if (response.status === 407 || response.status === 401) {
    const field = response.status === 407 || headerValue(response, 'proxy-authenticate') !== undefined ? 'Proxy-Authenticate' : 'WWW-Authenticate';
    const challenge = headerValue(response, field);
    const scheme = challenge === undefined ? `no ${field} header` : `${field}: ${challenge.split(/[\s,]/)[0]}`;
    const sent = request.credentials != null || request.proxy.username !== '' || Object.keys(request.headers ?? {}).some((name) => name.toLowerCase() === 'proxy-authorization');
    detail = ` (${scheme}; ${sent ? 'the credentials given were refused' : 'no credentials were given'})`;
  }
  return `CONNECT ${authority} answered ${line}${detail}`;
}
