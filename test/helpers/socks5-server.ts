/**
 * A small SOCKS5 server (RFC 1928, username/password RFC 1929) for tests, on 127.0.0.1 port 0. It
 * records what each client asked (methods, credentials, ATYP, host, port), forwards CONNECTs to the
 * target (a domain name resolved here: "remote DNS"), and can misbehave on request: require
 * credentials, refuse with a reply code, answer garbage, close early, stall, answer a byte at a time,
 * or send bytes of its own right after the reply.
 */
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface Socks5ServerOptions {
  /** Require these credentials (method 0x02); without, only "no authentication" is accepted. */
  credentials?: { username: string; password: string };
  /** Answer CONNECT with this failure reply code (RFC 1928 §6) instead of connecting. */
  reply?: number;
  /**
   * Misbehave: `garbage` answers the greeting with an HTTP error; `close-after-greeting` closes once
   * the greeting arrived; `close-after-request` closes once CONNECT arrived; `stall` never answers
   * the greeting; `bytewise` sends every answer one byte at a time.
   */
  behaviour?: 'garbage' | 'close-after-greeting' | 'close-after-request' | 'stall' | 'bytewise';
  /** Bytes to send right after the success reply, before the target's. */
  trailing?: Buffer;
  /** The address type of BND.ADDR in the success reply. Default ipv4. */
  bound?: 'ipv4' | 'ipv6' | 'domain';
}

/** What a client asked for. */
export interface Socks5Request {
  methods: number[];
  username?: string;
  password?: string;
  /** 1 IPv4, 3 domain name, 4 IPv6. */
  atyp?: number;
  host?: string;
  port?: number;
}

export class Socks5Server {
  readonly server: Server;
  readonly requests: Socks5Request[] = [];
  readonly #sockets = new Set<Socket>();
  options: Socks5ServerOptions;

  private constructor(options: Socks5ServerOptions) {
    this.options = options;
    this.server = createServer((socket) => this.#serve(socket));
  }

  static async start(options: Socks5ServerOptions = {}): Promise<Socks5Server> {
    const proxy = new Socks5Server(options);
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** The proxy URL: `scheme://[user:pass@]127.0.0.1:port`. */
  url(scheme: 'socks5' | 'socks5h', userinfo = ''): URL {
    return new URL(`${scheme}://${userinfo === '' ? '' : `${userinfo}@`}127.0.0.1:${this.port}`);
  }

  /** Connections currently open to the proxy. */
  get connections(): number {
    return this.#sockets.size;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  #serve(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    socket.on('error', () => {});
    const options = this.options;
    const record: Socks5Request = { methods: [] };
    let buffer = Buffer.alloc(0);
    let phase: 'greeting' | 'auth' | 'request' | 'done' = 'greeting';
    const send = (data: Buffer): void => {
      if (options.behaviour !== 'bytewise') {
        socket.write(data);
        return;
      }
      for (const byte of data) socket.write(Buffer.from([byte]));
    };
    const onData = (chunk: Buffer): void => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (phase === 'greeting') {
          if (buffer.length < 2 || buffer.length < 2 + buffer[1]!) return;
          record.methods = [...buffer.subarray(2, 2 + buffer[1]!)];
          buffer = buffer.subarray(2 + buffer[1]!);
          this.requests.push(record);
          if (options.behaviour === 'stall') return;
          if (options.behaviour === 'close-after-greeting') return void socket.destroy();
          if (options.behaviour === 'garbage') return void socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
          const wanted = options.credentials === undefined ? 0x00 : 0x02;
          if (!record.methods.includes(wanted)) return void socket.end(Buffer.from([5, 0xff]));
          send(Buffer.from([5, wanted]));
          phase = wanted === 0x02 ? 'auth' : 'request';
        } else if (phase === 'auth') {
          if (buffer.length < 2) return;
          const ulen = buffer[1]!;
          if (buffer.length < 3 + ulen) return;
          const plen = buffer[2 + ulen]!;
          if (buffer.length < 3 + ulen + plen) return;
          record.username = buffer.subarray(2, 2 + ulen).toString();
          record.password = buffer.subarray(3 + ulen, 3 + ulen + plen).toString();
          buffer = buffer.subarray(3 + ulen + plen);
          const ok = record.username === options.credentials!.username && record.password === options.credentials!.password;
          if (!ok) return void socket.end(Buffer.from([1, 1]));
          send(Buffer.from([1, 0]));
          phase = 'request';
        } else if (phase === 'request') {
          if (buffer.length < 5) return;
          const atyp = buffer[3]!;
          const length = atyp === 1 ? 4 : atyp === 4 ? 16 : 1 + buffer[4]!;
          if (buffer.length < 4 + length + 2) return;
          const raw = buffer.subarray(4, 4 + length);
          record.atyp = atyp;
          record.host = atyp === 1 ? [...raw].join('.') : atyp === 4 ? ipv6Text(raw) : raw.subarray(1).toString();
          record.port = buffer.readUInt16BE(4 + length);
          const rest = buffer.subarray(4 + length + 2);
          phase = 'done';
          socket.off('data', onData);
          if (options.behaviour === 'close-after-request') return void socket.destroy();
          if (options.reply !== undefined) return void socket.end(Buffer.from([5, options.reply, 0, 1, 0, 0, 0, 0, 0, 0]));
          this.#connect(socket, record.host, record.port, rest);
          return;
        } else return;
      }
    };
    socket.on('data', onData);
  }

  #connect(client: Socket, host: string, port: number, rest: Buffer): void {
    const options = this.options;
    const target = createConnection({ host, port });
    this.#sockets.add(target);
    target.once('close', () => {
      this.#sockets.delete(target);
      client.destroy();
    });
    client.once('close', () => target.destroy());
    target.on('error', () => client.end(Buffer.from([5, 5, 0, 1, 0, 0, 0, 0, 0, 0])));
    target.once('connect', () => {
      const bound = options.bound ?? 'ipv4';
      const address =
        bound === 'ipv4'
          ? Buffer.from([1, 127, 0, 0, 1])
          : bound === 'ipv6'
            ? Buffer.concat([Buffer.from([4]), Buffer.alloc(15), Buffer.from([1])])
            : Buffer.concat([Buffer.from([3, 9]), Buffer.from('localhost')]);
      const portBytes = Buffer.alloc(2);
      portBytes.writeUInt16BE(target.localPort ?? 0);
      const reply = Buffer.concat([Buffer.from([5, 0, 0]), address, portBytes]);
      if (options.behaviour === 'bytewise') for (const byte of reply) client.write(Buffer.from([byte]));
      // The trailing bytes in the same write as the reply, so that they arrive in the same chunk.
      else client.write(options.trailing === undefined ? reply : Buffer.concat([reply, options.trailing]));
      if (options.behaviour === 'bytewise' && options.trailing !== undefined) client.write(options.trailing);
      if (rest.length > 0) target.write(rest);
      client.pipe(target);
      target.pipe(client);
    });
  }
}

function ipv6Text(raw: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(raw.readUInt16BE(i).toString(16));
  return groups.join(':');
}
