/**
 * Which remote endpoint a client handshake connects to, as the key of the connecting queue
 * (`connecting-queue.ts`, RFC 6455 §4.1 client requirement 2):
 *
 * - a direct TCP/TLS connection: the remote host's IP address and the port, "even if the remote host is
 *   known by another name" (§4.1). The host name is resolved first, through the client's `lookup`
 *   option when it has one (else `dns.lookup`), with its `family` and `hints`; the request then
 *   connects to exactly those addresses (its `lookup` replays the result), so the name is resolved
 *   once, as without the queue, and `Host` and the TLS server name still carry the name. When the
 *   lookup returns several addresses (Happy Eyeballs tries them in turn), the key is the first one.
 *   Chromium's endpoint lock is also keyed by IP endpoint;
 * - through an `agent` or the caller's `createConnection` (a proxy, typically): the host name and the
 *   port, because "if the client cannot determine the IP address of the remote host (for example,
 *   because all communication is being done through a proxy server that performs DNS queries
 *   itself), then the client MUST assume for the purposes of this step that each host name refers
 *   to a distinct remote host" (§4.1);
 * - a Unix domain socket (`ws+unix:`): its path.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP } from 'node:net';
import type { RequestOptions } from 'node:http';

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
type LookupFunction = (hostname: string, options: LookupOptions, callback: LookupCallback) => void;

/**
 * Find the endpoint key of `settings` (the `http.request` options of one handshake request).
 * `direct`: the request connects by itself (no agent, no caller's `createConnection`). The callback
 * runs once, synchronously when no lookup is needed, with the key, or with the lookup's error (the
 * one the connection would have failed with). On success, a resolved host's `settings.lookup` is
 * replaced by one that hands back the same addresses.
 */
export function findEndpointKey(settings: RequestOptions, direct: boolean, callback: (error: Error | null, key: string) => void): void {
  if (settings.socketPath !== undefined) {
    callback(null, `unix:${settings.socketPath}`);
    return;
  }
  const hostname = settings.hostname ?? settings.host ?? 'localhost';
  const port = settings.port ?? '';
  if (!direct) {
    callback(null, `name:${hostname.toLowerCase()}:${port}`);
    return;
  }
  if (isIP(hostname) !== 0) {
    callback(null, ipKey(hostname, port));
    return;
  }
  const lookup = (settings.lookup ?? dnsLookup) as unknown as LookupFunction;
  const options: LookupOptions = { all: true };
  if (settings.family !== undefined) options.family = settings.family;
  if (settings.hints !== undefined) options.hints = settings.hints;
  let called = false;
  const done = (error: Error | null, key: string): void => {
    if (called) return;
    called = true;
    callback(error, key);
  };
  try {
    lookup(hostname, options, (error, result, family) => {
      if (error !== null && error !== undefined) {
        done(error, '');
        return;
      }
      // A caller's lookup may answer with one address even when asked for all of them.
      const addresses: LookupAddress[] = typeof result === 'string' ? [{ address: result, family: family ?? isIP(result) }] : result;
      const first = addresses[0];
      if (first === undefined || isIP(first.address) === 0) {
        done(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname }), '');
        return;
      }
      settings.lookup = replayLookup(hostname, addresses, lookup) as unknown as RequestOptions['lookup'];
      done(null, ipKey(first.address, port));
    });
  } catch (error) {
    done(error as Error, '');
  }
}

/** `ip:127.0.0.1:80`, `ip:[::1]:80`. */
function ipKey(address: string, port: number | string): string {
  return isIP(address) === 6 ? `ip:[${address.toLowerCase()}]:${port}` : `ip:${address}:${port}`;
}

/** A `lookup` that answers `hostname` with `addresses` (resolved before the turn), other names with `fallback`. */
function replayLookup(hostname: string, addresses: LookupAddress[], fallback: LookupFunction): LookupFunction {
  return (name, options, callback) => {
    if (name !== hostname) {
      fallback(name, options, callback);
      return;
    }
    const wanted = options.family === 4 || options.family === 'IPv4' ? 4 : options.family === 6 || options.family === 'IPv6' ? 6 : 0;
    const matching = wanted === 0 ? addresses : addresses.filter((entry) => entry.family === wanted);
    const answer = matching.length > 0 ? matching : addresses;
    process.nextTick(() => {
      if (options.all === true) callback(null, answer);
      else callback(null, answer[0]!.address, answer[0]!.family);
    });
  };
}
