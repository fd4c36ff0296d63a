/**
 * The client's address for a request, as a server configured with `trustProxy` / `proxyProtocol`
 * sees it (docs/limits.md "## The client's address"):
 *
 * 1. the peer: the PROXY header's source address when the connection came with one (TCP/UDP over
 *    IPv4/IPv6; for LOCAL, UNKNOWN, UNSPEC and UNIX the real socket's address), else the socket's
 *    `remoteAddress`;
 * 2. then, when the server trusts proxies, the forwarding header it was told to read
 *    (`X-Forwarded-For` by default, or `Forwarded`), walked from the right while the hops are trusted
 *    (src/protocol/forwarded.ts). Trust nobody (the default) and the headers are never read.
 *
 * `clientAddress(request)` works for any request a `WebSocketServer` has taken in `handleUpgrade` or
 * `handleStream` (it remembers the server's settings for the request, in a WeakMap); for any other
 * request it is the peer's address (1. alone). `wss.clientAddress(request)` applies that server's settings.
 */
import type { IncomingMessage } from 'node:http';
import { compileTrust, parseForwarded, parseXForwardedFor, resolveClientAddress, type ForwardedHeaderName, type HeaderLines, type TrustProxy, type TrustTest } from '../protocol/forwarded.js';
import { proxyHeaderOf } from './proxy-protocol-reader.js';

/** A server's compiled settings: whom it trusts, and which header it reads. */
export interface ClientAddressPolicy {
  readonly trust: TrustTest;
  readonly header: ForwardedHeaderName;
}

/** Compile the server options (TypeError/RangeError for bad ones); null when nobody is trusted. */
export function clientAddressPolicy(options: { readonly trustProxy?: TrustProxy; readonly forwardedHeader?: ForwardedHeaderName }): ClientAddressPolicy | null {
  const header = options.forwardedHeader ?? 'x-forwarded-for';
  if (header !== 'x-forwarded-for' && header !== 'forwarded') throw new TypeError(`forwardedHeader must be "x-forwarded-for" or "forwarded", not ${JSON.stringify(header)}`);
  if (options.trustProxy === undefined || options.trustProxy === false || options.trustProxy === 0) {
    compileTrust(options.trustProxy); // still checks the value
    return null;
  }
  return { trust: compileTrust(options.trustProxy), header };
}

const policies = new WeakMap<IncomingMessage, ClientAddressPolicy>();

/** @internal Remember a server's settings for a request it takes (nothing to remember when it trusts nobody). */
export function rememberClientAddressPolicy(request: IncomingMessage, policy: ClientAddressPolicy | null): void {
  if (policy !== null) policies.set(request, policy);
}

/**
 * The client's address for `request`: an IP address (or an obfuscated identifier a trusted proxy gave
 * in `Forwarded`); '' when the socket is gone and nothing else says.
 */
export function clientAddress(request: IncomingMessage): string {
  return clientAddressWith(request, policies.get(request) ?? null);
}

/** The client's address under `policy` (null: the peer's address). */
export function clientAddressWith(request: IncomingMessage, policy: ClientAddressPolicy | null): string {
  const peer = peerAddress(request);
  if (policy === null) return peer;
  const lines = headerLines(request, policy.header);
  const chain = policy.header === 'forwarded' ? parseForwarded(lines) : parseXForwardedFor(lines);
  return resolveClientAddress(peer, chain, policy.trust);
}

/** The connection's peer: the PROXY header's source, else the socket's remote address. */
function peerAddress(request: IncomingMessage): string {
  const socket = request.socket as IncomingMessage['socket'] | null | undefined;
  const header = proxyHeaderOf(socket);
  if (header !== undefined && header.command === 'proxy' && header.family !== 'unix-stream' && header.family !== 'unix-dgram') return header.source.address;
  return socket?.remoteAddress ?? '';
}

/**
 * The header's lines as received (rawHeaders keeps each line apart: a malformed line a client wrote
 * then cannot spoil the line a proxy added); `headers` when there are no raw headers.
 */
function headerLines(request: IncomingMessage, name: ForwardedHeaderName): HeaderLines {
  const raw = request.rawHeaders as readonly string[] | undefined;
  if (raw === undefined || raw.length === 0) return request.headers[name];
  let lines: string[] | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const key = raw[i]!;
    if (key.length === name.length && key.toLowerCase() === name) (lines ??= []).push(raw[i + 1]!);
  }
  return lines;
}
