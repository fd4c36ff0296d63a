/**
 * A TCP relay on 127.0.0.1 for network faults (issue 18: "a network cut simulated by a proxy that
 * stops forwarding"): it forwards each accepted connection to a target port until `cut()`, after
 * which it reads nothing and writes nothing on the connections it holds — no FIN, no RST, as when a
 * cable is pulled or a NAT entry expires — until they are destroyed by `close()`. New connections
 * after `restore()` are forwarded again.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { listen } from './node.js';

export class TcpRelay {
  readonly #server: Server;
  readonly #targetPort: number;
  readonly #pairs = new Set<[Socket, Socket]>();
  #cut = false;
  port = 0;

  private constructor(targetPort: number) {
    this.#targetPort = targetPort;
    this.#server = createServer((client) => this.#accept(client));
  }

  /** A relay listening on 127.0.0.1 (any free port) towards 127.0.0.1:`targetPort`. */
  static async start(targetPort: number): Promise<TcpRelay> {
    const relay = new TcpRelay(targetPort);
    relay.port = await listen(relay.#server);
    return relay;
  }

  /** Connections forwarded now. */
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

  /** Stop listening and destroy every connection. */
  async close(): Promise<void> {
    for (const [client, upstream] of this.#pairs) {
      client.destroy();
      upstream.destroy();
    }
    this.#pairs.clear();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    client.on('error', () => {});
    if (this.#cut) {
      client.pause();
      const silent: [Socket, Socket] = [client, client];
      this.#pairs.add(silent);
      client.once('close', () => this.#pairs.delete(silent));
      return;
    }
    const upstream = createConnection({ host: '127.0.0.1', port: this.#targetPort });
    upstream.on('error', () => {});
    const pair: [Socket, Socket] = [client, upstream];
    this.#pairs.add(pair);
    const end = (): void => {
      if (this.#cut && this.#pairs.has(pair)) return; // a cut link says nothing, even about its end
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
