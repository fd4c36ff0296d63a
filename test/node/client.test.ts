import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ClientRequest } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocket } from '../../src/node/index.js';
import { HandshakeError } from '../../src/protocol/errors.js';
import { computeAcceptKey } from '../../src/protocol/handshake.js';
import { frame } from '../helpers/protocol.js';
import { nextEvent, scriptedServer, startServer, stopServer } from '../helpers/net.js';
import { scaled } from '../helpers/time.js';

/** Connect and collect the error and close events of a failing client. */
async function failure(url: string, options = {}, protocols: string[] = []): Promise<{ error: Error; code: number; ws: WebSocket }> {
  const ws = new WebSocket(url, protocols, options);
  const errored = nextEvent<[Error]>(ws, 'error', scaled(10_000));
  const closed = nextEvent<[number]>(ws, 'close', scaled(10_000));
  const [error] = await errored;
  const [code] = await closed;
  assert.equal(ws.readyState, WebSocket.CLOSED);
  return { error, code, ws };
}

/** A fake server that reads the handshake request and answers with `respond(key)`. */
async function fakeServer(respond: (key: string, socket: Socket) => void) {
  return scriptedServer((socket) => {
    let request = '';
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      request += chunk.toString('latin1');
      if (!request.includes('\r\n\r\n')) return;
      const key = /sec-websocket-key: (.*)\r\n/i.exec(request)?.[1] ?? '';
      respond(key, socket);
      request = '';
    });
  });
}

function switching(key: string, extra = ''): string {
  return `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${computeAcceptKey(key)}\r\n${extra}\r\n`;
}

describe('client: URLs and arguments', () => {
  it('throws SyntaxError for an invalid URL, another scheme, or a fragment', () => {
    assert.throws(() => new WebSocket('not a url'), SyntaxError);
    assert.throws(() => new WebSocket('ftp://example.com'), SyntaxError);
    assert.throws(() => new WebSocket('ws://example.com/#frag'), SyntaxError);
    assert.throws(() => new WebSocket('ws://127.0.0.1:1', ['a', 'a']), SyntaxError);
    assert.throws(() => new WebSocket('ws://127.0.0.1:1', ['no spaces']), SyntaxError);
  });

  it('maps http(s) URLs to ws(s)', async () => {
    const { wss, port } = await startServer();
    const ws = new WebSocket(`http://127.0.0.1:${port}/path?q=1`);
    assert.equal(ws.url, `ws://127.0.0.1:${port}/path?q=1`);
    await nextEvent(ws, 'open');
    ws.close();
    await nextEvent(ws, 'close');
    await stopServer(wss);
  });

  it('throws when sending while connecting; close while connecting fails the handshake', async () => {
    const { wss, url } = await startServer();
    const ws = new WebSocket(url);
    assert.throws(() => ws.send('early'), /CONNECTING/);
    const errored = nextEvent<[Error]>(ws, 'error');
    const closed = nextEvent<[number]>(ws, 'close');
    ws.close();
    assert.match((await errored)[0].message, /closed before the connection was established/);
    assert.equal((await closed)[0], 1006);
    await stopServer(wss);
  });
});

describe('client: every handshake failure is an error, then close 1006', () => {
  it('connection refused', async () => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const port = (probe.address() as AddressInfo).port;
    probe.close();
    const { error, code } = await failure(`ws://127.0.0.1:${port}`);
    assert.equal((error as NodeJS.ErrnoException).code, 'ECONNREFUSED');
    assert.equal(code, 1006);
  });

  it('a non-101 status, carrying the status', async () => {
    const { server, port } = await fakeServer((_key, socket) => socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n'));
    const { error, code } = await failure(`ws://127.0.0.1:${port}`);
    assert.ok(error instanceof HandshakeError);
    assert.equal(error.status, 403);
    assert.match(error.message, /Unexpected server response: 403/);
    assert.equal(code, 1006);
    server.close();
  });

  it('a non-101 status carries the response headers (lower-case names), Retry-After among them', async () => {
    const { server, port } = await fakeServer((_key, socket) =>
      socket.end('HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nX-Why: busy\r\nX-Why: later\r\nContent-Length: 0\r\n\r\n'),
    );
    const { error } = await failure(`ws://127.0.0.1:${port}`);
    assert.ok(error instanceof HandshakeError);
    assert.equal(error.status, 503);
    assert.equal(error.headers['retry-after'], '1');
    assert.equal(error.headers['x-why'], 'busy, later');
    assert.equal(error.headers['content-length'], '0');
    server.close();
  });

  it("'unexpected-response' listeners get the response instead", async () => {
    const { server, port } = await fakeServer((_key, socket) => socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 4\r\n\r\nnope'));
    const ws = new WebSocket(`ws://127.0.0.1:${port}`, { handshakeTimeout: scaled(2000) });
    const [request, response] = await nextEvent<[ClientRequest, IncomingMessage]>(ws, 'unexpected-response');
    assert.equal(response.statusCode, 401);
    let body = '';
    for await (const chunk of response) body += chunk;
    assert.equal(body, 'nope');
    const closed = nextEvent<[number]>(ws, 'close');
    request.destroy();
    ws.terminate();
    assert.equal((await closed)[0], 1006);
    server.close();
  });

  it('a wrong accept key', async () => {
    const { server, port } = await fakeServer((_key, socket) => socket.write(switching('AAAAAAAAAAAAAAAAAAAAAA==')));
    const { error } = await failure(`ws://127.0.0.1:${port}`);
    assert.ok(error instanceof HandshakeError);
    assert.equal(error.code, 'FD_ERR_HANDSHAKE_ACCEPT');
    server.close();
  });

  it('a subprotocol that was not offered', async () => {
    const { server, port } = await fakeServer((key, socket) => socket.write(switching(key, 'Sec-WebSocket-Protocol: other\r\n')));
    const { error } = await failure(`ws://127.0.0.1:${port}`, {}, ['chat']);
    assert.equal((error as HandshakeError).code, 'FD_ERR_HANDSHAKE_PROTOCOL');
    server.close();
  });

  it('an extension that was not offered', async () => {
    const { server, port } = await fakeServer((key, socket) => socket.write(switching(key, 'Sec-WebSocket-Extensions: permessage-deflate\r\n')));
    const { error } = await failure(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
    assert.equal((error as HandshakeError).code, 'FD_ERR_HANDSHAKE_EXTENSIONS');
    const other = await fakeServer((key, socket) => socket.write(switching(key, 'Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n')));
    const second = await failure(`ws://127.0.0.1:${other.port}`);
    assert.equal((second.error as HandshakeError).code, 'FD_ERR_HANDSHAKE_EXTENSIONS');
    server.close();
    other.server.close();
  });

  it('a permessage-deflate response the client cannot honour', async () => {
    const { server, port } = await fakeServer((key, socket) =>
      socket.write(switching(key, 'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=12\r\n')),
    );
    const { error, code } = await failure(`ws://127.0.0.1:${port}`, { perMessageDeflate: { clientMaxWindowBits: 10 } });
    assert.equal((error as HandshakeError).code, 'FD_ERR_HANDSHAKE_EXTENSIONS');
    assert.match(error.message, /larger than the 10 we offered/);
    assert.equal(code, 1006);
    server.close();
  });

  it('a server that never answers: handshakeTimeout', async () => {
    const { server, port } = await fakeServer(() => {});
    const { error, code } = await failure(`ws://127.0.0.1:${port}`, { handshakeTimeout: 100 });
    assert.match(error.message, /timed out/);
    assert.equal(code, 1006);
    server.close();
  });

  it('a server that sends masked frames: 1002', async () => {
    const { server, port } = await fakeServer((key, socket) => socket.write(Buffer.concat([Buffer.from(switching(key)), frame(1, 'masked!')])));
    const { error, code } = await failure(`ws://127.0.0.1:${port}`);
    assert.match(error.message, /masked/);
    assert.equal(code, 1002);
    server.close();
  });

  it('messages that arrive together with the 101 response are delivered after open', async () => {
    const { server, port } = await fakeServer((key, socket) =>
      socket.write(Buffer.concat([Buffer.from(switching(key)), frame(1, 'early bird', { mask: null })])),
    );
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    const events: string[] = [];
    ws.on('open', () => events.push('open'));
    ws.on('message', (data) => events.push(`message:${String(data)}`));
    await nextEvent(ws, 'message');
    assert.deepEqual(events, ['open', 'message:early bird']);
    ws.terminate();
    server.close();
  });
});

describe('client: redirects', () => {
  it('follows redirects when asked (and updates url), refuses them otherwise', async () => {
    const { wss, port: target } = await startServer();
    const redirector = createServer((req, res) => {
      const hops = Number(req.url?.slice(1) || '0');
      res.writeHead(302, { Location: hops > 0 ? `/${hops - 1}` : `ws://127.0.0.1:${target}/final` });
      res.end();
    });
    redirector.listen(0, '127.0.0.1');
    await once(redirector, 'listening');
    const port = (redirector.address() as AddressInfo).port;

    const ws = new WebSocket(`ws://127.0.0.1:${port}/2`, { followRedirects: true });
    const redirects: string[] = [];
    ws.on('redirect', (url) => redirects.push(url));
    await nextEvent(ws, 'open');
    assert.equal(ws.url, `ws://127.0.0.1:${target}/final`);
    assert.equal(redirects.length, 3);
    ws.close();
    await nextEvent(ws, 'close');

    const refused = await failure(`ws://127.0.0.1:${port}/0`);
    assert.equal((refused.error as HandshakeError).status, 302);
    const tooMany = await failure(`ws://127.0.0.1:${port}/5`, { followRedirects: true, maxRedirects: 2 });
    assert.match(tooMany.error.message, /Maximum redirects/);

    redirector.close();
    await stopServer(wss);
  });
});
