/**
 * Interop pairs: one side is fullduplex, the other the `ws` package, in both arrangements (our server
 * with a `ws` client, a `ws` server with our client), all on 127.0.0.1 port 0. Each pair exposes both
 * `WebSocket` objects and the raw TCP sockets of both ends, and tears everything down in `close()`.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocket as WsWebSocket, WebSocketServer as WsServer } from 'ws';
import { WebSocket, type ConnectionOptions } from '../../src/node/websocket.js';
import type { WebSocketServer } from '../../src/node/server.js';
import { once, portOf, startServer, stopServer, terminate, within } from '../helpers/node.js';

export type Direction = 'fullduplex server <-> ws client' | 'ws server <-> fullduplex client';
export const DIRECTIONS: readonly Direction[] = ['fullduplex server <-> ws client', 'ws server <-> fullduplex client'];

export interface PairOptions {
  /** Options of our side (server or client). */
  ours?: ConnectionOptions;
  /** Options of `ws`'s side. */
  theirs?: { maxPayload?: number; autoPong?: boolean };
  /** Subprotocols the client offers. */
  protocols?: string | string[];
  /** The server's subprotocol selection (whichever library serves). */
  handleProtocols?: (protocols: Set<string>, request: IncomingMessage) => string | false;
}

export interface InteropPair {
  direction: Direction;
  ourRole: 'server' | 'client';
  ours: WebSocket;
  theirs: WsWebSocket;
  /** The server's end of the TCP connection, and the client's. */
  serverTcp: Socket;
  clientTcp: Socket;
  /** The upgrade request, as the server saw it. */
  request: IncomingMessage;
  /** Our server, when we serve. */
  ourServer: WebSocketServer | null;
  /** Terminate both sides (if still open) and stop the server. */
  close(): Promise<void>;
}

/** The server of a pair, listening, before any client connects. */
export interface Listening {
  url: string;
  /** Resolves with the server's side of the next connection. */
  nextConnection(): Promise<[WebSocket | WsWebSocket, IncomingMessage]>;
  stop(): Promise<void>;
  ourServer: WebSocketServer | null;
}

/** Start the server side of `direction`. */
export async function listenFor(direction: Direction, options: PairOptions = {}): Promise<Listening> {
  const handleProtocols = options.handleProtocols;
  if (direction === 'fullduplex server <-> ws client') {
    const { server, url } = await startServer({ ...options.ours, ...(handleProtocols && { handleProtocols }) });
    return {
      url,
      ourServer: server,
      nextConnection: () => once<[WebSocket, IncomingMessage]>(server, 'connection'),
      stop: () => stopServer(server),
    };
  }
  const server = new WsServer({
    port: 0,
    host: '127.0.0.1',
    perMessageDeflate: false,
    ...options.theirs,
    ...(handleProtocols && { handleProtocols }),
  });
  await once(server, 'listening');
  return {
    url: `ws://127.0.0.1:${portOf(server)}`,
    ourServer: null,
    nextConnection: () => once<[WsWebSocket, IncomingMessage]>(server, 'connection'),
    stop: async () => {
      for (const client of server.clients) client.terminate();
      await within(new Promise<void>((resolve) => server.close(() => resolve())), 'the ws server to close');
    },
  };
}

/** A connected pair in the given arrangement, both sides open. */
export async function interopPair(direction: Direction, options: PairOptions = {}): Promise<InteropPair> {
  const listening = await listenFor(direction, options);
  const protocols = options.protocols ?? [];
  const connection = listening.nextConnection();
  let ours: WebSocket;
  let theirs: WsWebSocket;
  let clientTcp: Socket;
  let serverSide: WebSocket | WsWebSocket;
  let request: IncomingMessage;
  if (direction === 'fullduplex server <-> ws client') {
    theirs = new WsWebSocket(listening.url, protocols, { ...options.theirs });
    const upgrade = once<[IncomingMessage]>(theirs, 'upgrade');
    [[serverSide, request]] = await Promise.all([connection, once(theirs, 'open')]);
    clientTcp = (await upgrade)[0].socket as Socket;
    ours = serverSide as WebSocket;
  } else {
    ours = new WebSocket(listening.url, protocols, { ...options.ours });
    [[serverSide, request]] = await Promise.all([connection, once(ours, 'open')]);
    theirs = serverSide as WsWebSocket;
    clientTcp = ours.socket as Socket;
  }
  const serverTcp = direction === 'fullduplex server <-> ws client' ? (ours.socket as Socket) : (request.socket as Socket);
  return {
    direction,
    ourRole: direction === 'fullduplex server <-> ws client' ? 'server' : 'client',
    ours,
    theirs,
    serverTcp,
    clientTcp,
    request,
    ourServer: listening.ourServer,
    async close() {
      await Promise.all([terminate(ours), terminate(theirs)]);
      await listening.stop();
    },
  };
}

/** Run `test` on a fresh pair, and always tear the pair down. */
export async function withPair(direction: Direction, options: PairOptions, test: (pair: InteropPair) => Promise<void>): Promise<void> {
  const pair = await interopPair(direction, options);
  try {
    await test(pair);
  } finally {
    await pair.close();
  }
}

/** A text of exactly `bytes` UTF-8 bytes with 1-, 2-, 3- and 4-byte characters. */
export function utf8Text(bytes: number): string {
  const unit = 'aé€😀'; // 1 + 2 + 3 + 4 = 10 bytes
  return unit.repeat(Math.floor(bytes / 10)) + 'z'.repeat(bytes % 10);
}

/** Deterministic, non-repeating-looking bytes (cheap for 16 MiB). */
export function pattern(bytes: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(bytes);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < bytes; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export const SIZES = [0, 125, 126, 65_535, 65_536, 16 * 1024 * 1024] as const;
