/**
 * `import WebSocket from 'fullduplex'` works as `import WebSocket from 'ws'` (whose ES module's default
 * export is its `WebSocket` class): the same client program runs on both. Ours also carries the server
 * and the stream helper as statics, as `require('ws')` does, so code converted from CommonJS keeps working.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import WsDefault, { WebSocketServer as WsServer } from 'ws';
import FullduplexDefault, { WebSocket, WebSocketServer, createWebSocketStream } from '../../src/index.js';
import { once, portOf } from '../helpers/node.js';

interface ClientLike {
  readonly readyState: number;
  send(data: string): void;
  close(): void;
  once(event: string, listener: (...args: never[]) => void): unknown;
  off(event: string, listener: (...args: never[]) => void): unknown;
}
type DefaultExport = { new (url: string): ClientLike; readonly CLOSED: number };

/** A client program that only uses the default export, against a ws echo server. */
async function program(WebSocketDefault: DefaultExport): Promise<string> {
  const server = new WsServer({ port: 0, host: '127.0.0.1' });
  await once(server, 'listening');
  server.on('connection', (socket) => socket.on('message', (data) => socket.send(`echo: ${String(data)}`)));
  try {
    const client = new WebSocketDefault(`ws://127.0.0.1:${portOf(server)}/`);
    await once(client, 'open');
    const reply = once<[Buffer]>(client, 'message');
    client.send('hello');
    const [data] = await reply;
    client.close();
    await once(client, 'close');
    return `${String(data)} closed=${client.readyState === WebSocketDefault.CLOSED}`;
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

describe('the default export, as ws has it', () => {
  it('runs the same client program on ws and on fullduplex', async () => {
    const results = [await program(WsDefault as unknown as DefaultExport), await program(FullduplexDefault as unknown as DefaultExport)];
    assert.deepEqual(results, ['echo: hello closed=true', 'echo: hello closed=true']);
  });

  it('is the WebSocket class itself, with the server and createWebSocketStream on it (as require("ws") has them)', () => {
    assert.equal(FullduplexDefault, WebSocket);
    assert.equal(FullduplexDefault.Server, WebSocketServer);
    assert.equal(FullduplexDefault.WebSocketServer, WebSocketServer);
    assert.equal(FullduplexDefault.WebSocket, WebSocket);
    assert.equal(FullduplexDefault.createWebSocketStream, createWebSocketStream);
  });
});
