/**
 * Differential: after an `unexpected-response` event, `close()` and `terminate()` end the handshake
 * as in `ws` (error, then close 1006) and release the TCP connection, even when the server answered
 * with `Connection: keep-alive` and the listener read the whole response (Node then detaches the
 * socket from the request, and `request.destroy()` no longer reaches it). The server here is a plain
 * TCP server that never closes a connection itself, so its `close()` completes only once the client
 * has let go of it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { WebSocket as WsWebSocket } from 'ws';
import { WebSocket } from '../../src/node/index.js';
import { listen, once, within } from '../helpers/node.js';

const RESPONSE = 'HTTP/1.1 401 Unauthorized\r\nConnection: keep-alive\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\ndenied';

interface Client {
  readonly readyState: number;
  on(event: string, listener: (...args: any[]) => void): unknown;
  once(event: string, listener: (...args: any[]) => void): unknown;
  off(event: string, listener: (...args: any[]) => void): unknown;
  close(): void;
  terminate(): void;
}

const LIBRARIES: ReadonlyArray<[name: string, connect: (url: string, options: { handshakeTimeout?: number }) => Client]> = [
  ['ws', (url, options) => new WsWebSocket(url, options) as unknown as Client],
  ['fullduplex', (url, options) => new WebSocket(url, options) as unknown as Client],
];

/**
 * A server that answers every request with a keep-alive 401 and keeps the connection open. `dispose()`
 * drops what is left (so that a failing test ends instead of keeping the process alive).
 */
async function keepAliveServer(): Promise<{ server: Server; url: string; open: () => number; dispose: () => void }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.on('data', () => socket.write(RESPONSE));
  });
  const port = await listen(server);
  const dispose = (): void => {
    for (const socket of sockets) socket.destroy();
    if (server.listening) server.close();
  };
  return { server, url: `ws://127.0.0.1:${port}/`, open: () => sockets.size, dispose };
}

/** Close the server; resolves once every connection is gone (fails the test if one stays). */
function serverClosed(server: Server): Promise<void> {
  return within(new Promise<void>((resolve) => server.close(() => resolve())), "the server's close() (a connection is still open)");
}

describe('client: close() or terminate() after unexpected-response releases the connection (differential with ws)', () => {
  for (const [name, connect] of LIBRARIES) {
    for (const end of ['close', 'terminate'] as const) {
      for (const read of [true, false]) {
        it(`${name}: ${end}() ${read ? 'after reading the whole keep-alive response' : 'without reading the response'}: error, close 1006, the server's close() completes`, async (t) => {
          const { server, url, open, dispose } = await keepAliveServer();
          const ws = connect(url, {});
          t.after(() => {
            ws.terminate();
            dispose();
          });
          const events: string[] = [];
          ws.on('error', (error: Error) => events.push(`error: ${error.message}`));
          ws.on('close', (code: number) => events.push(`close ${code}`));
          const [, response] = await once<[ClientRequest, IncomingMessage]>(ws, 'unexpected-response');
          assert.equal(response.statusCode, 401);
          if (read) {
            let body = '';
            for await (const chunk of response) body += String(chunk);
            assert.equal(body, 'denied');
          }
          assert.equal(ws.readyState, 0, 'still CONNECTING: the listener owns the response');
          assert.equal(open(), 1);
          const closed = once(ws, 'close');
          ws[end]();
          await closed;
          assert.deepEqual(events, ['error: WebSocket was closed before the connection was established', 'close 1006']);
          assert.equal(ws.readyState, 3);
          await serverClosed(server);
        });
      }
    }
  }

  it('fullduplex: the handshake timeout after an unexpected-response whose listener does nothing more also releases it', async (t) => {
    const { server, url, dispose } = await keepAliveServer();
    const ws = new WebSocket(url, { handshakeTimeout: 500 });
    t.after(() => {
      ws.terminate();
      dispose();
    });
    const events: string[] = [];
    ws.on('error', (error: Error) => events.push(`error: ${error.message}`));
    ws.on('close', (code: number) => events.push(`close ${code}`));
    const [, response] = await once<[ClientRequest, IncomingMessage]>(ws, 'unexpected-response');
    response.resume();
    await once(ws, 'close');
    assert.deepEqual(events, ['error: Opening handshake has timed out after 500 ms', 'close 1006']);
    await serverClosed(server);
  });
});
