/**
 * A URL's host as `net.connect`, `tls.connect` and `dns.lookup` take it: WHATWG URLs keep IPv6
 * literals in brackets (`[::1]`), sockets and resolvers want them bare (RFC 3986 §3.2.2).
 */
export function bareHostname(url: URL): string {
  const { hostname } = url;
  return hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
}
