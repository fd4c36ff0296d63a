/**
 * A TCP relay on 127.0.0.1 for network faults: it forwards each accepted connection to
 * 127.0.0.1:`target`, and a test can
 *
 *  - `cut()`: stop forwarding silently (issue 18: "a network cut simulated by a proxy that stops
 *    forwarding"): it reads nothing and writes nothing on the connections it holds — no FIN, no RST, as
 *    when a cable is pulled or a NAT entry expires — until they are destroyed by `drop()` or `close()`;
 *    new connections are held silent too until `restore()`;
 *  - `drop()`: destroy every forwarded connection, or `drop(count, pick)` some of them (both sides see the
 *    TCP connection end at once, as when a server process dies or a network resets a link);
 *  - `refuse = true`: destroy accepted connections at once (the backend is unreachable) until
 *    `refuse = false`;
 *  - `target`: switch where new connections go (a load balancer sending the next connection elsewhere);
 *    the connections held stay where they are.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { listen } from './node.js';

export interface TcpRelayOptions {
  /** Disable Nagle's algorithm on both sockets of every link (default: Node's default, enabled). */
  noDelay?: boolean;
}

export class TcpRelay {
  readonly #server: Server;
  readonly #noDelay: boolean;
  /** The links held: [client, upstream], or [client, client] for one held silent after a cut. */
  readonly #pairs = new Set<[Socket, Socket]>();
  #cut = false;
  /** The port new connections are forwarded to. */
  target: number;
  /** Destroy new connections at once (the backend is away). */
  refuse = false;
  /** Connections accepted so far (forwarded, held silent or refused). */
  accepted = 0;
  /** Connections forwarded so far. */
  forwarded = 0;
  /** Connections destroyed by `drop()`. */
  dropped = 0;
  port = 0;

  private constructor(target: number, options: TcpRelayOptions) {
    this.target = target;
    this.#noDelay = options.noDelay === true;
    this.#server = createServer((client) => this.#accept(client));
  }

  /** A relay listening on 127.0.0.1 (any free port) towards 127.0.0.1:`target`. */
  static async start(target: number, options: TcpRelayOptions = {}): Promise<TcpRelay> {
    const relay = new TcpRelay(target, options);
    relay.port = await listen(relay.#server);
    return relay;
  }

  /** `ws://127.0.0.1:<port>`. */
  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  /** Connections held now. */
  get connections(): number {
    return this.#pairs.size;
  }

  /** Stop forwarding: the held connections go silent both ways (and new ones are held silent too). */
  cut(): void {
    this.#cut = true;
    for (const [client, upstream] of this.#pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
  }

  /** Forward new connections again (the silent ones stay silent). */
  restore(): void {
    this.#cut = false;
  }

  /**
   * Destroy every connection held now, or `count` of them chosen by `pick(n)` (an index below n, drawn
   * once per connection destroyed): both ends see the connection end. Returns how many were destroyed.
   */
  drop(): number;
  drop(count: number, pick: (n: number) => number): number;
  drop(count = Infinity, pick?: (n: number) => number): number {
    let done = 0;
    if (pick === undefined) {
      for (const pair of this.#pairs) this.#destroy(pair);
      done = this.#pairs.size;
      this.#pairs.clear();
    } else {
      while (done < count && this.#pairs.size > 0) {
        const pairs = [...this.#pairs];
        const pair = pairs[pick(pairs.length)]!;
        this.#pairs.delete(pair);
        this.#destroy(pair);
        done++;
      }
    }
    this.dropped += done;
    return done;
  }

  /** Stop listening and destroy every connection. */
  async close(): Promise<void> {
    for (const pair of this.#pairs) this.#destroy(pair);
    this.#pairs.clear();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #destroy([client, upstream]: [Socket, Socket]): void {
    client.destroy();
    upstream.destroy();
  }

  #accept(client: Socket): void {
    this.accepted++;
    client.on('error', () => {});
    if (this.refuse) {
      client.destroy();
      return;
    }
    if (this.#cut) {
      client.pause();
      const silent: [Socket, Socket] = [client, client];
      this.#pairs.add(silent);
      client.once('close', () => this.#pairs.delete(silent));
      return;
    }
    this.forwarded++;
    const upstream = createConnection({ host: '127.0.0.1', port: this.target });
    upstream.on('error', () => {});
    if (this.#noDelay) {
      client.setNoDelay(true);
      upstream.setNoDelay(true);
    }
    const pair: [Socket, Socket] = [client, upstream];
    this.#pairs.add(pair);
    const end = (): void => {
      if (this.#cut && this.#pairs.has(pair)) return; // a cut link says nothing, even about its end
      this.#pairs.delete(pair);
      this.#destroy(pair);
    };
    client.once('close', end);
    upstream.once('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
