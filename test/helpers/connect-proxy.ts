/**
 * A small HTTP CONNECT proxy (RFC 9110 §9.3.6) of our own for the unit tests, on 127.0.0.1 and a free
 * port: it counts connections, records each request head, can demand credentials (407 with
 * `Proxy-Authenticate: Basic`), and can misbehave on purpose (answer a status, garbage, close early,
 * never answer, or stop forwarding an open tunnel: a network cut the endpoints do not see).
 *
 *   const proxy = await ConnectProxy.start({ credentials: 'user:pass' });
 *   ... proxy.url ('http://127.0.0.1:PORT'), proxy.heads, proxy.connections ...
 *   await proxy.stop();
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';

/** How the proxy answers CONNECT. */
export type ConnectProxyBehaviour =
  /** Open the tunnel (after checking credentials when demanded). */
  | { kind: 'forward' }
  /** Answer this status (with a small body) and close. */
  | { kind: 'status'; status: number; reason?: string; headers?: Record<string, string> }
  /** Answer these raw bytes, then close. */
  | { kind: 'garbage'; bytes: Buffer | string }
  /** Close the connection after reading the request, without a word. */
  | { kind: 'close' }
  /** Read the request and never answer. */
  | { kind: 'silent' };

export interface ConnectProxyOptions {
  /** Demand `Proxy-Authorization: Basic base64(this)` ("user:pass"). */
  credentials?: string;
  behaviour?: ConnectProxyBehaviour;
  /** Serve TLS with this key and certificate (an `https:` proxy). */
  tls?: { key: Buffer; cert: Buffer };
}

export interface RecordedHead {
  /** The request line, e.g. `CONNECT 127.0.0.1:8080 HTTP/1.1`. */
  line: string;
  /** Header fields, names lower-cased. */
  headers: Record<string, string>;
  /** The head as received. */
  raw: string;
}

export class ConnectProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly port: number;
  readonly url: string;
  /** Connections accepted so far. */
  connections = 0;
  /** Every request head received, in order. */
  readonly heads: RecordedHead[] = [];
  /** Tunnels opened (2xx answered). */
  tunnels = 0;
  behaviour: ConnectProxyBehaviour;
  credentials: string | undefined;
  /** While true, open tunnels drop the bytes they carry (both ways) without closing. */
  cut = false;

  private constructor(server: Server, options: ConnectProxyOptions, secure: boolean) {
    this.#server = server;
    this.behaviour = options.behaviour ?? { kind: 'forward' };
    this.credentials = options.credentials;
    this.port = (server.address() as AddressInfo).port;
    this.url = `${secure ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  static async start(options: ConnectProxyOptions = {}): Promise<ConnectProxy> {
    let proxy: ConnectProxy | null = null;
    const onConnection = (socket: Socket): void => proxy?.handle(socket);
    const server = options.tls === undefined ? createServer(onConnection) : createTlsServer({ key: options.tls.key, cert: options.tls.cert }, onConnection);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    proxy = new ConnectProxy(server, options, options.tls !== undefined);
    return proxy;
  }

  /** The proxy URL with credentials in it. */
  urlWith(userinfo: string): string {
    return this.url.replace('://', `://${userinfo}@`);
  }

  private handle(client: Socket): void {
    this.connections++;
    this.#track(client);
    client.on('error', () => {});
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end === -1) return;
      client.removeListener('data', onData);
      client.pause();
      const raw = buffered.subarray(0, end).toString('latin1');
      const rest = buffered.subarray(end + 4);
      const [line = '', ...fields] = raw.split('\r\n');
      const headers: Record<string, string> = {};
      for (const field of fields) {
        const colon = field.indexOf(':');
        headers[field.slice(0, colon).trim().toLowerCase()] = field.slice(colon + 1).trim();
      }
      this.heads.push({ line, headers, raw });
      this.#answer(client, line, headers, rest);
    };
    client.on('data', onData);
  }

  #answer(client: Socket, line: string, headers: Record<string, string>, rest: Buffer): void {
    const behaviour = this.behaviour;
    if (behaviour.kind === 'close') {
      client.destroy();
      return;
    }
    if (behaviour.kind === 'silent') return;
    if (behaviour.kind === 'garbage') {
      client.end(behaviour.bytes);
      return;
    }
    if (behaviour.kind === 'status') {
      const extra = Object.entries(behaviour.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join('');
      client.end(`HTTP/1.1 ${behaviour.status} ${behaviour.reason ?? 'Refused'}\r\n${extra}Content-Length: 7\r\nConnection: close\r\n\r\nrefused`);
      return;
    }
    const match = /^CONNECT (\S+) HTTP\/1\.[01]$/.exec(line);
    if (match === null) {
      client.end('HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    if (this.credentials !== undefined && headers['proxy-authorization'] !== `Basic ${Buffer.from(this.credentials).toString('base64')}`) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const authority = match[1]!;
    const colon = authority.lastIndexOf(':');
    const host = authority.slice(0, colon).replace(/^\[|\]$/g, '');
    const port = Number(authority.slice(colon + 1));
    const upstream = connect({ host, port });
    this.#track(upstream);
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    upstream.once('connect', () => {
      this.tunnels++;
      client.write('HTTP/1.1 200 Connection established\r\n\r\n');
      if (rest.length > 0) upstream.write(rest);
      client.on('data', (chunk: Buffer) => {
        if (!this.cut) upstream.write(chunk);
      });
      upstream.on('data', (chunk: Buffer) => {
        if (!this.cut) client.write(chunk);
      });
      client.resume();
    });
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
  }

  /** Connections (clients' and upstream) still open. */
  get openSockets(): number {
    return this.#sockets.size;
  }

  /** Close the listener and every connection (clients' and upstream). */
  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
