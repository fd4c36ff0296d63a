/**
 * The client side of SOCKS version 5 (RFC 1928) with username/password authentication (RFC 1929),
 * sans-I/O: `Socks5Handshake` gives the bytes to send and takes the proxy's bytes as they come (one at
 * a time or all at once), until the proxy has connected to the target; whatever the proxy sent after
 * its reply already belongs to the tunnel and is handed back as `rest`.
 *
 *   client -> greeting            VER=5 NMETHODS METHODS...                        (RFC 1928 §3)
 *   proxy  -> method selection    VER=5 METHOD
 *   [client -> VER=1 ULEN UNAME PLEN PASSWD;  proxy -> VER=1 STATUS]              (RFC 1929 §2)
 *   client -> request             VER=5 CMD=1 (CONNECT) RSV=0 ATYP DST.ADDR DST.PORT (RFC 1928 §4)
 *   proxy  -> reply               VER=5 REP RSV ATYP BND.ADDR BND.PORT              (RFC 1928 §6)
 *
 * The target goes as ATYP 1 (IPv4) or 4 (IPv6) when it is an IP address, else as ATYP 3 (a domain
 * name the proxy resolves: "remote DNS", the `socks5h:` scheme). Failures throw a `Socks5Error`
 * whose `kind` says whose fault it is; the Node layer turns it into a `ProxyError`.
 */
import { Buffer } from 'node:buffer';
import { formatIPv6Groups, parseIPv4, parseIPv6 } from './ip-address.js';

export const SOCKS5_VERSION = 0x05;
/** RFC 1929 §2: the version of the username/password sub-negotiation. */
export const SOCKS5_AUTH_VERSION = 0x01;

/** Authentication methods (RFC 1928 §3). */
export const SOCKS5_METHOD_NONE = 0x00;
export const SOCKS5_METHOD_USERNAME_PASSWORD = 0x02;
export const SOCKS5_METHOD_NO_ACCEPTABLE = 0xff;

/** Address types (RFC 1928 §4, §5). */
export const SOCKS5_ATYP_IPV4 = 0x01;
export const SOCKS5_ATYP_DOMAIN = 0x03;
export const SOCKS5_ATYP_IPV6 = 0x04;

const CMD_CONNECT = 0x01;

/** The reply codes of RFC 1928 §6, by their names there (0x00 is "succeeded"). */
export const SOCKS5_REPLIES: Readonly<Record<number, string>> = {
  0x01: 'general SOCKS server failure',
  0x02: 'connection not allowed by ruleset',
  0x03: 'Network unreachable',
  0x04: 'Host unreachable',
  0x05: 'Connection refused',
  0x06: 'TTL expired',
  0x07: 'Command not supported',
  0x08: 'Address type not supported',
};

/** The name of a reply code: RFC 1928 §6's, or "unassigned" for 0x09–0xFF. */
export function socks5ReplyName(reply: number): string {
  return SOCKS5_REPLIES[reply] ?? 'unassigned reply code';
}

/**
 * Whose fault a failure is: `auth` the proxy refused the methods or the credentials; `refused` it
 * answered CONNECT with a failure reply (see `reply`); `response` it did not speak SOCKS5 as RFC 1928
 * says; `request` what we were asked to send cannot be sent (credentials or host name too long).
 */
export type Socks5ErrorKind = 'auth' | 'refused' | 'response' | 'request';

export class Socks5Error extends Error {
  override readonly name = 'Socks5Error';
  readonly kind: Socks5ErrorKind;
  /** For `refused`: the reply code (RFC 1928 §6). */
  readonly reply: number | undefined;

  constructor(kind: Socks5ErrorKind, message: string, reply?: number) {
    super(message);
    this.kind = kind;
    this.reply = reply;
  }
}

/** RFC 1929 §2: each field 1 to 255 bytes (UTF-8 here). */
export interface Socks5Credentials {
  readonly username: string;
  readonly password: string;
}

export interface Socks5Target {
  /** An IPv4 address, an IPv6 address (without brackets) or a host name for the proxy to resolve. */
  readonly host: string;
  readonly port: number;
  /** Offer username/password authentication with these; without, only "no authentication". */
  readonly credentials?: Socks5Credentials;
}

/** An address as SOCKS5 carries it. */
export type Socks5Address =
  | { readonly type: 'ipv4'; readonly host: string }
  | { readonly type: 'ipv6'; readonly host: string }
  | { readonly type: 'domain'; readonly host: string };

/** The proxy's successful reply: the address it bound for the connection (RFC 1928 §6). */
export interface Socks5Reply {
  readonly bound: Socks5Address;
  readonly port: number;
}

/** What one call of `receive` produced: bytes to send, and once open, the reply and the tunnel's first bytes. */
export interface Socks5Step {
  /** Bytes to write to the proxy now (the sub-negotiation or the CONNECT request), or null. */
  readonly send: Buffer | null;
  /** Set once the proxy has connected: the tunnel is open. */
  readonly open: Socks5Reply | null;
  /** Bytes the proxy sent after its reply (the target's first bytes): empty unless open. */
  readonly rest: Buffer;
}

type Phase = 'method' | 'auth' | 'reply' | 'open';

const EMPTY = Buffer.alloc(0);

/** The client's SOCKS5 handshake: `greeting()` first, then `receive(chunk)` with each chunk from the proxy. */
export class Socks5Handshake {
  readonly address: Socks5Address;
  readonly port: number;
  readonly #credentials: { username: Buffer; password: Buffer } | null;
  #phase: Phase = 'method';
  #buffer: Buffer = EMPTY;

  /** Throws a `Socks5Error` of kind `request` for a port, host name or credentials SOCKS5 cannot carry. */
  constructor(target: Socks5Target) {
    if (!Number.isInteger(target.port) || target.port < 0 || target.port > 0xffff) {
      throw new Socks5Error('request', `the target port ${String(target.port)} is not an integer from 0 to 65535`);
    }
    this.port = target.port;
    this.address = socks5Address(target.host);
    if (this.address.type === 'domain') {
      const zone = /^(.*)%/.exec(this.address.host);
      if (zone !== null && parseIPv6(zone[1]!) !== null) {
        throw new Socks5Error('request', `the target ${this.address.host} is an IPv6 address with a zone, which only means something on this host (RFC 6874)`);
      }
      const length = Buffer.byteLength(this.address.host);
      if (length < 1 || length > 255) throw new Socks5Error('request', `the target host name must be 1 to 255 bytes for SOCKS5 (RFC 1928 §5), it is ${length}`);
    }
    if (target.credentials === undefined) {
      this.#credentials = null;
    } else {
      const username = Buffer.from(target.credentials.username, 'utf8');
      const password = Buffer.from(target.credentials.password, 'utf8');
      for (const [name, field] of [['username', username], ['password', password]] as const) {
        if (field.length < 1 || field.length > 255) {
          throw new Socks5Error('request', `the ${name} must be 1 to 255 bytes for SOCKS5 (RFC 1929 §2), it is ${field.length}`);
        }
      }
      this.#credentials = { username, password };
    }
  }

  /** Whether the tunnel is open. */
  get open(): boolean {
    return this.#phase === 'open';
  }

  /** The methods offered: "no authentication", and username/password when credentials were given (as curl). */
  get methods(): readonly number[] {
    return this.#credentials === null ? [SOCKS5_METHOD_NONE] : [SOCKS5_METHOD_NONE, SOCKS5_METHOD_USERNAME_PASSWORD];
  }

  /** RFC 1928 §3: the version identifier/method selection message, the first bytes to send. */
  greeting(): Buffer {
    const methods = this.methods;
    return Buffer.from([SOCKS5_VERSION, methods.length, ...methods]);
  }

  /** Take bytes from the proxy; throws a `Socks5Error` when they end the attempt. */
  receive(chunk: Uint8Array): Socks5Step {
    if (this.#phase === 'open') throw new Error('the SOCKS5 handshake is over: the bytes belong to the tunnel');
    this.#buffer = this.#buffer.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.#buffer, chunk]);
    const sends: Buffer[] = [];
    for (;;) {
      const before: Phase = this.#phase;
      const send = this.#step();
      if (send !== null) sends.push(send);
      const after = this.#phase as Phase;
      if (after === before || after === 'open') break; // waiting for more bytes, or done
    }
    const send = sends.length === 0 ? null : sends.length === 1 ? sends[0]! : Buffer.concat(sends);
    if (!this.open) return { send, open: null, rest: EMPTY };
    const rest = this.#buffer;
    this.#buffer = EMPTY;
    return { send, open: this.#reply, rest };
  }

  #reply: Socks5Reply | null = null;

  /** Consume one message if it is complete; returns the bytes to send next, if any. */
  #step(): Buffer | null {
    const buffer = this.#buffer;
    switch (this.#phase) {
      case 'method': {
        if (buffer.length < 2) return null;
        checkVersion(buffer[0]!, 'method selection');
        const method = buffer[1]!;
        this.#buffer = buffer.subarray(2);
        if (method === SOCKS5_METHOD_NO_ACCEPTABLE) {
          throw new Socks5Error(
            'auth',
            this.#credentials === null
              ? 'no acceptable authentication methods (0xFF): the proxy requires credentials, and none were given'
              : 'no acceptable authentication methods (0xFF): the proxy accepts neither "no authentication" nor username/password',
          );
        }
        if (!this.methods.includes(method)) {
          throw new Socks5Error('response', `the proxy chose authentication method 0x${hex(method)}, which was not offered (${this.methods.map((m) => `0x${hex(m)}`).join(', ')})`);
        }
        if (method === SOCKS5_METHOD_USERNAME_PASSWORD) {
          this.#phase = 'auth';
          const { username, password } = this.#credentials!;
          return Buffer.concat([Buffer.from([SOCKS5_AUTH_VERSION, username.length]), username, Buffer.from([password.length]), password]);
        }
        this.#phase = 'reply';
        return this.#request();
      }
      case 'auth': {
        if (buffer.length < 2) return null;
        // RFC 1929 §2 says version 1; some servers answer with 5, which curl and others accept too.
        if (buffer[0] !== SOCKS5_AUTH_VERSION && buffer[0] !== SOCKS5_VERSION) {
          throw new Socks5Error('response', `the answer to the username/password sub-negotiation has version ${buffer[0]!}, not 1 (RFC 1929)`);
        }
        if (buffer[1] !== 0x00) throw new Socks5Error('auth', `the proxy rejected the username and password (status 0x${hex(buffer[1]!)}, RFC 1929)`);
        this.#buffer = buffer.subarray(2);
        this.#phase = 'reply';
        return this.#request();
      }
      case 'reply': {
        if (buffer.length < 2) return null;
        checkVersion(buffer[0]!, 'reply');
        const reply = buffer[1]!;
        // A failure ends here, whatever follows (the server closes the connection, RFC 1928 §6).
        if (reply !== 0x00) throw new Socks5Error('refused', `CONNECT failed: ${socks5ReplyName(reply)} (reply 0x${hex(reply)}, RFC 1928 §6)`, reply);
        if (buffer.length < 5) return null;
        const atyp = buffer[3]!;
        let addressLength: number;
        let offset = 4;
        if (atyp === SOCKS5_ATYP_IPV4) addressLength = 4;
        else if (atyp === SOCKS5_ATYP_IPV6) addressLength = 16;
        else if (atyp === SOCKS5_ATYP_DOMAIN) {
          addressLength = buffer[4]!;
          offset = 5;
        } else throw new Socks5Error('response', `the reply has the unknown address type 0x${hex(atyp)}`);
        const end = offset + addressLength + 2;
        if (buffer.length < end) return null;
        const raw = buffer.subarray(offset, offset + addressLength);
        const bound: Socks5Address =
          atyp === SOCKS5_ATYP_IPV4 ? { type: 'ipv4', host: [...raw].join('.') } : atyp === SOCKS5_ATYP_IPV6 ? { type: 'ipv6', host: formatIPv6Groups(raw) } : { type: 'domain', host: raw.toString('latin1') };
        this.#reply = { bound, port: buffer.readUInt16BE(offset + addressLength) };
        this.#buffer = buffer.subarray(end);
        this.#phase = 'open';
        return null;
      }
      case 'open':
        return null;
    }
  }

  /** RFC 1928 §4: CONNECT to the target. */
  #request(): Buffer {
    const { address } = this;
    let encoded: Buffer;
    if (address.type === 'ipv4') encoded = Buffer.from([SOCKS5_ATYP_IPV4, ...parseIPv4(address.host)!]);
    else if (address.type === 'ipv6') encoded = Buffer.concat([Buffer.from([SOCKS5_ATYP_IPV6]), parseIPv6(address.host)!]);
    else {
      const name = Buffer.from(address.host, 'utf8');
      encoded = Buffer.concat([Buffer.from([SOCKS5_ATYP_DOMAIN, name.length]), name]);
    }
    const port = Buffer.alloc(2);
    port.writeUInt16BE(this.port);
    return Buffer.concat([Buffer.from([SOCKS5_VERSION, CMD_CONNECT, 0x00]), encoded, port]);
  }
}

function checkVersion(version: number, message: string): void {
  if (version !== SOCKS5_VERSION) throw new Socks5Error('response', `the proxy's ${message} has version ${version}, not 5: not a SOCKS5 proxy`);
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0').toUpperCase();
}

/** How SOCKS5 carries `host`: an IPv4 or IPv6 literal as such, anything else as a domain name. */
export function socks5Address(host: string): Socks5Address {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (parseIPv4(bare) !== null) return { type: 'ipv4', host: bare };
  if (parseIPv6(bare) !== null) return { type: 'ipv6', host: bare };
  return { type: 'domain', host };
}

