/**
 * The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2), sans I/O: the bytes
 * received so far in, one of "need more", "a header of n bytes", or "an error" out. The caller keeps
 * the bytes and calls again when more arrive; the bytes after the header are the application's.
 *
 * - v1 (§2.1): one line of US-ASCII `PROXY TCP4|TCP6 <src> <dst> <srcport> <dstport>\r\n`, at most
 *   107 bytes; addresses in canonical form (IPv4 without leading zeros, IPv6 of exactly 128 bits),
 *   ports 0..65535 without leading zeros, exactly one space between fields, CRLF only.
 *   `PROXY UNKNOWN ...\r\n`: the rest of the line is ignored; the real connection's addresses apply.
 * - v2 (§2.2): the 12-byte signature, version 2 and a command (LOCAL: the proxy's own connection,
 *   e.g. a health check: the real addresses apply; PROXY), the family and transport (UNSPEC, INET,
 *   INET6, UNIX; UNSPEC, STREAM, DGRAM), a 16-bit length, the addresses, then TLVs (§2.2.x), which
 *   are skipped after checking that they tile the rest of the header. The length is bounded by
 *   `maxHeaderBytes` (the spec allows 64 KiB; real senders stay far below).
 *
 * Anything that does not match exactly is an error (§2.1: "must be discarded and cause the receiver
 * to abort the connection"); a wrong first byte is an error at once, without waiting for more.
 */
import { formatIP, parseIPv4, parseIPv6 } from './ip-address.js';

/** The v2 signature (§2.2). */
export const PROXY_V2_SIGNATURE: Uint8Array = new Uint8Array([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = 'PROXY ';
/** §2.1: the longest v1 line, CRLF included. */
export const PROXY_V1_MAX_LENGTH = 107;
/** The default bound on a v2 header (16 bytes + addresses + TLVs). */
export const DEFAULT_PROXY_MAX_HEADER_BYTES = 4096;

/** The address family and transport of the relayed connection (v1: TCP4, TCP6; v2 §2.2 also UDP and UNIX). */
export type ProxyFamily = 'tcp4' | 'tcp6' | 'udp4' | 'udp6' | 'unix-stream' | 'unix-dgram';

/** One end of the relayed connection. */
export interface ProxyEndpoint {
  /** An IP address (canonical text), or a UNIX socket path. */
  readonly address: string;
  /** The port (0 for UNIX sockets). */
  readonly port: number;
}

/** What the header says. */
export type ProxyHeader =
  | {
      readonly version: 1 | 2;
      /** The connection was relayed for a client: these are its endpoints. */
      readonly command: 'proxy';
      readonly family: ProxyFamily;
      readonly source: ProxyEndpoint;
      readonly destination: ProxyEndpoint;
    }
  | {
      readonly version: 1 | 2;
      /** LOCAL (v2), UNKNOWN (v1), or an UNSPEC family or transport: use the real connection's addresses. */
      readonly command: 'local';
    };

/**
 * Why a PROXY header was refused (the connection is dropped, no HTTP answer): `FD_ERR_PROXY_HEADER_INVALID` (malformed), `_TOO_LARGE` (no complete header within `maxHeaderBytes`), `_TIMEOUT` (none within `timeout`), `_INCOMPLETE` (the peer left or the connection failed first).
 */
export type ProxyProtocolErrorCode = 'FD_ERR_PROXY_HEADER_INVALID' | 'FD_ERR_PROXY_HEADER_TOO_LARGE' | 'FD_ERR_PROXY_HEADER_TIMEOUT' | 'FD_ERR_PROXY_HEADER_INCOMPLETE';

/** A connection dropped for its PROXY header (or its absence): `code` says why. */
export class ProxyProtocolError extends Error {
  /** Always `'ProxyProtocolError'`. */
  override readonly name = 'ProxyProtocolError';
  /** Why ({@link ProxyProtocolErrorCode}). */
  readonly code: ProxyProtocolErrorCode;
  constructor(code: ProxyProtocolErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/**
 * The result of {@link parseProxyHeader}: `more` (incomplete: call again with more bytes), `header` (and its `length` in bytes), or `error`.
 */
export type ProxyParseResult =
  | { readonly kind: 'more' }
  | { readonly kind: 'header'; readonly header: ProxyHeader; /** Bytes the header took: the application's data starts here. */ readonly length: number }
  | { readonly kind: 'error'; readonly error: ProxyProtocolError };

const MORE: ProxyParseResult = { kind: 'more' };

function invalid(message: string): ProxyParseResult {
  return { kind: 'error', error: new ProxyProtocolError('FD_ERR_PROXY_HEADER_INVALID', message) };
}

/** Parse the header at the start of `bytes` (everything received so far). */
export function parseProxyHeader(bytes: Uint8Array, maxHeaderBytes = DEFAULT_PROXY_MAX_HEADER_BYTES): ProxyParseResult {
  if (bytes.length === 0) return MORE;
  if (bytes[0] === 0x0d) {
    const prefix = Math.min(bytes.length, PROXY_V2_SIGNATURE.length);
    for (let i = 0; i < prefix; i++) if (bytes[i] !== PROXY_V2_SIGNATURE[i]) return invalid('not a PROXY protocol header (bad v2 signature)');
    return prefix < PROXY_V2_SIGNATURE.length ? MORE : parseV2(bytes, maxHeaderBytes);
  }
  if (bytes[0] === 0x50) {
    const prefix = Math.min(bytes.length, V1_PREFIX.length);
    for (let i = 0; i < prefix; i++) if (bytes[i] !== V1_PREFIX.charCodeAt(i)) return invalid('not a PROXY protocol header');
    return parseV1(bytes);
  }
  return invalid('not a PROXY protocol header (the connection did not start with one)');
}

function parseV1(bytes: Uint8Array): ProxyParseResult {
  const limit = Math.min(bytes.length, PROXY_V1_MAX_LENGTH);
  let end = -1;
  for (let i = 0; i < limit; i++) {
    const byte = bytes[i]!;
    if (byte === 0x0d) {
      if (i + 1 >= bytes.length) return MORE;
      if (bytes[i + 1] !== 0x0a) return invalid('PROXY v1: a CR without LF');
      end = i;
      break;
    }
    if (byte === 0x0a) return invalid('PROXY v1: a LF without CR');
    if (byte < 0x20 || byte > 0x7e) return invalid('PROXY v1: a byte that is not printable US-ASCII');
  }
  if (end === -1) {
    return bytes.length >= PROXY_V1_MAX_LENGTH ? { kind: 'error', error: new ProxyProtocolError('FD_ERR_PROXY_HEADER_TOO_LARGE', `PROXY v1: no CRLF in the first ${PROXY_V1_MAX_LENGTH} bytes`) } : MORE;
  }
  let line = '';
  for (let i = 0; i < end; i++) line += String.fromCharCode(bytes[i]!);
  const length = end + 2;
  const fields = line.split(' ');
  const protocol = fields[1];
  if (protocol === 'UNKNOWN') return { kind: 'header', header: { version: 1, command: 'local' }, length };
  if (protocol !== 'TCP4' && protocol !== 'TCP6') return invalid(`PROXY v1: unknown protocol ${JSON.stringify(protocol ?? '')}`);
  if (fields.length !== 6) return invalid('PROXY v1: expected exactly "PROXY TCP4|TCP6 <src> <dst> <srcport> <dstport>"');
  const parse = protocol === 'TCP4' ? parseIPv4 : parseIPv6;
  const source = parse(fields[2]!);
  const destination = parse(fields[3]!);
  if (source === null || destination === null) return invalid(`PROXY v1: the addresses are not ${protocol === 'TCP4' ? 'IPv4' : 'IPv6'} addresses`);
  const sourcePort = v1Port(fields[4]!);
  const destinationPort = v1Port(fields[5]!);
  if (sourcePort === null || destinationPort === null) return invalid('PROXY v1: a port is not a number 0..65535 without leading zeros');
  return {
    kind: 'header',
    header: {
      version: 1,
      command: 'proxy',
      family: protocol === 'TCP4' ? 'tcp4' : 'tcp6',
      source: { address: formatIP(source), port: sourcePort },
      destination: { address: formatIP(destination), port: destinationPort },
    },
    length,
  };
}

function v1Port(text: string): number | null {
  if (!/^(?:0|[1-9]\d{0,4})$/.test(text)) return null;
  const port = Number(text);
  return port <= 65535 ? port : null;
}

const V2_FIXED = 16;
const ADDRESS_LENGTH: Readonly<Record<number, number>> = { 1: 12, 2: 36, 3: 216 };

function parseV2(bytes: Uint8Array, maxHeaderBytes: number): ProxyParseResult {
  if (bytes.length < V2_FIXED) {
    // Check what has come already: a wrong version is an error now.
    if (bytes.length > 12 && bytes[12]! >> 4 !== 2) return invalid(`PROXY v2: version ${bytes[12]! >> 4}, expected 2`);
    return MORE;
  }
  const versionCommand = bytes[12]!;
  const familyTransport = bytes[13]!;
  const addressesLength = (bytes[14]! << 8) | bytes[15]!;
  const total = V2_FIXED + addressesLength;
  if (versionCommand >> 4 !== 2) return invalid(`PROXY v2: version ${versionCommand >> 4}, expected 2`);
  const command = versionCommand & 0x0f;
  if (command > 1) return invalid(`PROXY v2: unknown command ${command}`);
  const family = familyTransport >> 4;
  const transport = familyTransport & 0x0f;
  if (family > 3) return invalid(`PROXY v2: unknown address family ${family}`);
  if (transport > 2) return invalid(`PROXY v2: unknown transport ${transport}`);
  if (total > maxHeaderBytes) {
    return { kind: 'error', error: new ProxyProtocolError('FD_ERR_PROXY_HEADER_TOO_LARGE', `PROXY v2: a ${total}-byte header, over the limit of ${maxHeaderBytes} bytes`) };
  }
  if (bytes.length < total) return MORE;
  // LOCAL (a connection of the proxy's own), or UNSPEC: the real endpoints apply (§2.2).
  if (command === 0 || family === 0 || transport === 0) return { kind: 'header', header: { version: 2, command: 'local' }, length: total };
  const needed = ADDRESS_LENGTH[family]!;
  if (addressesLength < needed) return invalid(`PROXY v2: ${addressesLength} bytes of addresses, ${needed} needed for this family`);
  const tlvError = checkTlvs(bytes, V2_FIXED + needed, total);
  if (tlvError !== null) return invalid(tlvError);
  const at = V2_FIXED;
  const stream = transport === 1;
  let header: ProxyHeader;
  if (family === 3) {
    header = {
      version: 2,
      command: 'proxy',
      family: stream ? 'unix-stream' : 'unix-dgram',
      source: { address: unixPath(bytes.subarray(at, at + 108)), port: 0 },
      destination: { address: unixPath(bytes.subarray(at + 108, at + 216)), port: 0 },
    };
  } else {
    const size = family === 1 ? 4 : 16;
    const ports = at + 2 * size;
    header = {
      version: 2,
      command: 'proxy',
      family: family === 1 ? (stream ? 'tcp4' : 'udp4') : stream ? 'tcp6' : 'udp6',
      source: { address: formatIP(bytes.slice(at, at + size)), port: (bytes[ports]! << 8) | bytes[ports + 1]! },
      destination: { address: formatIP(bytes.slice(at + size, ports)), port: (bytes[ports + 2]! << 8) | bytes[ports + 3]! },
    };
  }
  return { kind: 'header', header, length: total };
}

/** §2.2.x: type (1 byte), length (2 bytes), value; they must fill the rest of the header exactly. */
function checkTlvs(bytes: Uint8Array, start: number, end: number): string | null {
  let at = start;
  while (at < end) {
    if (end - at < 3) return 'PROXY v2: a truncated TLV';
    const length = (bytes[at + 1]! << 8) | bytes[at + 2]!;
    at += 3 + length;
    if (at > end) return 'PROXY v2: a TLV longer than the header';
  }
  return null;
}

/** A NUL-terminated UNIX socket path (§2.2: 108 bytes). */
function unixPath(bytes: Uint8Array): string {
  const nul = bytes.indexOf(0);
  let path = '';
  for (const byte of nul === -1 ? bytes : bytes.subarray(0, nul)) path += String.fromCharCode(byte);
  return path;
}

/** A v1 header line for `header` (for tests and for clients that speak to a PROXY-protocol server). */
export function formatProxyV1(source: ProxyEndpoint, destination: ProxyEndpoint): string {
  const v6 = source.address.includes(':');
  return `PROXY ${v6 ? 'TCP6' : 'TCP4'} ${source.address} ${destination.address} ${source.port} ${destination.port}\r\n`;
}
