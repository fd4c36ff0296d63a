/**
 * Helpers for tests over real sockets: listen on 127.0.0.1 port 0, wait for an event with a time limit,
 * collect messages, and a connected fullduplex server/client pair that a test can tear down completely
 * (so the process exits by itself: no socket, server or timer is left behind).
 */
import type { AddressInfo, Server as NetServer } from 'node:net';
import { WebSocket, type ClientOptions } from '../../src/node/websocket.js';
import { WebSocketServer, type ServerOptions } from '../../src/node/server.js';
import { scaled } from './time.js';

/**
 * Long enough for a loaded machine (10 s times the time scale, see time.ts), short enough that a hung
 * test fails with a clear message.
 */
export const DEFAULT_TIMEOUT = scaled(10_000);

/** Anything with `once`/`off` (Node emitters, ours and `ws`'s, whatever their event typing). */
export interface Emitter {
  once(event: string, listener: (...args: any[]) => void): unknown;
  off(event: string, listener: (...args: any[]) => void): unknown;
}

/**
 * Resolve with the arguments of the next `event`, or reject after `timeoutMs`. Unlike `events.once`,
 * an `error` event does not reject (tests that expect errors wait for them explicitly).
 */
export function once<T extends unknown[] = unknown[]>(emitter: Emitter, event: string, timeoutMs = DEFAULT_TIMEOUT): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const listener = (...args: unknown[]): void => {
      clearTimeout(timer);
      resolve(args as T);
    };
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`Timed out after ${timeoutMs} ms waiting for "${event}"`));
    }, timeoutMs);
    emitter.once(event, listener);
  });
}

/** The arguments of the next `event` within `ms`, or undefined (for "did it happen?" probes; never rejects). */
export function onceWithin<T extends unknown[] = unknown[]>(emitter: Emitter, event: string, ms: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const listener = (...args: unknown[]): void => {
      clearTimeout(timer);
      resolve(args as T);
    };
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      resolve(undefined);
    }, ms);
    emitter.once(event, listener);
  });
}

/** Reject with a clear message if `promise` does not settle within `timeoutMs`. */
export function within<T>(promise: Promise<T>, what: string, timeoutMs = DEFAULT_TIMEOUT): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Open a client and wait for `open` (rejecting on its `error`), within the default time limit. */
/** Whether a client opened, or the error and close code it ended with before opening. */
export type OpenOutcome = { opened: true } | { opened: false; error: Error; code: number };

/** Wait for `open`, or for `close` (with the `error` that came before it). */
export function openOutcome(ws: WebSocket): Promise<OpenOutcome> {
  return within(
    new Promise((resolve) => {
      let error: Error | null = null;
      ws.once('open', () => resolve({ opened: true }));
      ws.once('error', (e: Error) => {
        error = e;
      });
      ws.once('close', (code: number) => resolve({ opened: false, error: error ?? new Error('no error event'), code }));
    }),
    'open or close',
  );
}

export async function openClient(url: string, options: ClientOptions, protocols: string[] = []): Promise<WebSocket> {
  const ws = new WebSocket(url, protocols, options);
  await within(
    new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    }),
    'open',
  );
  return ws;
}

/** Wait `ms` milliseconds (for "nothing happened meanwhile" checks, never for speed). */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The port a listening server is bound to. */
export function portOf(server: { address(): AddressInfo | string | null }): number {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('The server is not listening on a TCP port');
  return address.port;
}

/** Listen on 127.0.0.1, port 0 (any free port), and resolve with the port. */
export async function listen(server: NetServer, host = '127.0.0.1'): Promise<number> {
  const listening = once(server, 'listening');
  server.listen(0, host);
  await listening;
  return portOf(server);
}

/** A received message, as `message` listeners get it (ours or `ws`'s). */
export interface Received<D = unknown> {
  data: D;
  isBinary: boolean;
}

/** An emitter of `message` events (ours or `ws`'s). */
export interface MessageSource {
  on(event: 'message', listener: (data: any, isBinary: boolean) => void): unknown;
  off(event: 'message', listener: (data: any, isBinary: boolean) => void): unknown;
}

/** Collect the next `count` messages, in order. */
export function messages<D = Buffer>(socket: MessageSource, count: number, timeoutMs = DEFAULT_TIMEOUT): Promise<Array<Received<D>>> {
  const received: Array<Received<D>> = [];
  let listener: ((data: D, isBinary: boolean) => void) | undefined;
  const done = new Promise<Array<Received<D>>>((resolve) => {
    if (count === 0) resolve(received);
    listener = (data: D, isBinary: boolean): void => {
      received.push({ data, isBinary });
      if (received.length === count) resolve(received);
    };
    socket.on('message', listener);
  });
  return within(done, `${count} messages`, timeoutMs)
    .catch((error: Error) => {
      throw new Error(`${error.message}; received ${received.length}`);
    })
    .finally(() => socket.off('message', listener!));
}

/** Start a fullduplex `WebSocketServer` on 127.0.0.1, port 0. */
export async function startServer(options: Omit<ServerOptions, 'port' | 'server' | 'noServer' | 'host'> = {}): Promise<{ server: WebSocketServer; port: number; url: string }> {
  const server = new WebSocketServer({ ...options, port: 0, host: '127.0.0.1' });
  await once(server, 'listening');
  const port = portOf(server);
  return { server, port, url: `ws://127.0.0.1:${port}` };
}

/** Close a fullduplex server: drop every connection still open, then wait for `close`. */
export async function stopServer(server: WebSocketServer): Promise<void> {
  for (const client of server.clients) client.terminate();
  await within(new Promise<void>((resolve) => server.close(() => resolve())), 'the server to close');
}

/** Terminate a socket (ours or `ws`'s) unless it is closed, and wait for its `close` event. */
export async function terminate(socket: Emitter & { readyState: number; terminate(): void }): Promise<void> {
  if (socket.readyState === 3) return;
  const closed = once(socket, 'close');
  socket.terminate();
  await closed;
}

export interface ConnectedPair {
  server: WebSocketServer;
  /** The server's side of the connection. */
  serverSocket: WebSocket;
  client: WebSocket;
  url: string;
  /** Terminate both sides (if still open) and stop the server. */
  close(): Promise<void>;
}

/** A fullduplex server and a fullduplex client connected to it, both open. */
export async function connectedPair(
  options: { server?: Omit<ServerOptions, 'port' | 'server' | 'noServer' | 'host'>; client?: ClientOptions; protocols?: string[] } = {},
): Promise<ConnectedPair> {
  const { server, url } = await startServer(options.server);
  const connection = once<[WebSocket]>(server, 'connection');
  const client = new WebSocket(url, options.protocols ?? [], options.client ?? {});
  const [[serverSocket]] = await Promise.all([connection, once(client, 'open')]);
  return {
    server,
    serverSocket,
    client,
    url,
    async close() {
      await Promise.all([terminate(client), terminate(serverSocket)]);
      await stopServer(server);
    },
  };
}
