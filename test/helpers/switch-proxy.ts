/**
 * A TCP proxy on 127.0.0.1 whose target can be switched, for tests that move a client between servers
 * (a load balancer sending the next connection elsewhere) or take a backend away:
 *
 *  - `target`: the port new connections are forwarded to (change it at any time: the held ones stay);
 *  - `drop()`: destroy every forwarded connection (both sides see the TCP connection end, as when a
 *    server process dies or a load balancer resets its links);
 *  - `refuse = true`: accepted connections are destroyed at once (the backend is unreachable) until
 *    `refuse = false`.
 *
 * Unlike test/helpers/relay.ts (a silent cut), every fault here is one the peers see at once.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { listen } from './node.js';

export class SwitchProxy {
  readonly #server: Server;
  readonly #pairs = new Set<[Socket, Socket]>();
  /** The port new connections go to. */
  target: number;
  /** Destroy new connections at once (the backend is away). */
  refuse = false;
  /** How many connections were accepted and forwarded so far. */
  forwarded = 0;
  port = 0;

  private constructor(target: number) {
    this.target = target;
    this.#server = createServer((client) => this.#accept(client));
  }

  /** A proxy on 127.0.0.1 (a free port) towards 127.0.0.1:`target`. */
  static async start(target: number): Promise<SwitchProxy> {
    const proxy = new SwitchProxy(target);
    proxy.port = await listen(proxy.#server);
    return proxy;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  /** Connections forwarded now. */
  get connections(): number {
    return this.#pairs.size;
  }

  /** End every forwarded connection now (both sides see the TCP connection end). */
  drop(): void {
    for (const [client, upstream] of this.#pairs) {
      client.destroy();
      upstream.destroy();
    }
    this.#pairs.clear();
  }

  /** Stop listening and drop every connection. */
  async close(): Promise<void> {
    this.drop();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    client.on('error', () => {});
    if (this.refuse) {
      client.destroy();
      return;
    }
    this.forwarded++;
    const upstream = createConnection({ host: '127.0.0.1', port: this.target });
    upstream.on('error', () => {});
    const pair: [Socket, Socket] = [client, upstream];
    this.#pairs.add(pair);
    const end = (): void => {
      this.#pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.once('close', end);
    upstream.once('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
