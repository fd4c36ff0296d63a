/**
 * The key of a client address for per-address limits. IPv4 addresses are their own key. IPv6 ones
 * are grouped by prefix, /64 by default: a host (or a home behind one router) is routinely given a
 * whole /64 (RFC 6177 §2, RFC 7421), and chooses its own addresses in it (SLAAC privacy addresses,
 * RFC 8981), so a limit per /128 would be one that a single client escapes by changing address.
 * IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`, what a dual-stack socket reports for an IPv4 peer)
 * are the IPv4 address. A zone (`fe80::1%eth0`) is dropped. Anything that is not an IP address
 * (a Unix socket gives "") is its own key.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** `address` as a limits key: IPv4 as is, IPv6 as its first `prefix` bits (`2001:db8:0:1::/64`). */
export function addressKey(address: string, prefix: number): string {
  if (isIPv4(address)) return address;
  const zone = address.indexOf('%');
  const plain = zone === -1 ? address : address.slice(0, zone);
  if (!isIPv6(plain)) return address;
  const groups = ipv6Groups(plain);
  // ::ffff:a.b.c.d (RFC 4291 §2.5.5.2): an IPv4 peer seen by a dual-stack socket.
  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff) {
    return `${groups[6]! >> 8}.${groups[6]! & 0xff}.${groups[7]! >> 8}.${groups[7]! & 0xff}`;
  }
  if (prefix >= 128) return groups.map((group) => group.toString(16)).join(':');
  const kept: string[] = [];
  for (let i = 0; i < 8 && i * 16 < prefix; i++) {
    const bits = Math.min(16, prefix - i * 16);
    const mask = bits === 16 ? 0xffff : (0xffff << (16 - bits)) & 0xffff;
    kept.push((groups[i]! & mask).toString(16));
  }
  return `${kept.join(':')}::/${prefix}`;
}

/** The eight 16-bit groups of a valid IPv6 address (with `::` expanded and a trailing IPv4 part read). */
function ipv6Groups(address: string): number[] {
  let text = address;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    const octets = text.slice(lastColon + 1).split('.').map(Number);
    tail.push((octets[0]! << 8) | octets[1]!, (octets[2]! << 8) | octets[3]!);
    text = text.slice(0, lastColon + 1) + '0:0';
  }
  const double = text.indexOf('::');
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((group) => parseInt(group, 16)));
  let groups: number[];
  if (double === -1) {
    groups = parse(text);
  } else {
    const head = parse(text.slice(0, double));
    const rest = parse(text.slice(double + 2));
    groups = [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest];
  }
  if (tail.length === 2) groups.splice(6, 2, ...tail);
  return groups;
}
