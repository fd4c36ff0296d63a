/**
 * Differential tests against `ws`: the same scenario run on `ws` (the oracle) and on fullduplex, each
 * library talking to itself (its server, its client) on 127.0.0.1 port 0, so results can be compared.
 */
import { WebSocket as WsWebSocket, WebSocketServer as WsServer } from 'ws';
import { WebSocket } from '../../src/node/websocket.js';
import { WebSocketServer } from '../../src/node/server.js';
import { once, portOf, terminate, within } from './node.js';

export type Library = 'ws' | 'fullduplex';
export const LIBRARIES: readonly Library[] = ['ws', 'fullduplex'];

/**
 * What the scenarios use of either library's `WebSocket` (loosely typed: the two classes' event
 * typings differ, and scenarios pass values the typings refuse on purpose).
 */
export interface AnySocket {
  readyState: number;
  binaryType: string;
  send(...args: any[]): unknown;
  close(code?: number, reason?: string): void;
  terminate(): void;
  on(event: string, listener: (...args: any[]) => void): unknown;
  once(event: string, listener: (...args: any[]) => void): unknown;
  off(event: string, listener: (...args: any[]) => void): unknown;
  emit(event: string, ...args: any[]): boolean;
  listenerCount(event: string): number;
  addEventListener(type: string, listener: unknown, options?: unknown): void;
  removeEventListener(type: string, listener: unknown): void;
  onopen: unknown;
  onmessage: unknown;
  onclose: unknown;
  onerror: unknown;
}

/** Server options both libraries understand. */
export interface CommonServerOptions {
  maxPayload?: number;
}

export interface LibraryServer {
  port: number;
  url: string;
  /** The server's side of the next connection (with an `error` listener already attached). */
  nextConnection(): Promise<AnySocket>;
  stop(): Promise<void>;
}

/** A server of `library` on 127.0.0.1, port 0, without permessage-deflate and without heartbeat. */
export async function serve(library: Library, options: CommonServerOptions = {}): Promise<LibraryServer> {
  if (library === 'ws') {
    const server = new WsServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false, ...options });
    await once(server, 'listening');
    const port = portOf(server);
    return {
      port,
      url: `ws://127.0.0.1:${port}`,
      nextConnection: async () => (await once<[AnySocket]>(server, 'connection'))[0],
      stop: async () => {
        for (const client of server.clients) client.terminate();
        await within(new Promise<void>((resolve) => server.close(() => resolve())), 'the ws server to close');
      },
    };
  }
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', heartbeat: false, ...options });
  await once(server, 'listening');
  const port = portOf(server);
  return {
    port,
    url: `ws://127.0.0.1:${port}`,
    nextConnection: async () => (await once<[AnySocket]>(server, 'connection'))[0],
    stop: async () => {
      for (const client of server.clients) client.terminate();
      await within(new Promise<void>((resolve) => server.close(() => resolve())), 'the fullduplex server to close');
    },
  };
}

/** A client of `library` (not yet open). */
export function connect(library: Library, url: string): AnySocket {
  return (library === 'ws' ? new WsWebSocket(url, { perMessageDeflate: false }) : new WebSocket(url, { perMessageDeflate: false })) as unknown as AnySocket;
}

/**
 * A `WebSocket` of `library` that is not connected (the server-side constructor of each): for
 * scenarios that only drive its listener API, by emitting events on it directly.
 */
export function unconnected(library: Library): AnySocket {
  // `ws`'s server-side constructor takes a null address (its typings do not say so).
  if (library === 'ws') return new WsWebSocket(null as unknown as string, undefined, {}) as unknown as AnySocket;
  return new WebSocket(null, undefined, {}) as unknown as AnySocket;
}

export interface LibraryPair {
  client: AnySocket;
  /** The server's side of the connection. */
  server: AnySocket;
  close(): Promise<void>;
}

/** A server and a client of `library`, connected, both open. */
export async function pairOf(library: Library, options: CommonServerOptions = {}): Promise<LibraryPair> {
  const listening = await serve(library, options);
  const connection = listening.nextConnection();
  const client = connect(library, listening.url);
  const [server] = await Promise.all([connection, once(client, 'open')]);
  return {
    client,
    server,
    async close() {
      await Promise.all([terminate(client), terminate(server)]);
      await listening.stop();
    },
  };
}

/** Run `scenario` on each library and return the results by library (ws first). */
export async function onBoth<T>(scenario: (library: Library) => Promise<T> | T): Promise<Record<Library, T>> {
  const results = {} as Record<Library, T>;
  for (const library of LIBRARIES) results[library] = await scenario(library);
  return results;
}
