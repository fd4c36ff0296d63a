/**
 * SOCKS5 tunnels for tests: open one as a promise, and a `createConnection(options, callback)` that
 * runs a WebSocket client's handshake through one, for our client and for `ws` alike (both hand it
 * to `http.request`, which accepts a callback-style `createConnection`). For wss:// the TLS session
 * to the target runs inside the tunnel: SNI and the certificate check are the target's.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { openSocksTunnel } from '../../src/node/socks-tunnel.js';
import type { ProxyError } from '../../src/node/proxy-tunnel-types.js';
import { lookup } from 'node:dns/promises';
import { createServer as createHttpsServer } from 'node:https';
import WsWebSocket from 'ws';
import { WebSocketServer } from '../../src/node/server.js';
import { selfSignedCertificate, type Certificate } from './tls.js';
import { WebSocket } from '../../src/node/websocket.js';
import { listen, once, portOf, within } from './node.js';

/** The tunnel's socket, or the `ProxyError` it failed with (rejects only when the callback never comes). */
export function tunnel(proxy: URL, host: string, port: number): Promise<{ error: ProxyError | null; socket: Socket | Duplex | undefined }> {
  return within(
    new Promise((resolve) => {
      openSocksTunnel({ proxy, host, port }, (error, socket) => resolve({ error, socket }));
    }),
    `the SOCKS5 tunnel through ${proxy.host} to ${host}:${port}`,
  );
}

type ConnectionCallback = (error: Error | null, socket?: Duplex) => void;
type RequestLike = { host?: string | null; hostname?: string | null; port?: number | string | null };

/**
 * A `createConnection` option for a WebSocket client that goes through `proxy`; `tls` makes it wss://
 * (the target's certificate checked against `ca`, for `servername`).
 */
export function throughSocks(proxy: URL, tls?: { ca: Buffer; servername: string }): (options: RequestLike, callback: ConnectionCallback) => undefined {
  return (options, callback) => {
    const host = (options.hostname ?? options.host ?? '').replace(/^\[(.*)\]$/, '$1');
    const port = Number(options.port);
    openSocksTunnel({ proxy, host, port }, (error, socket) => {
      if (error !== null || socket === undefined) {
        callback(error ?? new Error('no socket'));
        return;
      }
      if (tls === undefined) {
        callback(null, socket);
        return;
      }
      const secure = tlsConnect({ socket, servername: tls.servername, ca: tls.ca });
      const onError = (tlsError: Error): void => callback(tlsError);
      secure.once('error', onError);
      secure.once('secureConnect', () => {
        secure.off('error', onError);
        callback(null, secure);
      });
    });
    return undefined;
  };
}

/** Which client a differential SOCKS5 test drives: ours or `ws` (the oracle). */
export type SocksClient = 'fullduplex' | 'ws';

/**
 * Open `url` with `client` through `createConnection` (a SOCKS5 tunnel), send `text`, and return the
 * echo, or `error: <message>` for the error that ended it.
 */
export async function socksRoundTrip(client: SocksClient, url: string, createConnection: ReturnType<typeof throughSocks>, text: string): Promise<string> {
  const socket =
    client === 'fullduplex'
      ? new WebSocket(url, { createConnection: createConnection as never })
      : new WsWebSocket(url, { createConnection: createConnection as never });
  const events = socket as unknown as { once(event: string, listener: (...args: unknown[]) => void): void; send(data: string): void; close(): void };
  const result = await within(
    new Promise<string>((resolve) => {
      events.once('error', (error) => resolve(`error: ${(error as Error).message}`));
      events.once('open', () => {
        events.send(text);
        events.once('message', (data) => resolve(String(data)));
      });
    }),
    `${client} through SOCKS5 to ${url}`,
  );
  events.close();
  return result;
}

/** Echo servers on the address `localhost` resolves to (so a SOCKS5 proxy can reach them by that name). */
export interface EchoTargets {
  /** `localhost`'s address and family (4 or 6): what a `socks5:` client sends. */
  readonly loopback: { address: string; family: number };
  readonly certificate: Certificate;
  /** ws:// and wss:// (self-signed `certificate`) ports. */
  readonly plainPort: number;
  readonly securePort: number;
  stop(): Promise<void>;
}

/** Start a ws:// and a wss:// echo server for tunnelled clients to reach. */
export async function startEchoTargets(): Promise<EchoTargets> {
  const loopback = await lookup('localhost');
  const certificate = selfSignedCertificate();
  const wss = new WebSocketServer({ port: 0, host: loopback.address });
  await once(wss, 'listening');
  const https = createHttpsServer({ key: certificate.key, cert: certificate.cert });
  const secureWss = new WebSocketServer({ server: https });
  const securePort = await listen(https, loopback.address);
  for (const server of [wss, secureWss]) server.on('connection', (socket) => socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary })));
  return {
    loopback,
    certificate,
    plainPort: portOf(wss),
    securePort,
    async stop() {
      for (const server of [wss, secureWss]) for (const client of server.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => secureWss.close(() => resolve()));
      await new Promise<void>((resolve) => https.close(() => resolve()));
      certificate.remove();
    },
  };
}
