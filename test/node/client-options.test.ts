/**
 * Client options and URL forms of `ws` that code moving over relies on, each run on `ws` and on
 * fullduplex in the same test: `ws+unix:` URLs (a server on a Unix domain socket) and `finishRequest`.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClientRequest } from 'node:http';
import { WebSocket as WsWebSocket, WebSocketServer as WsServer } from 'ws';
import { WebSocket } from '../../src/node/websocket.js';
import { once, portOf, within } from '../helpers/node.js';

const LIBRARIES = ['ws', 'fullduplex'] as const;
type Library = (typeof LIBRARIES)[number];

function client(library: Library, url: string, options: Record<string, unknown> = {}): WebSocket | WsWebSocket {
  return library === 'ws' ? new WsWebSocket(url, options) : new WebSocket(url, options);
}

/** Open, send one message, return the echo and what the server saw of the request. */
async function echoOnce(socket: WebSocket | WsWebSocket, requests: IncomingMessage[]): Promise<{ echo: string; url: string; host: boolean }> {
  socket.on('error', () => {});
  await once(socket, 'open');
  const reply = once<[Buffer]>(socket, 'message');
  socket.send('ping over the socket');
  const [data] = await reply;
  socket.close(1000);
  await once(socket, 'close');
  const request = requests.at(-1)!;
  // The Host value differs in form (ws: 'localhost:80', Node's default: 'localhost'); both send one.
  return { echo: String(data), url: request.url ?? '', host: (request.headers.host ?? '').startsWith('localhost') };
}

describe('ws+unix: URLs reach a server on a Unix domain socket, as in ws', () => {
  let directory: string;
  let socketPath: string;
  let http: Server;
  let wss: WsServer;
  const requests: IncomingMessage[] = [];
  before(async () => {
    directory = mkdtempSync(join(tmpdir(), 'fullduplex-ipc-'));
    socketPath = join(directory, 'server.sock');
    http = createServer();
    wss = new WsServer({ server: http });
    wss.on('connection', (socket, request) => {
      requests.push(request);
      socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
    });
    http.listen(socketPath);
    await once(http, 'listening');
  });
  after(async () => {
    for (const socket of wss.clients) socket.terminate();
    await new Promise<void>((resolve) => http.close(() => resolve()));
    rmSync(directory, { recursive: true, force: true });
  });

  it('the socket path before the first colon, the request path and query after it: both libraries agree', async () => {
    const results = [];
    for (const library of LIBRARIES) results.push(await echoOnce(client(library, `ws+unix:${socketPath}:/chat/room?id=7`), requests));
    assert.deepEqual(results[0], { echo: 'ping over the socket', url: '/chat/room?id=7', host: true });
    assert.deepEqual(results[1], results[0]);
  });

  it('without a request path the request is for /', async () => {
    const results = [];
    for (const library of LIBRARIES) results.push(await echoOnce(client(library, `ws+unix:${socketPath}`), requests));
    assert.equal(results[0]!.url, '/');
    assert.deepEqual(results[1], results[0]);
  });

  it('an empty pathname is a SyntaxError in both', () => {
    for (const library of LIBRARIES) assert.throws(() => client(library, 'ws+unix:'), SyntaxError, library);
  });

  it('a server on the network cannot redirect a fullduplex client onto a Unix socket', async () => {
    const redirector = createServer((_request, response) => {
      response.writeHead(302, { Location: `ws+unix:${socketPath}:/chat` }).end();
    });
    redirector.listen(0, '127.0.0.1');
    await once(redirector, 'listening');
    try {
      const before = requests.length;
      const socket = new WebSocket(`ws://127.0.0.1:${portOf(redirector)}/`, { followRedirects: true });
      const failed = once<[Error]>(socket, 'error');
      const closed = once<[number]>(socket, 'close');
      const [error] = await failed;
      assert.match(error.message, /Refusing a redirect from ws: to a Unix socket/);
      assert.equal((await closed)[0], 1006);
      assert.equal(requests.length, before, 'the Unix socket server got no request');
    } finally {
      redirector.close();
    }
  });
});

describe('finishRequest(request, websocket), as in ws', () => {
  let wss: WsServer;
  let redirector: Server;
  const requests: IncomingMessage[] = [];
  before(async () => {
    wss = new WsServer({ port: 0, host: '127.0.0.1' });
    wss.on('connection', (socket, request) => {
      requests.push(request);
      socket.on('message', (data) => socket.send(data));
    });
    await once(wss, 'listening');
    redirector = createServer((_request, response) => response.writeHead(302, { Location: `ws://127.0.0.1:${portOf(wss)}/final` }).end());
    redirector.listen(0, '127.0.0.1');
    await once(redirector, 'listening');
  });
  after(async () => {
    for (const socket of wss.clients) socket.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    redirector.close();
  });

  it('is called for the first request and each redirect, with the WebSocket, and sends the request when it ends it', async () => {
    const outcomes = [];
    for (const library of LIBRARIES) {
      const calls: string[] = [];
      const WebSocketClass = library === 'ws' ? WsWebSocket : WebSocket;
      const finishRequest = (request: ClientRequest, websocket: unknown): void => {
        calls.push(`${request.path} websocket=${websocket instanceof WebSocketClass}`);
        // A header that depends on the socket: what finishRequest is for.
        request.on('socket', () => {});
        request.setHeader('X-Finished-By', `finishRequest #${calls.length}`);
        request.end();
      };
      const socket = client(library, `ws://127.0.0.1:${portOf(redirector)}/start`, { finishRequest, followRedirects: true });
      const result = await echoOnce(socket, requests);
      outcomes.push({ calls, echo: result.echo, url: result.url, header: requests.at(-1)!.headers['x-finished-by'] });
    }
    assert.deepEqual(outcomes[0], { calls: ['/start websocket=true', '/final websocket=true'], echo: 'ping over the socket', url: '/final', header: 'finishRequest #2' });
    assert.deepEqual(outcomes[1], outcomes[0]);
  });

  it('a request that finishRequest never ends is not sent (the handshake times out)', async () => {
    for (const library of LIBRARIES) {
      const before = requests.length;
      const socket = client(library, `ws://127.0.0.1:${portOf(wss)}/`, { finishRequest: () => {}, handshakeTimeout: 200 });
      socket.on('error', () => {});
      const [code] = await within(once<[number]>(socket, 'close'), `${library}: close after the handshake timeout`);
      assert.equal(code, 1006, library);
      assert.equal(requests.length, before, `${library}: no request reached the server`);
    }
  });
});
