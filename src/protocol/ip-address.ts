/**
 * IP addresses as text and bytes, and address ranges (pure, no Node API: shared by the client's
 * NO_PROXY rules, src/node/proxy-environment.ts, and the server's trusted proxies, src/protocol/forwarded.ts).
 *
 * - IPv4: the dotted-decimal form of RFC 3986 §3.2.2 `IPv4address`: four decimal numbers 0..255,
 *   no leading zeros (as the PROXY protocol requires, and so that "010.0.0.1" is never read as octal).
 * - IPv6: the text forms of RFC 4291 §2.2 (`::` once, an IPv4 tail); a zone (`%eth0`, RFC 6874) is refused.
 * - Ranges: CIDR `base/bits` (RFC 4632 §3.1), and the names `loopback`, `linklocal`, `uniquelocal`
 *   (the private ranges: RFC 1918, RFC 4193), as in Express's `trust proxy` setting.
 * - An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, RFC 4291 §2.5.5.2: what a dual-stack socket reports
 *   for an IPv4 peer) matches IPv4 ranges as its IPv4 address.
 */

/** The 4 bytes of a dotted-decimal IPv4 address, else null. */
export function parseIPv4(text: string): Uint8Array | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i]!;
    if (!/^(?:0|[1-9]\d{0,2})$/.test(part)) return null;
    const value = Number(part);
    if (value > 255) return null;
    bytes[i] = value;
  }
  return bytes;
}

/** The 16 bytes of an IPv6 address in a text form of RFC 4291 §2.2 (no brackets, no zone), else null. */
export function parseIPv6(text: string): Uint8Array | null {
  if (text.length > 45 || text.length < 2) return null;
  let rest = text;
  let tail: Uint8Array | null = null;
  const lastColon = rest.lastIndexOf(':');
  if (lastColon !== -1 && rest.includes('.', lastColon)) {
    tail = parseIPv4(rest.slice(lastColon + 1));
    if (tail === null) return null;
    rest = rest.slice(0, lastColon + 1) + '0:0';
  }
  const halves = rest.split('::');
  if (halves.length > 2) return null;
  const groupsOf = (part: string): number[] | null => {
    if (part === '') return [];
    const groups: number[] = [];
    for (const group of part.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return null;
      groups.push(parseInt(group, 16));
    }
    return groups;
  };
  const left = groupsOf(halves[0]!);
  const right = halves.length === 2 ? groupsOf(halves[1]!) : [];
  if (left === null || right === null) return null;
  const fill = 8 - left.length - right.length;
  // `::` stands for at least one group of zeros (RFC 4291 §2.2 2.); without it, exactly eight groups.
  if (halves.length === 2 ? fill < 1 : fill !== 0) return null;
  const groups = [...left, ...new Array<number>(fill).fill(0), ...right];
  const bytes = new Uint8Array(16);
  groups.forEach((group, i) => {
    bytes[2 * i] = group >> 8;
    bytes[2 * i + 1] = group & 0xff;
  });
  if (tail !== null) bytes.set(tail, 12);
  return bytes;
}

/** The bytes of an IPv4 (4) or IPv6 (16) address, else null. */
export function parseIP(text: string): Uint8Array | null {
  return text.includes(':') ? parseIPv6(text) : parseIPv4(text);
}

/** 4 or 6 for an IP address, 0 otherwise (as `net.isIP`, but without zones and with no leading zeros in IPv4). */
export function ipVersion(text: string): 0 | 4 | 6 {
  const bytes = parseIP(text);
  return bytes === null ? 0 : bytes.length === 4 ? 4 : 6;
}

/** The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`), else null. */
export function unmapIPv4(bytes: Uint8Array): Uint8Array | null {
  if (bytes.length !== 16) return null;
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return null;
  return bytes[10] === 0xff && bytes[11] === 0xff ? bytes.subarray(12) : null;
}

/** The text of 4 or 16 address bytes: dotted decimal, or RFC 5952 (lower case, the longest run of two or more zero groups as `::`, an IPv4-mapped tail dotted). */
export function formatIP(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join('.');
  if (bytes.length !== 16) throw new RangeError(`An IP address has 4 or 16 bytes, not ${bytes.length}`);
  const mapped = unmapIPv4(bytes);
  if (mapped !== null) return `::ffff:${mapped.join('.')}`;
  return formatIPv6Groups(bytes);
}

/**
 * 16 bytes as eight hex groups the RFC 5952 way (lower case, the longest run of two or more zero groups
 * as `::`), an IPv4-mapped address included (`::ffff:c000:201`): as the WHATWG URL serializer writes a host.
 */
export function formatIPv6Groups(bytes: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  let bestStart = -1;
  let bestLength = 1; // RFC 5952 §4.2.2: a single zero group is not shortened
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** An IP address's canonical text (see `formatIP`), else null when `text` is not one. */
export function canonicalIP(text: string): string | null {
  const bytes = parseIP(text);
  return bytes === null ? null : formatIP(bytes);
}

/** A range of addresses: `bits` leading bits of `base` (4 or 16 bytes). */
export interface IPRange {
  /** The range's first address: 4 bytes (IPv4) or 16 (IPv6). */
  readonly base: Uint8Array;
  /** The prefix length: how many leading bits of `base` an address must share (0–32 or 0–128). */
  readonly bits: number;
}

/** Named ranges, as Express's `trust proxy` names them. */
const NAMED_RANGES: Readonly<Record<string, readonly string[]>> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

/**
 * The ranges an entry stands for: an address (`10.0.0.1`, `::1`: that address alone), a CIDR range
 * (`10.0.0.0/8`, `fd00::/8`; the base's bits beyond the prefix are ignored), or a name (`loopback`, `linklocal`, `uniquelocal`). Null when it is none of these.
 */
export function parseRanges(entry: string): IPRange[] | null {
  const name = NAMED_RANGES[entry.toLowerCase()];
  if (name !== undefined) return name.map((range) => parseRanges(range)![0]!);
  const slash = entry.indexOf('/');
  const base = parseIP(slash === -1 ? entry : entry.slice(0, slash));
  if (base === null) return null;
  if (slash === -1) return [{ base, bits: base.length * 8 }];
  const bitsText = entry.slice(slash + 1);
  if (!/^(?:0|[1-9]\d{0,2})$/.test(bitsText)) return null;
  const bits = Number(bitsText);
  if (bits > base.length * 8) return null;
  return [{ base, bits }];
}

/** Whether the address bytes lie in the range (an IPv4-mapped IPv6 address counts as its IPv4 address). */
export function inRange(address: Uint8Array, range: IPRange): boolean {
  let bytes = address;
  if (bytes.length !== range.base.length) {
    const mapped = unmapIPv4(bytes);
    if (mapped === null || range.base.length !== 4) return false;
    bytes = mapped;
  }
  for (let i = 0; i < range.bits; i++) {
    const mask = 0x80 >> (i % 8);
    if ((bytes[i >> 3]! & mask) !== (range.base[i >> 3]! & mask)) return false;
  }
  return true;
}

/** Whether two addresses are the same (text forms may differ: `::1` and `0:0::1`). */
export function sameIP(a: string, b: string): boolean {
  const x = parseIP(a);
  const y = parseIP(b);
  return x !== null && y !== null && x.length === y.length && x.every((byte, i) => byte === y[i]);
}

const LOOPBACK = parseRanges('loopback')!;

/** 127.0.0.0/8 or ::1 (or 127.x mapped into IPv6). */
export function isLoopbackIP(text: string): boolean {
  const bytes = parseIP(text);
  return bytes !== null && LOOPBACK.some((range) => inRange(bytes, range));
}
