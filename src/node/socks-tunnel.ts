/**
 * A tunnel through a SOCKS5 proxy (RFC 1928, username/password RFC 1929): connect to the proxy, run
 * the handshake of src/protocol/socks5.ts, and hand over the socket once the proxy has connected to
 * the target. The schemes, as curl reads them:
 * - `socks5h://proxy:1080`: the proxy resolves the target's name ("remote DNS": ATYP 3);
 * - `socks5://proxy:1080`: the client resolves it (`dns.lookup`, IPv4 or IPv6) and sends the address.
 * Credentials come from the proxy URL's userinfo, percent-decoded. Every failure is a `ProxyError`
 * naming the proxy without its credentials. The port defaults to 1080 (RFC 1928 §3).
 */
import { lookup } from 'node:dns';
import { connect, isIP } from 'node:net';
import { Socks5Error, Socks5Handshake, type Socks5Credentials, type Socks5ErrorKind } from '../protocol/socks5.js';
import { ProxyError, type ProxyErrorCode, type TunnelCallback, type TunnelOpener, type TunnelRequest } from './proxy-tunnel-types.js';
import { TunnelAttempt } from './tunnel-attempt.js';
import { bareHostname } from './url-host.js';

/** RFC 1928 §3: "The SOCKS service is conventionally located on TCP port 1080." */
export const SOCKS5_DEFAULT_PORT = 1080;

const CODES: Record<Socks5ErrorKind, ProxyErrorCode> = {
  auth: 'FD_ERR_PROXY_AUTH',
  refused: 'FD_ERR_PROXY_REFUSED',
  response: 'FD_ERR_PROXY_RESPONSE',
  request: 'FD_ERR_PROXY_URL',
};

/** The credentials in a `socks5:`/`socks5h:` URL's userinfo, percent-decoded; undefined when there are none. */
export function socksCredentials(proxy: URL): Socks5Credentials | undefined {
  if (proxy.username === '' && proxy.password === '') return undefined;
  try {
    return { username: decodeURIComponent(proxy.username), password: decodeURIComponent(proxy.password) };
  } catch (cause) {
    throw new ProxyError('FD_ERR_PROXY_URL', proxy, 'the credentials in the proxy URL are not valid percent-encoded UTF-8', { cause });
  }
}

/**
 * Open a tunnel to `host:port` through the SOCKS5 proxy `proxy` (`socks5:` or `socks5h:`). The callback
 * runs once, never synchronously, and never after the returned function was called (which destroys
 * whatever was opened, unless the callback has already handed the socket over: see tunnel-attempt.ts).
 */
export const openSocksTunnel: TunnelOpener = (request: TunnelRequest, callback: TunnelCallback): (() => void) => {
  const { proxy } = request;
  const attempt = new TunnelAttempt(callback);

  let handshake: Socks5Handshake;
  let remote: boolean;
  try {
    if (proxy.protocol !== 'socks5:' && proxy.protocol !== 'socks5h:') {
      throw new ProxyError('FD_ERR_PROXY_URL', proxy, `not a SOCKS5 proxy URL (the scheme is ${proxy.protocol}, socks5: or socks5h: was expected)`);
    }
    if (proxy.hostname === '') throw new ProxyError('FD_ERR_PROXY_URL', proxy, 'the proxy URL has no host');
    remote = proxy.protocol === 'socks5h:';
    const credentials = socksCredentials(proxy);
    // socks5h: the name goes to the proxy; socks5: the handshake is built again once it is resolved.
    handshake = new Socks5Handshake({ host: request.host, port: request.port, ...(credentials === undefined ? {} : { credentials }) });
  } catch (error) {
    return attempt.failSoon(error instanceof Socks5Error ? new ProxyError(CODES[error.kind], proxy, error.message) : (error as ProxyError));
  }

  const start = (): void => {
    const connection = connect({ host: bareHostname(proxy), port: proxy.port === '' ? SOCKS5_DEFAULT_PORT : Number(proxy.port) });
    let stage = 'the method selection';
    attempt.converse(connection, {
      connectEvent: 'connect',
      connected: () => connection.write(handshake.greeting()),
      receive: (chunk) => {
        let step;
        try {
          step = handshake.receive(chunk);
        } catch (error) {
          if (!(error instanceof Socks5Error)) throw error;
          throw new ProxyError(CODES[error.kind], proxy, error.message, error.reply === undefined ? {} : { reply: error.reply });
        }
        if (step.send !== null) {
          connection.write(step.send);
          stage = step.send[0] === 0x01 ? 'the username/password sub-negotiation' : 'CONNECT';
        }
        return step.open === null ? null : step.rest;
      },
      failed: (cause, connected) =>
        connected
          ? new ProxyError('FD_ERR_PROXY_CLOSED', proxy, `the connection failed during ${stage}: ${cause.message}`, { cause })
          : new ProxyError('FD_ERR_PROXY_CONNECT', proxy, `cannot connect to the proxy: ${cause.message}`, { cause }),
      closed: () => new ProxyError('FD_ERR_PROXY_CLOSED', proxy, `the proxy closed the connection during ${stage}`),
    });
  };

  if (remote || isIP(request.host) !== 0) {
    process.nextTick(() => {
      if (!attempt.settled) start();
    });
    return attempt.cancel;
  }
  // socks5: resolve locally, as curl does, and send the address (ATYP 1 or 4).
  const credentials = socksCredentials(proxy);
  lookup(request.host, (error, address) => {
    if (attempt.settled) return;
    if (error !== null) {
      attempt.fail(new ProxyError('FD_ERR_PROXY_CONNECT', proxy, `cannot resolve the target ${request.host} (socks5: resolves it here; socks5h: lets the proxy do it): ${error.message}`, { cause: error }));
      return;
    }
    handshake = new Socks5Handshake({ host: address, port: request.port, ...(credentials === undefined ? {} : { credentials }) });
    start();
  });
  return attempt.cancel;
};
